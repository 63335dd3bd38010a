# SPDX-License-Identifier: GPL-3.0-or-later
"""What the Sieve engine asks of its host, as small protocols and plain data.

The engine never reads files, clocks or databases by itself: the composition root of groupware fulfils these
protocols (accounts for RFC 5804 ManageSieve logins, script store, RFC 5230 §4.2 / RFC 3834 reply tracking),
and tests fulfil them with dictionaries.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .grammar import KNOWN_EXTENSIONS

__all__ = [
    "DEFAULT_EXTENSIONS",
    "AuthenticationUnavailable",
    "Authenticator",
    "Budget",
    "Environment",
    "LookupUnavailable",
    "Policy",
    "Recipient",
    "RecipientLookup",
    "ReplyTracker",
    "ScriptLocator",
]

#: Extensions enabled by default: every extension the language core knows (Pigeonhole 0.5's set plus
#: vacation-seconds and editheader).
DEFAULT_EXTENSIONS: frozenset[str] = KNOWN_EXTENSIONS


class Authenticator(Protocol):
    """Checks a login for ManageSieve (RFC 5804 §2.1); returns the canonical user name or None.

    ``remote_addr`` lets the host throttle by client address. When the host cannot decide now (its directory
    is down) it raises :class:`AuthenticationUnavailable`, which ManageSieve answers with ``NO (TRYLATER)``.
    """

    def authenticate(
        self, login: str, password: str, authzid: str = "", remote_addr: str = ""
    ) -> str | None: ...


class AuthenticationUnavailable(Exception):
    """The host cannot check logins for now (RFC 5804 §1.3 TRYLATER)."""


@dataclass(frozen=True, slots=True)
class Recipient:
    """A local recipient of mail: ``user`` names their mail home (and script store), ``addresses`` are all the
    addresses that count as theirs for vacation (RFC 5230 §4.5)."""

    user: str
    addresses: tuple[str, ...] = ()


class RecipientLookup(Protocol):
    """Finds who an LMTP ``RCPT TO`` address belongs to (RFC 2033 §4.2): None for an unknown or disabled
    account; raises :class:`LookupUnavailable` when the host cannot tell now (the MTA then retries)."""

    def lookup(self, address: str) -> Recipient | None: ...


class LookupUnavailable(Exception):
    """The host cannot look recipients up for now (its directory is down): a 4xx answer, RFC 5321 §4.2.5."""


class ScriptLocator(Protocol):
    """Finds the text of an included script (RFC 6609 §3.2): ``location`` is ``personal`` or ``global``."""

    def load(self, location: str, name: str) -> str | None: ...


class ReplyTracker(Protocol):
    """Remembers who got an auto-reply (RFC 5230 §4.2) or which message was seen (RFC 7352 §3).

    ``check_and_record`` must be atomic per user: it returns True when ``key`` was recorded less than
    ``seconds`` ago, and otherwise records it now and returns False.
    """

    def check_and_record(self, key: str, seconds: int, now: _dt.datetime) -> bool: ...


@dataclass(frozen=True, slots=True)
class Policy:
    """Limits fixed at compile time (and the redirect/action limits applied while evaluating).

    The defaults are Pigeonhole's: ``sieve_max_script_size`` 1M, ``sieve_max_actions`` 32,
    ``sieve_max_redirects`` 4; nesting limits follow its ``SIEVE_MAX_*_NESTING`` constants. The vacation
    period (RFC 5230 §4.1, RFC 6131 §2) is raised to ``min_vacation_seconds`` and lowered to
    ``max_vacation_seconds`` at compile time, never refused; the minimum is one day by default, as
    Pigeonhole's ``sieve_vacation_min_period``, so ``:days 0`` or ``:seconds 60`` mean one day. The maximum
    is 90 days (Pigeonhole has none by default; RFC 5230 §4.1 lets the site bound the period).

    Variables (RFC 5229 §3) are bounded as in Pigeonhole: ``max_variable_size`` octets per value (its
    ``sieve_variables_max_variable_size``; longer values are cut at a UTF-8 boundary) and ``max_variables``
    per scope (``sieve_variables_max_scope_size``; one more is a compile error). An expanded string may hold
    at most ``max_string_size`` characters beyond its longest part (a run-time error beyond: RFC 5228 §2.10.6
    keeps the message). ``max_regex_cost`` bounds the worst-case work of one ``:regex`` match (see
    :func:`~regex.regex_cost`).
    """

    max_script_size: int = 1 << 20
    max_actions: int = 32
    max_redirects: int = 4
    max_block_nesting: int = 32
    max_test_nesting: int = 32
    max_include_depth: int = 10
    max_includes: int = 255
    min_vacation_seconds: int = 86400
    max_vacation_seconds: int = 90 * 24 * 3600
    extensions: frozenset[str] = DEFAULT_EXTENSIONS
    #: Domains ``redirect`` may forward to (their subdomains too); empty: any domain.
    redirect_domains: frozenset[str] = frozenset()
    max_variable_size: int = 4096
    max_variables: int = 255
    max_string_size: int = 1 << 20
    max_regex_cost: int = 10**8


@dataclass(frozen=True, slots=True)
class Budget:
    """What one evaluation may spend (RFC 5228 §2.10.6 lets an implementation fail a script at run time):
    ``steps`` tests, commands and string expansions, and ``cpu_seconds`` of the thread's CPU time, for all the
    scripts run on one message for one recipient. Over budget, the evaluation fails and the message is kept.
    0 is no limit.
    """

    steps: int = 1_000_000
    cpu_seconds: float = 0.0
    #: The clock ``cpu_seconds`` are measured on: the calling thread's CPU time (other threads' work and
    #: waiting for the GIL do not count).
    clock: Callable[[], float] = time.thread_time


@dataclass(slots=True)
class Environment:
    """Facts about the delivery that the message cannot tell (RFC 5228 §5.4 envelope, RFC 5183 environment).

    ``seen`` answers the ``duplicate`` test (RFC 7352); ``mailbox_exists`` the ``mailboxexists`` test (RFC
    5490).
    """

    envelope_from: str = "MAILER-DAEMON"
    envelope_to: str = "recipient@example.org"
    original_to: str | None = None
    auth: str | None = None
    now: _dt.datetime = field(default_factory=lambda: _dt.datetime.now().astimezone())
    values: dict[str, str] = field(default_factory=dict)
    seen: Callable[[str, int], bool] | None = None
    mailbox_exists: Callable[[str], bool] | None = None
    #: What the evaluation may spend; a script sequence spends one budget for all its scripts.
    budget: Budget = field(default_factory=lambda: Budget())
