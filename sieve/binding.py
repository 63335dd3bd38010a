# SPDX-License-Identifier: GPL-3.0-or-later
"""What the command and test builders see of the compiler: a command or test bound to its signature
(:class:`Bound`, RFC 5228 §2.6–§2.7 arguments matched to :mod:`grammar`) and the compiler's interface
(:class:`Builder`).

:mod:`commands` and :mod:`testops` build operations through this protocol, so they never import
:mod:`compile`, which imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .host import Policy, ScriptLocator
from .parse import Argument, Command, Tag, Test
from .program import Block, Context, Program, Value

__all__ = ["Bound", "Builder", "TestFn"]

TestFn = Callable[[Context], bool]


@dataclass(slots=True)
class Bound:
    """A command or test with its arguments matched to its signature."""

    node: Command | Test
    tags: dict[str, Argument | None] = field(default_factory=dict)
    tag_nodes: dict[str, Tag] = field(default_factory=dict)
    pos: list[Argument | None] = field(default_factory=list)


class Builder(Protocol):
    """The compiler, as the builders of operations use it (implemented by :class:`compile.Compiler`)."""

    policy: Policy
    locator: ScriptLocator | None
    depth: int
    required: set[str]
    globals: set[str]
    variables: set[str]
    #: Scripts of the include tree, compiled once: a program, None (not found) or the compile error's text.
    includes: dict[tuple[str, str], Program | str | None]

    def error(self, node: Command | Test | Argument, message: str) -> None:
        """Record a diagnostic at a node."""

    def note(self, kind: str, node: Command | Test | Argument, value: str | None) -> None:
        """Remember a literal fact for the checks made after compiling."""

    def has(self, ext: str) -> bool:
        """Whether the script required ``ext`` (RFC 5228 §3.2)."""

    def string(self, arg: Argument | None) -> Value:
        """The value of a single-string argument."""

    def strings(self, arg: Argument | None) -> tuple[Value, ...]:
        """The values of a string-list argument."""

    def number(self, arg: Argument | None) -> int:
        """The value of a number argument."""

    def test(self, node: Test, depth: int) -> TestFn:
        """Compile a test into a predicate (RFC 5228 §5)."""

    def block(self, nodes: list[Command], depth: int, top: bool = False) -> Block:
        """Compile a block (RFC 5228 §2.9)."""

    def include(self, text: str) -> Program:
        """Compile an included script one level deeper (RFC 6609 §3.2); raises SieveCompileError."""
