# SPDX-License-Identifier: GPL-3.0-or-later
"""groupware: shared agendas, academic address books and mail rules from an académie's directory."""

__version__ = "0.1.0"
__all__ = ["__version__"]
