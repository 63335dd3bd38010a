# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a compiled :class:`~compile.Program` against one message: pure, no I/O, returns actions.

The result follows RFC 5228 §2.10 (implicit keep, cancelled by any action but those with ``:copy``, RFC 3894)
and merges actions the way Pigeonhole does, so that our action lists compare equal to ``sieve-test``'s: stores
into one mailbox become one (the last ``:flags`` win), a redirect to an address already redirected to is
dropped, ``reject`` conflicts with any delivery (RFC 5429 §2.2), and a second ``vacation`` is an error (RFC
5230 §4.7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import actions as A
from .errors import SieveRuntimeError
from .host import Environment, Policy
from .message import MessageFacts

if TYPE_CHECKING:
    from .compile import Program

__all__ = ["Block", "Context", "Result", "ReturnScript", "StopScript", "Template", "evaluate"]


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
Op = Callable[["Context"], None]
Block = tuple[Op, ...]


def _norm_mailbox(name: str) -> str:
    return name


@dataclass(slots=True)
class _Store:
    mailbox: str
    copy: bool
    create: bool
    flags: tuple[str, ...]


@dataclass(slots=True)
class Result:
    """Actions gathered so far, merged as Pigeonhole merges them."""

    policy: Policy
    items: list[object] = field(default_factory=list)
    implicit_keep: bool = True
    redirects: set[str] = field(default_factory=set)
    has_vacation: bool = False
    rejected: bool = False
    delivers: bool = False
    count: int = 0

    def _added(self) -> None:
        self.count += 1
        if self.count > self.policy.max_actions:
            raise SieveRuntimeError(
                f"total number of actions exceeds policy limit ({self.count} > {self.policy.max_actions})"
            )

    def store(self, mailbox: str, copy: bool, create: bool, flags: tuple[str, ...]) -> None:
        """``keep`` and ``fileinto`` (RFC 5228 §4.1, §4.3)."""
        if self.rejected:
            raise SieveRuntimeError("store action conflicts with reject")
        mailbox = _norm_mailbox(mailbox)
        self.delivers = True
        for item in self.items:
            if isinstance(item, _Store) and item.mailbox == mailbox:
                item.flags = flags
                item.create = item.create or create
                return
        if not copy:
            self.implicit_keep = False
        self._added()
        self.items.append(_Store(mailbox, copy, create, flags))

    def redirect(self, address: str, copy: bool) -> None:
        """``redirect`` (RFC 5228 §4.2), at most ``max_redirects`` distinct addresses."""
        if self.rejected:
            raise SieveRuntimeError("redirect action conflicts with reject")
        self.delivers = True
        at = address.rfind("@")
        key = address[:at] + address[at:].lower()
        if key in self.redirects:
            return
        if not copy:
            self.implicit_keep = False
        self.redirects.add(key)
        if len(self.redirects) > self.policy.max_redirects:
            n, limit = len(self.redirects), self.policy.max_redirects
            raise SieveRuntimeError(f"number of redirect actions exceeds policy limit ({n} > {limit})")
        self._added()
        self.items.append(A.Redirect(address, copy))

    def add(self, action: object) -> None:
        """Any other action: discard, reject, vacation, notify, editheader."""
        if isinstance(action, A.Discard):
            self.implicit_keep = False
            if any(isinstance(i, A.Discard) for i in self.items):
                return
        elif isinstance(action, A.Reject):
            if self.delivers or self.rejected or self.has_vacation:
                raise SieveRuntimeError("reject/ereject action conflicts with other action")
            self.rejected = True
            self.implicit_keep = False
        elif isinstance(action, A.Vacation):
            if self.has_vacation:
                raise SieveRuntimeError("duplicate vacation action not allowed")
            if self.rejected:
                raise SieveRuntimeError("vacation action conflicts with reject (RFC 5230 §4.7)")
            self.has_vacation = True
        elif isinstance(action, A.Notify) and action in self.items:
            return
        if not isinstance(action, (A.AddHeader, A.DeleteHeader)):
            self._added()
        self.items.append(action)

    def actions(self, flags: tuple[str, ...]) -> list[A.Action]:
        """The final list: actions in order, then the implicit keep if it still applies."""
        out: list[A.Action] = []
        for item in self.items:
            if isinstance(item, _Store):
                if item.mailbox == "INBOX":
                    out.append(A.Keep(item.flags))
                else:
                    out.append(A.FileInto(item.mailbox, item.copy, item.create, item.flags))
            else:
                out.append(item)  # type: ignore[arg-type]
        if self.implicit_keep:
            out.append(A.ImplicitKeep(flags))
        return out


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


def run_block(ctx: Context, block: Block) -> None:
    """Execute the operations of a block in order."""
    for op in block:
        op(ctx)


def evaluate(
    program: Program,
    message: MessageFacts | bytes,
    env: Environment | None = None,
) -> list[A.Action]:
    """Evaluate a compiled program on a message and return its actions (RFC 5228 §2.10).

    A run-time error drops every action and returns ``[RuntimeFailure, ImplicitKeep]`` (RFC 5228 §2.10.6).
    """
    if not isinstance(message, MessageFacts):
        msg = MessageFacts(message)
    elif "editheader" in program.required:
        msg = MessageFacts(message.raw, message.message)  # edits must not leak to the caller's facts
    else:
        msg = message
    ctx = Context(msg, env if env is not None else Environment(), program.policy)
    try:
        run_block(ctx, program.block)
    except (StopScript, ReturnScript):
        pass
    except SieveRuntimeError as exc:
        return [A.RuntimeFailure(str(exc)), A.ImplicitKeep()]
    return ctx.result.actions(tuple(ctx.flags))
