# SPDX-License-Identifier: GPL-3.0-or-later
"""The Sieve module, installed as ``groupware.sieve``: parse, compile and evaluate mail rules.

It imports nothing else of groupware: what it cannot know it asks its host through the protocols in ``host``.
"""

if __name__ != "groupware.sieve":  # pragma: no cover - guard against a top-level ``sieve`` import
    raise ImportError(f"this package must be imported as groupware.sieve, not {__name__!r}")
