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
from .errors import SieveBudgetExceeded, SieveRuntimeError
from .host import Budget, Environment, Policy
from .message import MessageFacts

__all__ = [
    "Block",
    "Context",
    "MatchRef",
    "Meter",
    "Op",
    "Program",
    "ReturnScript",
    "StopScript",
    "Template",
    "Value",
    "VarRef",
    "run_block",
    "truncate_utf8",
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


#: Steps between two looks at the CPU clock.
_CLOCK_EVERY = 64
_UNLIMITED = 1 << 62


class Meter:
    """What the evaluations of one message have spent of their :class:`~host.Budget`: a step counter and a
    CPU deadline looked at every ``_CLOCK_EVERY`` steps. Scripts have no loops, so the steps of one run are
    bounded by its size, but includes multiply them (RFC 6609) and one test can scan a large body.

    The hot path is :meth:`tick`: ``left`` counts down the current stretch of steps, and only its end looks at
    the clock and the total (:meth:`over`).
    """

    __slots__ = ("budget", "clock", "deadline", "left", "spent", "stretch")

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.clock = budget.clock
        self.deadline = self.clock() + budget.cpu_seconds if budget.cpu_seconds else 0.0
        self.spent = 0
        self.stretch = self.left = self._next_stretch()

    @property
    def steps(self) -> int:
        """Steps taken so far."""
        return self.spent + self.stretch - self.left

    def _next_stretch(self) -> int:
        room = self.budget.steps - self.spent + 1 if self.budget.steps else _UNLIMITED
        return max(min(room, _CLOCK_EVERY if self.deadline else _UNLIMITED), 1)

    def tick(self, steps: int = 1) -> None:
        """Count ``steps``; raise :class:`SieveBudgetExceeded` past the step or CPU budget."""
        self.left -= steps
        if self.left <= 0:
            self.over()

    def over(self) -> None:
        """The end of a stretch: check the totals, start the next one."""
        self.spent = self.steps
        if self.budget.steps and self.spent > self.budget.steps:
            raise SieveBudgetExceeded(f"evaluation exceeded {self.budget.steps} steps")
        if self.deadline and self.clock() > self.deadline:
            raise SieveBudgetExceeded(f"evaluation exceeded {self.budget.cpu_seconds:g} s of CPU")
        self.stretch = self.left = self._next_stretch()


class Context:
    """Everything one evaluation reads and writes; the compiled operations receive it."""

    __slots__ = (
        "env",
        "flags",
        "globals",
        "included",
        "match_vars",
        "meter",
        "msg",
        "policy",
        "result",
        "vars",
    )

    def __init__(
        self, msg: MessageFacts, env: Environment, policy: Policy, meter: Meter | None = None
    ) -> None:
        self.meter = meter if meter is not None else Meter(env.budget)
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
        """Substitute variables into a template (RFC 5229 §3); unknown ones are empty.

        Raises:
            SieveRuntimeError: the result would be over ``max_string_size`` characters longer than its longest
                part (a match variable holds a whole header, the variables are bounded).
        """
        if isinstance(template, str):
            return template
        assert isinstance(template, Template)
        self.meter.tick()
        out: list[str] = []
        size = longest = 0
        for part in template.parts:
            if isinstance(part, str):
                text = part
            elif isinstance(part, VarRef):
                text = (self.globals if part.is_global else self.vars).get(part.name, "")
            else:
                mv = self.match_vars
                text = mv[part.index] if part.index < len(mv) else ""
            out.append(text)
            size, longest = size + len(text), max(longest, len(text))
        if size - longest > self.policy.max_string_size:
            raise SieveRuntimeError(f"string expansion too long ({size} characters)")
        return "".join(out)

    def assign(self, name: str, value: str, is_global: bool = False) -> None:
        """Set a variable, its value cut to ``max_variable_size`` octets as Pigeonhole does (RFC 5229 §4)."""
        (self.globals if is_global else self.vars)[name] = truncate_utf8(value, self.policy.max_variable_size)

    def expand_list(self, values: tuple[Value, ...]) -> list[str]:
        """Expand every string of a string list."""
        return [v if isinstance(v, str) else self.expand(v) for v in values]


Op = Callable[[Context], None]
Block = tuple[Op, ...]


def run_block(ctx: Context, block: Block) -> None:
    """Execute the operations of a block in order."""
    for op in block:
        op(ctx)


def truncate_utf8(value: str, limit: int) -> str:
    """``value`` cut to at most ``limit`` octets of UTF-8, as Pigeonhole's ``str_truncate_utf8`` cuts it: when
    the cut falls before a multi-octet character, the character before the cut goes too (0: no limit)."""
    if not limit or len(value) * 4 <= limit:
        return value
    data = value.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return value
    size = limit
    if data[size] & 0x80:
        while size > 0 and data[size - 1] & 0xC0 == 0x80:
            size -= 1
        if size > 0 and data[size - 1] & 0xC0 == 0xC0:
            size -= 1
    return data[:size].decode("utf-8", "surrogatepass")


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
