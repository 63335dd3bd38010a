# SPDX-License-Identifier: GPL-3.0-or-later
"""The forwarding policy again at delivery: a script stored before ``redirect_domains`` changed, or one
whose addresses are computed (RFC 5229), cannot send mail where the site does not allow.

The same rule as the checks made when a script is stored (:mod:`..checks`): a ``redirect`` (RFC 5228 §4.2)
outside the allowed domains is replaced by a keep into INBOX (nothing is lost); a ``notify`` (RFC 5435 §3,
RFC 5436 §2) with a recipient outside them, or by another method than ``mailto``, is dropped; a vacation
``:from`` outside them is replaced by the recipient's own address and ``:addresses`` outside them are
ignored (RFC 5230 §4.4, §4.5); a notify ``:from`` outside them is replaced by the recipient's address. A
vacation whose handle was computed from variables is remembered per sender alone, so that a handle that
differs for every message cannot answer one sender more than once a period (RFC 5230 §4.2).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Protocol

from .. import actions as A
from ..checks import redirect_allowed
from ..mailbox import MailboxError, parse_mailbox
from ..mailto import mailto_recipients

__all__ = ["enforce_forwarding"]

log = logging.getLogger("groupware.sieve.delivery")


class Plan(Protocol):
    """What :class:`.execute.Plan` offers the policy."""

    redirects: list[str]
    notifies: list[A.Notify]
    vacation: A.Vacation | None

    def store(self, mailbox: str, create: bool, flags: tuple[str, ...]) -> None:
        """A store into ``mailbox``."""


def _allowed(text: str, domains: frozenset[str]) -> bool:
    try:
        address = parse_mailbox(text)
    except MailboxError:
        return False
    return redirect_allowed(address, domains)


def _allowed_notifies(notifies: list[A.Notify], domains: frozenset[str], user: str) -> list[A.Notify]:
    """The notifications whose recipients are all allowed, with a ``:from`` outside the domains dropped."""
    kept = []
    for action in notifies:
        recipients = mailto_recipients(action.method)
        if recipients is None or not all(_allowed(r, domains) for r in recipients):
            log.warning(
                "notify refused by policy",
                extra={"event": "notify_refused", "user": user, "to": action.method},
            )
            continue
        if action.from_addr is not None and not _allowed(action.from_addr, domains):
            log.warning("notify :from refused by policy", extra={"event": "notify_refused", "user": user})
            action = dataclasses.replace(action, from_addr=None)
        kept.append(action)
    return kept


def enforce_forwarding(plan: Plan, domains: frozenset[str], user: str) -> None:
    """Change ``plan`` so that nothing leaves for, or speaks as, an address outside ``domains`` (no limit
    when empty)."""
    if not domains:
        return
    for target in [t for t in plan.redirects if not _allowed(t, domains)]:
        log.warning(
            "redirect refused by policy", extra={"event": "redirect_refused", "user": user, "to": target}
        )
        plan.redirects.remove(target)
        plan.store("INBOX", False, ())
    plan.notifies[:] = _allowed_notifies(plan.notifies, domains, user)
    vacation = plan.vacation
    if vacation is not None and vacation.computed_handle:
        vacation = plan.vacation = dataclasses.replace(vacation, handle="", computed_handle=False)
    if vacation is not None:
        sender = vacation.from_addr if vacation.from_addr and _allowed(vacation.from_addr, domains) else None
        addresses = tuple(a for a in vacation.addresses if _allowed(a, domains))
        if sender != vacation.from_addr or addresses != vacation.addresses:
            log.warning(
                "vacation addresses refused by policy", extra={"event": "vacation_refused", "user": user}
            )
            plan.vacation = dataclasses.replace(vacation, from_addr=sender, addresses=addresses)
