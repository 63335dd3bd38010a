# SPDX-License-Identifier: GPL-3.0-or-later
"""Thin Radicale adapters, installed as ``groupware.plugins``.

Radicale loads them by dotted name from the configuration (``[auth] type = groupware.plugins.auth``).
"""

if __name__ != "groupware.plugins":  # pragma: no cover - guard against a top-level ``plugins`` import
    raise ImportError(f"this package must be imported as groupware.plugins, not {__name__!r}")
