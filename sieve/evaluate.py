# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a compiled :class:`~program.Program` against one message: pure, no I/O, returns actions.

The result follows RFC 5228 §2.10 (implicit keep, cancelled by any action but those with ``:copy``, RFC 3894)
and :class:`~actions.Result` merges actions the way Pigeonhole does, so that our action lists compare equal to
``sieve-test``'s: stores into one mailbox become one (the last ``:flags`` win), a redirect to an address
already redirected to is dropped, ``reject`` conflicts with any delivery (RFC 5429 §2.2), and a second
``vacation`` is an error (RFC 5230 §4.7).
"""

from __future__ import annotations

from . import actions as A
from .actions import Result
from .errors import SieveBudgetExceeded, SieveRuntimeError
from .host import Environment
from .message import MessageFacts
from .program import (
    Block,
    Context,
    MatchRef,
    Meter,
    Program,
    ReturnScript,
    StopScript,
    Template,
    Value,
    VarRef,
    run_block,
)

__all__ = [
    "Block",
    "Context",
    "MatchRef",
    "Meter",
    "Result",
    "ReturnScript",
    "StopScript",
    "Template",
    "Value",
    "VarRef",
    "evaluate",
    "run_block",
]


def evaluate(
    program: Program,
    message: MessageFacts | bytes,
    env: Environment | None = None,
    meter: Meter | None = None,
) -> list[A.Action]:
    """Evaluate a compiled program on a message and return its actions (RFC 5228 §2.10).

    A run-time error drops every action and returns ``[RuntimeFailure, ImplicitKeep]`` (RFC 5228 §2.10.6);
    so does an evaluation over its budget (``env.budget``, or what is left of ``meter`` when several scripts
    share one): the message is kept.
    """
    if not isinstance(message, MessageFacts):
        msg = MessageFacts(message)
    elif "editheader" in program.required:
        msg = MessageFacts(message.raw, message.message)  # edits must not leak to the caller's facts
    else:
        msg = message
    ctx = Context(msg, env if env is not None else Environment(), program.policy, meter)
    try:
        run_block(ctx, program.block)
    except (StopScript, ReturnScript):
        pass
    except SieveBudgetExceeded as exc:
        return [A.RuntimeFailure(str(exc), over_budget=True), A.ImplicitKeep()]
    except SieveRuntimeError as exc:
        return [A.RuntimeFailure(str(exc)), A.ImplicitKeep()]
    return ctx.result.actions(tuple(ctx.flags))
