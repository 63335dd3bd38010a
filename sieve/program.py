# SPDX-License-Identifier: GPL-3.0-or-later
"""The compiled form of a script: :class:`Program`, its operations and the context they run in.

A program is a tree of closures (:data:`Op`) built once by :mod:`compile` and run many times by
:mod:`evaluate`; values that hold variable references are :class:`Template` objects expanded at run time (RFC
5229 §3). ``stop`` (RFC 5228 §3.3) and ``return`` (RFC 6609 §3.4) unwind as exceptions. This module is the
meeting point of the compiler and the evaluator, so neither has to import the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .actions import Result
from .host import Environment, Policy
from .message import MessageFacts

__all__ = [
    "Block",
    "Context",
    "MatchRef",
    "Op",
    "Program",
    "ReturnScript",
    "StopScript",
    "Template",
    "Value",
    "VarRef",
    "run_block",
]


class StopScript(Exception):
    """``stop`` (RFC 5228 §3.3): end the whole evaluation."""


class ReturnScript(Exception):
    """``return`` (RFC 6609 §3.4): end the current (included) script."""


@dataclass(frozen=True, slots=True)
class VarRef:
    """``${name}`` (RFC 5229 §3); ``is_global`` for names shared with ``global`` (RFC 6609 §3.3)."""

    name: str
    is_global: bool = False


@dataclass(frozen=True, slots=True)
class MatchRef:
    """``${N}``, a match variable (RFC 5229 §3.2)."""

    index: int


@dataclass(frozen=True, slots=True)
class Template:
    """A string holding variable references, expanded at evaluation time (RFC 5229 §3)."""

    parts: tuple[str | VarRef | MatchRef, ...]


Value = str | Template


class Context:
    """Everything one evaluation reads and writes; the compiled operations receive it."""

    __slots__ = ("env", "flags", "globals", "included", "match_vars", "msg", "policy", "result", "vars")

    def __init__(self, msg: MessageFacts, env: Environment, policy: Policy) -> None:
        self.msg = msg
        self.env = env
        self.policy = policy
        self.vars: dict[str, str] = {}
        self.globals: dict[str, str] = {}
        self.match_vars: list[str] = []
        self.flags: list[str] = []
        self.result = Result(policy)
        self.included: set[str] = set()

    def expand(self, template: object) -> str:
        """Substitute variables into a template (RFC 5229 §3); unknown ones are empty."""
        if isinstance(template, str):
            return template
        assert isinstance(template, Template)
        out: list[str] = []
        for part in template.parts:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, VarRef):
                out.append((self.globals if part.is_global else self.vars).get(part.name, ""))
            else:
                mv = self.match_vars
                out.append(mv[part.index] if part.index < len(mv) else "")
        return "".join(out)

    def expand_list(self, values: tuple[Value, ...]) -> list[str]:
        """Expand every string of a string list."""
        return [v if isinstance(v, str) else self.expand(v) for v in values]


Op = Callable[[Context], None]
Block = tuple[Op, ...]


def run_block(ctx: Context, block: Block) -> None:
    """Execute the operations of a block in order."""
    for op in block:
        op(ctx)


@dataclass(slots=True)
class Program:
    """A compiled script: the extensions it requires, the policy it was checked against, its operations."""

    block: Block
    required: frozenset[str]
    policy: Policy
    source_size: int = 0
    #: Literal facts noted while compiling, for checks made after it: ``(kind, line, column, value)`` with the
    #: kinds ``redirect`` (the address, or None when computed) and ``vacation-seconds``.
    notes: tuple[tuple[str, int, int, str | None], ...] = ()
