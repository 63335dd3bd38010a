# SPDX-License-Identifier: GPL-3.0-or-later
"""Typed errors of the Sieve engine.

Every compile-time problem is a :class:`Diagnostic` with a line and a column (RFC 5228 §2.10.6 asks that an
invalid script be rejected as a whole); run-time problems (RFC 5228 §2.10.6, §4.2 limits) are
:class:`SieveRuntimeError`.
"""

from __future__ import annotations

from dataclasses import dataclass


class SieveError(Exception):
    """Base class of every error raised by ``groupware.sieve``."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One compile-time error, located in the script (1-based line and column)."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.message}"


class SieveCompileError(SieveError):
    """The script is not valid: syntax, unknown command, missing ``require``, policy limit."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.line, d.column))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class SieveSyntaxError(SieveCompileError):
    """The script is not well formed (RFC 5228 §8 grammar)."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__([Diagnostic(line, column, message)])


class SieveRuntimeError(SieveError):
    """Evaluation failed; the host falls back to the implicit keep (RFC 5228 §2.10.6)."""


class SieveBudgetExceeded(SieveRuntimeError):
    """Evaluation spent its budget of steps or CPU time; the host keeps the message (RFC 5228 §2.10.6)."""
