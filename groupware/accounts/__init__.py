# SPDX-License-Identifier: GPL-3.0-or-later
"""Login policy shared by every door (DAV, ManageSieve, LMTP look-ups).

* a login cache that never holds a password, only an HMAC-SHA256 digest keyed by a per-process secret; entries
  expire after a TTL and are dropped on a failed bind;
* throttling per login and per client address: after N failures within a window the login (or address) is
  locked out for a while, and a log line says so (counted in the database when several processes serve, see
  :mod:`groupware.accounts.lockouts`);
* failed logins take at least ``failure_delay`` seconds, so timing does not reveal whether a login exists;
* a login or password that is not valid Unicode text (a lone surrogate) is an ordinary failed login, counted
  like a wrong password, and so is a password the directory refuses to send (SASLprep, RFC 4013, at LDAP);
* when the directory is down, logins in the cache keep working and the others get
  :class:`~groupware.errors.DirectoryUnavailable` (HTTP 503 with ``Retry-After`` at the DAV door).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from groupware.accounts.throttle import FailureCounter, Throttle
from groupware.config import AccountsConfig
from groupware.directory import Directory, Person, normalize_dn, normalize_login
from groupware.directory.cache import TtlCache
from groupware.errors import AuthenticationError, InvalidCredentials, LoginThrottled

__all__ = ["Account", "Accounts", "FailureCounter", "Throttle"]

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

        ``wait=False``: a failure is raised at once, and the caller makes it take ``failure_delay`` (an
        asyncio door waits on its event loop instead of holding a worker thread for it).

        Raises:
            LoginThrottled: the login or the client address is locked out.
            InvalidCredentials | AccountDisabled: refused (after at least ``failure_delay`` seconds).
            DirectoryUnavailable: the directory is down and the login is not in the cache.
        """
        started = self._clock()
        key = normalize_login(_printable_key(login))
        try:
            self._check_throttle(key, remote_addr)
            return self._authenticate(key, login, password, remote_addr)
        except AuthenticationError:
            remaining = self.config.failure_delay - (self._clock() - started)
            if wait and remaining > 0:
                self._sleep(remaining)
            raise

    def _check_throttle(self, key: str, remote_addr: str) -> None:
        if self._throttle.locked(("login", key)) or (
            remote_addr and self._throttle.locked(("addr", remote_addr))
        ):
            log.warning(
                "login refused: locked out",
                extra={"event": "login_locked", "login": key, "remote_addr": remote_addr},
            )
            raise LoginThrottled(f"{key} from {remote_addr} is locked out")

    def _authenticate(self, key: str, login: str, password: str, remote_addr: str) -> Account:
        if not _is_unicode(password) or not _is_unicode(login):
            exc = InvalidCredentials("login or password is not valid Unicode")
            self._record_failure(key, remote_addr, exc)
            raise exc
        digest = self._digest(key, password)
        found, cached = self._cache.get(key)
        if found and cached is not None and hmac.compare_digest(cached[0], digest):
            return cached[1]
        try:
            person = self.directory.authenticate(login, password)
        except AuthenticationError as exc:
            self._cache.pop(key)
            self._record_failure(key, remote_addr, exc)
            raise
        account = self.account(person)
        self._cache.put(key, (digest, account))
        self._throttle.reset(("login", key))
        return account

    def _record_failure(self, key: str, remote_addr: str, exc: Exception) -> None:
        log.info(
            "login failed",
            extra={
                "event": "login_failed",
                "login": key,
                "remote_addr": remote_addr,
                "reason": type(exc).__name__,
            },
        )
        limits = (
            (("login", key), self.config.max_failures_per_login),
            (("addr", remote_addr), self.config.max_failures_per_address),
        )
        for subject, limit in limits:
            if subject[1] and limit and self._throttle.fail(subject, limit):
                log.warning(
                    "lockout",
                    extra={
                        "event": "lockout",
                        "kind": subject[0],
                        "subject": subject[1],
                        "seconds": self.config.lockout,
                    },
                )

    def person(self, user: str) -> Person | None:
        """The enabled person whose DAV home is ``user``, or ``None``."""
        return self.directory.find_person(user)

    def forget(self, login: str) -> None:
        """Drop a login from the cache (e.g. after a password change)."""
        self._cache.pop(normalize_login(login))
