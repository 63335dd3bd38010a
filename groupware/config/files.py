# SPDX-License-Identifier: GPL-3.0-or-later
"""The files of ``config/`` installed with the package (``groupware.data``)."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

__all__ = ["DATA", "DEMO_CONFIG", "DIRECTORY_PRESETS"]

#: The files of ``config/`` (the demo, its directory, the commented example), installed as ``groupware.data``.
DATA = Path(str(importlib.resources.files("groupware.data")))
DEMO_CONFIG = DATA / "demo.conf"
#: The attribute mappings that ``[directory] preset`` names (one section each), as written in a file.
DIRECTORY_PRESETS = DATA / "directory-presets.conf"
