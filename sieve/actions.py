# SPDX-License-Identifier: GPL-3.0-or-later
"""The actions an evaluation returns, as frozen dataclasses, and their one-line text form.

One dataclass per action of RFC 5228 §4 (keep, fileinto, redirect, discard) and of the extensions (RFC 5429
reject/ereject, RFC 5230 and RFC 6131 vacation, RFC 5435 notify, RFC 5293 addheader/deleteheader), plus the
implicit keep (RFC 5228 §2.10.2) and the run-time failure that replaces every action (§2.10.6). Delivery
executes them; nothing here does I/O. The text form (:func:`describe`) is the one ``groupware sieve test``
prints and the conformance suite compares with Pigeonhole's ``sieve-test``. :class:`Result` gathers them
during an evaluation and merges them as Pigeonhole does (RFC 5228 §2.10).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .errors import SieveRuntimeError
from .host import Policy
from .mailto import mailto_recipients, mailto_with

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
    "Result",
    "RuntimeFailure",
    "Vacation",
    "describe",
    "describe_flags",
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
    #: The handle (given or default, RFC 5230 §4.2) was built from variables, so it may differ per message.
    computed_handle: bool = False


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
    """Evaluation failed: every action is dropped and the implicit keep applies (RFC 5228 §2.10.6);
    ``over_budget`` when it spent its budget of steps or CPU time rather than met an error of the script."""

    message: str
    over_budget: bool = False


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


def describe_flags(flags: tuple[str, ...]) -> str:
    """System flags lower-cased first in IMAP order, then keywords as written (RFC 5232 §3: keywords keep
    their case), as Pigeonhole lists them."""
    if not flags:
        return ""
    lowered = {f.lower() for f in flags}
    keywords: list[str] = []
    for flag in flags:
        if flag.lower() not in _SYSTEM_FLAGS and flag.lower() not in (k.lower() for k in keywords):
            keywords.append(flag)
    ordered = [f for f in _SYSTEM_FLAGS if f in lowered] + keywords
    return f" :flags {quote(' '.join(ordered))}"


def describe(action: Action) -> str | None:
    """The one-line text form of an action, or None for actions ``sieve-test`` does not list (editheader)."""
    match action:
        case Keep(flags):
            return "keep" + describe_flags(flags)
        case ImplicitKeep(flags):
            return "implicit_keep" + describe_flags(flags)
        case FileInto(mailbox, copy, create, flags):
            options = (" :copy" if copy else "") + (" :create" if create else "")
            return f"fileinto {quote(mailbox)}{options}{describe_flags(flags)}"
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


def _norm_mailbox(name: str) -> str:
    return name


def _same_mailbox(first: str, second: str) -> bool:
    """Whether two stores go to one mailbox: the same name, or INBOX written in any case (RFC 3501 §5.1, as
    Pigeonhole's duplicate check; the first spelling is kept)."""
    return first == second or first.upper() == second.upper() == "INBOX"


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

    def store(
        self, mailbox: str, copy: bool, create: bool, flags: tuple[str, ...], keep: bool = False
    ) -> None:
        """``keep`` and ``fileinto`` (RFC 5228 §4.1, §4.3); a ``keep`` merged into a store names it INBOX."""
        if self.rejected:
            raise SieveRuntimeError("store action conflicts with reject")
        mailbox = _norm_mailbox(mailbox)
        self.delivers = True
        for item in self.items:
            if isinstance(item, _Store) and _same_mailbox(item.mailbox, mailbox):
                item.flags = flags  # the last :flags win; :copy and :create stay the first store's
                if keep:
                    item.mailbox = "INBOX"
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
        if at > 0:  # the domain without case, as Pigeonhole prints and sends it
            address = address[:at] + address[at:].lower()
        key = address
        if key in self.redirects:
            return
        if not copy:
            self.implicit_keep = False
        self.redirects.add(key)
        if len(self.redirects) > self.policy.max_redirects:
            n, limit = len(self.redirects), self.policy.max_redirects
            raise SieveRuntimeError(f"number of redirect actions exceeds policy limit ({n} > {limit})")
        self._added()
        self.items.append(Redirect(address, copy))

    def add(self, action: object) -> None:
        """Any other action: discard, reject, vacation, notify, editheader."""
        if isinstance(action, Discard):
            self.implicit_keep = False
            if any(isinstance(i, Discard) for i in self.items):
                return
        elif isinstance(action, Reject):
            if self.delivers or self.rejected or self.has_vacation:
                raise SieveRuntimeError("reject/ereject action conflicts with other action")
            self.rejected = True
            self.implicit_keep = False
        elif isinstance(action, Vacation):
            if self.has_vacation:
                raise SieveRuntimeError("duplicate vacation action not allowed")
            if self.rejected:
                raise SieveRuntimeError("vacation action conflicts with reject (RFC 5230 §4.7)")
            self.has_vacation = True
        elif isinstance(action, Notify):
            notify = self._unnotified(action)
            if notify is None:
                return
            action = notify
        if not isinstance(action, (AddHeader, DeleteHeader)):
            self._added()
        self.items.append(action)

    def _unnotified(self, action: Notify) -> Notify | None:
        """``action`` without the recipients an earlier notification already has, None when none is left (as
        Pigeonhole's mailto method: one notification per recipient, RFC 5436 §2)."""
        recipients = mailto_recipients(action.method)
        if not recipients:
            return None if action in self.items else action
        earlier = {r for i in self.items if isinstance(i, Notify) for r in mailto_recipients(i.method) or []}
        left = [r for r in recipients if r not in earlier]
        if not left:
            return None
        if len(left) == len(recipients):
            return action
        return dataclasses.replace(action, method=mailto_with(action.method, left))

    def actions(self, flags: tuple[str, ...]) -> list[Action]:
        """The final list: actions in order, then the implicit keep if it still applies."""
        out: list[Action] = []
        for item in self.items:
            if isinstance(item, _Store):
                if item.mailbox == "INBOX":
                    out.append(Keep(item.flags))
                else:
                    out.append(FileInto(item.mailbox, item.copy, item.create, item.flags))
            else:
                out.append(item)  # type: ignore[arg-type]
        if self.implicit_keep:
            out.append(ImplicitKeep(flags))
        return out
