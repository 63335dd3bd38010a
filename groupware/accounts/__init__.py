# SPDX-License-Identifier: GPL-3.0-or-later
"""Login policy shared by every door (DAV, ManageSieve, LMTP look-ups).

* a login cache that never holds a password, only an HMAC-SHA256 digest keyed by a per-process secret; entries
  expire after a TTL and are dropped on a failed bind;
* lockout per person: failures count against the account the login names, whatever form was typed (uid,
  mail, any case), at every door; after ``max_failures_per_login`` failures within the window the person is
  locked out for a while, and a log line says so (counted in the database when several processes serve, see
  :mod:`groupware.accounts.lockouts`). A login that names nobody counts against no one: unknown names cannot
  fill the table;
* per client address (an IPv6 address by its /64, where one host usually has them all), failures only slow
  down: beyond ``max_failures_per_address`` within the window, each further failure from that address takes
  twice as long as the one before, up to ``max_failure_delay``. An address is never refused, so neither a
  guesser nor a shared NAT can make the correct password of a person who is not locked out fail, and a
  correct password is never delayed;
* failed logins take at least ``failure_delay`` seconds, so timing does not reveal whether a login exists;
* a login or password that is not valid Unicode text (a lone surrogate) is an ordinary failed login, counted
  like a wrong password, and so is a password the directory refuses to send (SASLprep, RFC 4013, at LDAP);
* when the directory is down, logins in the cache keep working and the others get
  :class:`~groupware.errors.DirectoryUnavailable` (HTTP 503 with ``Retry-After`` at the DAV door).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from groupware import metrics
from groupware.accounts.throttle import FailureCounter, Throttle
from groupware.config import AccountsConfig
from groupware.directory import Directory, Person, normalize_dn, normalize_login
from groupware.directory.cache import TtlCache
from groupware.errors import AuthenticationError, InvalidCredentials, LoginThrottled

__all__ = ["Account", "Accounts", "FailureCounter", "Throttle", "address_key"]

log = logging.getLogger("groupware.accounts")


def _is_unicode(text: str) -> bool:
    """Whether ``text`` can be encoded as UTF-8 (RFC 3629 §3), i.e. holds no lone surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable_key(login: str) -> str:
    """``login`` with lone surrogates replaced, so that it can be a lockout key in the database."""
    return login if _is_unicode(login) else login.encode("utf-8", "replace").decode("utf-8")


def address_key(remote_addr: str) -> str:
    """The subject of a client address for the per-address limit: an IPv4 address, or the /64 network of an
    IPv6 address (RFC 4291 §2.5.4: one interface, one /64; a host picks a new address in it at will, RFC
    8981), or the text as it is when it is not an address."""
    try:
        address = ipaddress.ip_address(remote_addr.strip().strip("[]"))
    except ValueError:
        return _printable_key(remote_addr.strip())
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass(frozen=True)
class Account:
    """An authenticated person, with the name of their DAV home and their groups (full DNs)."""

    user: str
    person: Person
    groups: frozenset[str]
    is_admin: bool


