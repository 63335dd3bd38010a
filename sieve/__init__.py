# SPDX-License-Identifier: GPL-3.0-or-later
"""The Sieve module, installed as ``groupware.sieve``: parse, compile and evaluate mail rules; store them in
Dovecot's layout (:mod:`scripts`) and serve them over ManageSieve (:mod:`managesieve`).

It imports nothing else of groupware: what it cannot know it asks its host through the protocols in ``host``.
The language is RFC 5228 (base) with the extensions listed in ``grammar.KNOWN_EXTENSIONS``, each module citing
the RFC sections it implements.
"""

if __name__ != "groupware.sieve":  # pragma: no cover - guard against a top-level ``sieve`` import
    raise ImportError(f"this package must be imported as groupware.sieve, not {__name__!r}")

from .actions import (
    Action,
    AddHeader,
    DeleteHeader,
    Discard,
    FileInto,
    ImplicitKeep,
    Keep,
    Notify,
    Redirect,
    Reject,
    RuntimeFailure,
    Vacation,
    describe,
)
from .checks import check_script
from .compile import Program, compile_script
from .errors import Diagnostic, SieveCompileError, SieveError, SieveRuntimeError, SieveSyntaxError
from .evaluate import evaluate
from .host import Environment, Policy, ReplyTracker, ScriptLocator
from .message import MessageFacts
from .parse import parse
from .scripts import Quotas, ScriptError, ScriptStore

__all__ = [
    "Action",
    "AddHeader",
    "DeleteHeader",
    "Diagnostic",
    "Discard",
    "Environment",
    "FileInto",
    "ImplicitKeep",
    "Keep",
    "MessageFacts",
    "Notify",
    "Policy",
    "Program",
    "Quotas",
    "Redirect",
    "Reject",
    "ReplyTracker",
    "RuntimeFailure",
    "ScriptError",
    "ScriptLocator",
    "ScriptStore",
    "SieveCompileError",
    "SieveError",
    "SieveRuntimeError",
    "SieveSyntaxError",
    "Vacation",
    "check_script",
    "compile_script",
    "describe",
    "evaluate",
    "parse",
]
