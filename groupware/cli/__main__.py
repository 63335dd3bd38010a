# SPDX-License-Identifier: GPL-3.0-or-later
"""``python -m groupware.cli``: the ``groupware`` command."""

import sys

from groupware.cli import main

sys.exit(main())