class Accounts:
    """Authenticates logins against the directory under the login policy above."""

    def __init__(
        self,
        directory: Directory,
        config: AccountsConfig,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        throttle: FailureCounter | None = None,
    ) -> None:
        self.directory = directory
        self.config = config
        self._clock = clock
        self._sleep = sleep
        self._secret = secrets.token_bytes(32)
        self._cache: TtlCache[str, tuple[bytes, Account]] = TtlCache(config.cache_ttl, clock=clock)
        self._throttle = (
            throttle if throttle is not None else Throttle(config.failure_window, config.lockout, clock)
        )
        self._admin_group = normalize_dn(config.admin_group) if config.admin_group else ""

    def _digest(self, key: str, password: str) -> bytes:
        return hmac.new(self._secret, f"{key}\0{password}".encode(), hashlib.sha256).digest()

    def user_name(self, person: Person) -> str:
        """The name of the person's DAV home: their uid, or their mail address (``[accounts] principal``)."""
        if self.config.principal == "mail" and person.mail:
            return person.mail.lower()
        return person.uid.lower()

    def account(self, person: Person) -> Account:
        """Wrap a directory person as an account."""
        groups = frozenset(person.groups)
        is_admin = bool(self._admin_group) and self._admin_group in {normalize_dn(g) for g in groups}
        return Account(self.user_name(person), person, groups, is_admin)

    def authenticate(self, login: str, password: str, remote_addr: str = "", wait: bool = True) -> Account:
        """Check a login and its password under the policy.

        ``wait=False``: a failure is raised once the part of its delay beyond ``failure_delay`` is over, and
        the caller makes it take ``failure_delay`` (an asyncio door waits on its event loop instead of holding
        a worker thread for it).

        Raises:
            LoginThrottled: the person the login names is locked out.
            InvalidCredentials | AccountDisabled: refused (after at least ``failure_delay`` seconds).
            DirectoryUnavailable: the directory is down and the login is not in the cache.
        """
        started = self._clock()
        key = normalize_login(_printable_key(login))
        person: str | None = None
        try:
            person = self._person_key(key, login)
            self._check_lockout(key, person, remote_addr)
            account = self._authenticate(key, login, password)
        except AuthenticationError as exc:
            outcome = "locked" if isinstance(exc, LoginThrottled) else "failed"
            metrics.count("groupware_logins_total", outcome=outcome)
            delay = self._failure(key, person, remote_addr, exc)
            waited = self._clock() - started
            remaining = (delay if wait else delay - self.config.failure_delay) - waited
            if remaining > 0:
                self._sleep(remaining)
            raise
        metrics.count("groupware_logins_total", outcome="ok")
        return account

    def _person_key(self, key: str, login: str) -> str | None:
        """The lockout key of the person ``login`` names (their uid, case-folded), whatever form was typed;
        None for a login that names no enabled person.

        Raises:
            DirectoryUnavailable: the directory is down and the login is not in the cache.
        """
        if not _is_unicode(login):
            return None
        found, cached = self._cache.get(key)
        person = cached[1].person if found and cached is not None else self.directory.find_person(login)
        return normalize_login(person.uid) if person is not None else None

    def _check_lockout(self, key: str, person: str | None, remote_addr: str) -> None:
        if person is not None and self._throttle.locked(("login", person)):
            log.warning(
                "login refused: locked out",
                extra={"event": "login_locked", "login": key, "person": person, "remote_addr": remote_addr},
            )
            raise LoginThrottled(f"{person} is locked out")

    def _authenticate(self, key: str, login: str, password: str) -> Account:
        if not _is_unicode(password) or not _is_unicode(login):
            raise InvalidCredentials("login or password is not valid Unicode")
        digest = self._digest(key, password)
        found, cached = self._cache.get(key)
        if found and cached is not None and hmac.compare_digest(cached[0], digest):
            return cached[1]
        try:
            found_person = self.directory.authenticate(login, password)
        except AuthenticationError:
            self._cache.pop(key)
            raise
        account = self.account(found_person)
        self._cache.put(key, (digest, account))
        self._throttle.reset(("login", normalize_login(found_person.uid)))
        return account

    def _failure(self, key: str, person: str | None, remote_addr: str, exc: Exception) -> float:
        """Count a refused login against the person and the address; return how long the refusal takes."""
        address = address_key(remote_addr) if remote_addr else ""
        log.info(
            "login failed",
            extra={
                "event": "login_failed",
                "login": key,
                "person": person or "",
                "remote_addr": remote_addr,
                "reason": type(exc).__name__,
            },
        )
        limit = self.config.max_failures_per_login
        if (
            person
            and limit
            and not isinstance(exc, LoginThrottled)
            and self._throttle.fail(("login", person), limit)
        ):
            extra = {"event": "lockout", "kind": "login", "subject": person, "seconds": self.config.lockout}
            log.warning("lockout", extra=extra)
        return self._address_delay(address, remote_addr)

    def _address_delay(self, address: str, remote_addr: str) -> float:
        """``failure_delay``, doubled for each failure of ``address`` beyond its limit, up to
        ``max_failure_delay``."""
        limit, base = self.config.max_failures_per_address, self.config.failure_delay
        if not address or not limit:
            return base
        beyond = self._throttle.record(("addr", address)) - limit
        if beyond <= 0:
            return base
        delay = max(min((base or 0.1) * 2.0 ** min(beyond, 64), self.config.max_failure_delay), base)
        if beyond == 1:
            log.warning(
                "address slowed down",
                extra={"event": "address_slowed", "subject": address, "remote_addr": remote_addr},
            )
        return delay

    def person(self, user: str) -> Person | None:
        """The enabled person whose DAV home is ``user``, or ``None``."""
        return self.directory.find_person(user)

    def forget(self, login: str) -> None:
        """Drop a login from the cache (e.g. after a password change)."""
        self._cache.pop(normalize_login(login))
