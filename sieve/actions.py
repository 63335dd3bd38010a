# SPDX-License-Identifier: GPL-3.0-or-later
"""The actions an evaluation returns, as frozen dataclasses, and their one-line text form.

One dataclass per action of RFC 5228 §4 (keep, fileinto, redirect, discard) and of the extensions (RFC 5429
reject/ereject, RFC 5230 and RFC 6131 vacation, RFC 5435 notify, RFC 5293 addheader/deleteheader), plus the
implicit keep (RFC 5228 §2.10.2) and the run-time failure that replaces every action (§2.10.6). Delivery
executes them; nothing here does I/O. The text form (:func:`describe`) is the one ``groupware sieve test``
prints and the conformance suite compares with Pigeonhole's ``sieve-test``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Action",
    "AddHeader",
    "DeleteHeader",
    "Discard",
    "FileInto",
    "ImplicitKeep",
    "Keep",
    "Notify",
    "Redirect",
    "Reject",
    "RuntimeFailure",
    "Vacation",
    "describe",
    "quote",
]


@dataclass(frozen=True, slots=True)
class Keep:
    """Store into the user's INBOX (RFC 5228 §4.3), with IMAP flags (RFC 5232 §5)."""

    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImplicitKeep:
    """The implicit keep that remains once the script is done (RFC 5228 §2.10.2)."""

    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FileInto:
    """Store into a mailbox (RFC 5228 §4.1; ``:copy`` RFC 3894, ``:create`` RFC 5490, ``:flags`` RFC 5232)."""

    mailbox: str
    copy: bool = False
    create: bool = False
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Redirect:
    """Forward to another address (RFC 5228 §4.2; ``:copy`` RFC 3894)."""

    address: str
    copy: bool = False


@dataclass(frozen=True, slots=True)
class Discard:
    """Cancel the implicit keep silently (RFC 5228 §4.4)."""


@dataclass(frozen=True, slots=True)
class Reject:
    """Refuse the message with a reason (RFC 5429 §2.2); ``extended`` for ``ereject``."""

    reason: str
    extended: bool = False


@dataclass(frozen=True, slots=True)
class Vacation:
    """An auto-reply to build and, if the suppression rules allow, send (RFC 5230 §4, RFC 6131)."""

    reason: str
    subject: str
    seconds: int
    handle: str
    from_addr: str | None = None
    addresses: tuple[str, ...] = ()
    mime: bool = False
    explicit_subject: bool = False


@dataclass(frozen=True, slots=True)
class Notify:
    """A notification (RFC 5435 §3), method ``mailto:`` (RFC 5436)."""

    method: str
    from_addr: str | None = None
    importance: str = "2"
    options: tuple[str, ...] = ()
    message: str | None = None


@dataclass(frozen=True, slots=True)
class AddHeader:
    """Add a header field to the delivered message (RFC 5293 §4)."""

    name: str
    value: str
    last: bool = False


@dataclass(frozen=True, slots=True)
class DeleteHeader:
    """Header fields removed from the delivered message (RFC 5293 §5), by name and 1-based occurrence."""

    name: str
    occurrences: tuple[int, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class RuntimeFailure:
    """Evaluation failed: every action is dropped and the implicit keep applies (RFC 5228 §2.10.6)."""

    message: str


Action = (
    Keep
    | ImplicitKeep
    | FileInto
    | Redirect
    | Discard
    | Reject
    | Vacation
    | Notify
    | AddHeader
    | DeleteHeader
    | RuntimeFailure
)


def quote(text: str) -> str:
    """A double-quoted string with ``\\ \" \\n \\r \\t`` escaped."""
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


_SYSTEM_FLAGS = ("\\answered", "\\flagged", "\\deleted", "\\seen", "\\draft")


def _flags(flags: tuple[str, ...]) -> str:
    """Flags lower-cased, system flags first in IMAP order then keywords, as Pigeonhole lists them."""
    if not flags:
        return ""
    lowered = [f.lower() for f in flags]
    ordered = [f for f in _SYSTEM_FLAGS if f in lowered] + [f for f in lowered if f not in _SYSTEM_FLAGS]
    return f" :flags {quote(' '.join(ordered))}"


def describe(action: Action) -> str | None:
    """The one-line text form of an action, or None for actions ``sieve-test`` does not list (editheader)."""
    match action:
        case Keep(flags):
            return "keep" + _flags(flags)
        case ImplicitKeep(flags):
            return "implicit_keep" + _flags(flags)
        case FileInto(mailbox, copy, create, flags):
            options = (" :copy" if copy else "") + (" :create" if create else "")
            return f"fileinto {quote(mailbox)}{options}{_flags(flags)}"
        case Redirect(address, copy):
            return f"redirect {quote(address)}{' :copy' if copy else ''}"
        case Discard():
            return "discard"
        case Reject(reason, extended):
            return f"{'ereject' if extended else 'reject'} {quote(reason)}"
        case Vacation():
            sender = f" :from {quote(action.from_addr)}" if action.from_addr is not None else ""
            return (
                f"vacation :seconds {action.seconds} :subject {quote(action.subject)}{sender} :reason "
                f"{quote(action.reason)}"
            )
        case Notify():
            return _describe_notify(action)
        case RuntimeFailure(message):
            return f"error runtime {quote(message)}"
    return None


def _describe_notify(action: Notify) -> str:
    parts = [f"notify {quote(action.method)}", f":importance {quote(action.importance)}"]
    if action.from_addr is not None:
        parts.append(f":from {quote(action.from_addr)}")
    if action.message is not None:
        parts.append(f":message {quote(action.message)}")
    return " ".join(parts)
