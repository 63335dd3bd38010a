# SPDX-License-Identifier: GPL-3.0-or-later
"""The directory on an LDAP server, through ldap3 (RFC 4510-4519).

Search-then-bind with a service account (or a bind-DN template), logins by uid or by mail in any case, every
filter value escaped (RFC 4515 §3), pooled connections, failover across several URIs, StartTLS (RFC 4513 §3)
or LDAPS with a CA file, timeouts, groups as full DNs from ``memberOf`` or a group search, a configurable
"account disabled" filter, and paged bulk reads (RFC 2696).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import ldap3
from ldap3.core import exceptions as ldap_errors
from ldap3.protocol.sasl.sasl import validate_simple_password
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from groupware.config import DirectoryConfig
from groupware.directory import Establishment, Group, Person, normalize_dn
from groupware.directory.cache import TtlCache
from groupware.directory.mapping import (
    Entry,
    establishment_attributes,
    establishment_from,
    group_attributes,
    group_from,
    lower_entry,
    person_attributes,
    person_from,
)
from groupware.errors import AccountDisabled, DirectoryUnavailable, InvalidCredentials

__all__ = ["LdapDirectory"]

log = logging.getLogger("groupware.directory.ldap")

_T = TypeVar("_T")
# Result codes meaning "the server cannot answer now" (RFC 4511 §4.1.9): busy, unavailable, other, server
# down.
_UNAVAILABLE_CODES = (None, 51, 52, 80, 81)
# Errors meaning "this connection (or server) is gone", as opposed to an LDAP result code.
_CONNECTION_ERRORS = (
    ldap_errors.LDAPCommunicationError,
    ldap_errors.LDAPSessionTerminatedByServerError,
    ldap_errors.LDAPServerPoolExhaustedError,
    ldap_errors.LDAPStartTLSError,
    ldap_errors.LDAPSocketOpenError,
    ldap_errors.LDAPSocketReceiveError,
    ldap_errors.LDAPSocketSendError,
    ldap_errors.LDAPMaximumRetriesError,
    ldap_errors.LDAPResponseTimeoutError,
    OSError,
)
# A password SASLprep (RFC 4013) refuses: control characters, non-characters such as U+FFFE, unassigned
# mappings to nothing. ldap3 raises these before sending the bind (RFC 4513 §5.1.1).
_PASSWORD_REFUSED = (ldap_errors.LDAPSASLPrepError, ldap_errors.LDAPPasswordIsMandatoryError)


def _first(entry: Entry, name: str) -> str:
    values = entry.get(name.lower()) or []
    return values[0] if values else ""


def _not(search_filter: str) -> str:
    return f"(!{search_filter})" if search_filter else ""


def _check_password(password: str) -> None:
    """Refuse, as wrong, a password that SASLprep (RFC 4013 §2-§4, applied to simple binds by RFC 4513
    §5.1.1) rejects, before anything is sent: it can match no account, and it must count as a failed login.

    Raises:
        InvalidCredentials: the password has a prohibited character (control, U+FFFE…) or maps to nothing.
    """
    try:
        validate_simple_password(password)
    except _PASSWORD_REFUSED as exc:
        raise InvalidCredentials(f"password refused by SASLprep: {exc}") from None
    except ValueError as exc:  # e.g. a lone surrogate that normalization cannot take
        raise InvalidCredentials(f"password refused by SASLprep: {exc}") from None


class _Pool:
    """A bounded pool of ldap3 connections, one thread per connection at a time."""

    def __init__(self, factory: Callable[[], ldap3.Connection], size: int) -> None:
        self._factory = factory
        self._idle: queue.LifoQueue[ldap3.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max(size, 1))

    @contextlib.contextmanager
    def connection(self) -> Iterator[ldap3.Connection]:
        """Lend a connection; one that fails with a connection error is dropped, not returned."""
        with self._slots:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._factory()
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.unbind()
                raise
            self._idle.put(conn)

    def clear(self) -> None:
        """Close every idle connection."""
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return
            with contextlib.suppress(Exception):
                conn.unbind()


class LdapDirectory:
    """:class:`groupware.directory.Directory` on one or more LDAP servers."""

    def __init__(self, config: DirectoryConfig) -> None:
        self._config = config
        tls = None
        if config.starttls or any(uri.startswith("ldaps://") for uri in config.uri):
            tls = ldap3.Tls(
                validate=ssl.CERT_REQUIRED,
                ca_certs_file=config.ca_file or None,
                version=ssl.PROTOCOL_TLS_CLIENT,
            )
        self._tls = tls
        self._servers = list(config.uri)
        self._preferred = 0  # index of the server that answered last: failover sticks to it
        self._people_dn = config.people_dn or config.base_dn
        self._groups_dn = config.groups_dn or config.base_dn
        self._establishments_dn = config.establishments_dn or config.base_dn
        self._person_attributes = person_attributes(config)
        self._establishment_names: TtlCache[str, dict[str, str]] = TtlCache(max(config.cache_ttl, 1.0))
        self._search_pool = _Pool(self._service_connection, config.pool_size)
        self._bind_pool = _Pool(lambda: self._open(None, None), config.pool_size)

    # -- connections
    # -------------------------------------------------------------------------------------------

    def _open(self, user: str | None, password: str | None) -> ldap3.Connection:
        """Open a connection to the first server that answers, starting with the one that answered last.

        Raises:
            ldap3.core.exceptions.LDAPSocketOpenError: no configured server could be reached.
        """
        count = len(self._servers)
        failures: list[str] = []
        for step in range(count):
            index = (self._preferred + step) % count
            try:
                conn = self._open_on(self._server(index), user, password)
            except _CONNECTION_ERRORS as exc:
                failures.append(f"{self._servers[index]}: {exc}")
                continue
            if index != self._preferred:
                log.warning(
                    "ldap failover", extra={"event": "ldap_failover", "server": str(self._servers[index])}
                )
                self._preferred = index
            return conn
        raise ldap_errors.LDAPSocketOpenError("no directory server reachable (" + "; ".join(failures) + ")")

    def _server(self, index: int) -> ldap3.Server:
        # A new Server object per connection: ldap3 remembers an address that failed for minutes otherwise.
        return ldap3.Server(
            self._servers[index],
            connect_timeout=self._config.connect_timeout,
            tls=self._tls,
            get_info=ldap3.NONE,
        )

    def _open_on(self, server: ldap3.Server, user: str | None, password: str | None) -> ldap3.Connection:
        conn = ldap3.Connection(
            server,
            user=user,
            password=password,
            receive_timeout=max(1, round(self._config.timeout)),
            raise_exceptions=False,
            auto_bind=ldap3.AUTO_BIND_NONE,
            read_only=True,
        )
        conn.open()
        if self._config.starttls and not server.ssl and not conn.start_tls():
            conn.unbind()
            raise ldap_errors.LDAPStartTLSError(f"StartTLS refused by {server}")
        return conn

    def _service_connection(self) -> ldap3.Connection:
        conn = self._open(self._config.bind_dn or None, self._config.bind_password or None)
        if not conn.bind():
            conn.unbind()
            raise DirectoryUnavailable(
                f"service account bind refused: {conn.result.get('description')}", self._config.retry_after
            )
        return conn

    def _with_retry(self, pool: _Pool, work: Callable[[ldap3.Connection], _T]) -> _T:
        """Run ``work`` on a pooled connection; on a connection error retry once on a fresh one (failover)."""
        for attempt in (1, 2):
            try:
                with pool.connection() as conn:
                    return work(conn)
            except _CONNECTION_ERRORS as exc:
                log.warning(
                    "ldap connection failed",
                    extra={"event": "ldap_error", "attempt": attempt, "error": str(exc)},
                )
                pool.clear()
                if attempt == 2:
                    raise DirectoryUnavailable(
                        f"directory unreachable: {exc}", self._config.retry_after
                    ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _search(
        self,
        conn: ldap3.Connection,
        base: str,
        search_filter: str,
        attributes: tuple[str, ...],
        scope: str = ldap3.SUBTREE,
    ) -> list[Entry]:
        ok = conn.search(
            base, search_filter, scope, attributes=list(attributes), time_limit=int(self._config.timeout)
        )
        if not ok and conn.result.get("result") not in (0, 32):  # 32: noSuchObject
            if conn.closed or conn.result.get("result") in _UNAVAILABLE_CODES:
                raise ldap_errors.LDAPCommunicationError(str(conn.result.get("description")))
            log.warning("ldap search failed", extra={"event": "ldap_search_error", "result": conn.result})
        return [
            lower_entry(e["dn"], e["attributes"])
            for e in conn.response or []
            if e.get("type") == "searchResEntry"
        ]

    # -- people
    # ------------------------------------------------------------------------------------------------

    def _login_filter(self, login: str) -> str:
        value = escape_filter_chars(login.strip())
        alternatives = "".join(f"({attr}={value})" for attr in self._config.login_attributes)
        return f"(&{self._config.user_filter}(|{alternatives}))"

    def _lookup(self, conn: ldap3.Connection, login: str) -> Entry | None:
        entries = self._search(conn, self._people_dn, self._login_filter(login), self._person_attributes)
        return entries[0] if len(entries) == 1 else None

    def _matches(self, conn: ldap3.Connection, dn: str, search_filter: str) -> bool:
        """Whether the entry ``dn`` matches ``search_filter`` (a base search; RFC 4511 §4.5.1.2)."""
        if not search_filter:
            return False
        return bool(self._search(conn, dn, search_filter, ("cn",), scope=ldap3.BASE))

    def _is_disabled(self, conn: ldap3.Connection, dn: str) -> bool:
        return self._matches(conn, dn, self._config.disabled_filter)

    def _groups_of(self, conn: ldap3.Connection, entry: Entry) -> frozenset[str]:
        if self._config.groups_from == "memberof":
            return frozenset(entry.get(self._config.member_of_attribute.lower(), []))
        member = f"({self._config.member_attribute}={escape_filter_chars(entry['dn'][0])})"
        groups = self._search(conn, self._groups_dn, f"(&{self._config.group_filter}{member})", ("cn",))
        return frozenset(group["dn"][0] for group in groups)

    def _person(self, conn: ldap3.Connection, entry: Entry, disabled: bool = False) -> Person:
        dn = entry["dn"][0]
        listed = not self._matches(conn, dn, self._config.red_list_filter)
        names = self._names(conn)
        return person_from(entry, self._config, self._groups_of(conn, entry), disabled, listed, names)

    def _names(self, conn: ldap3.Connection) -> dict[str, str]:
        """UAI -> name of the établissement entries, kept for ``cache_ttl`` (empty without a filter)."""
        if not self._config.establishment_filter:
            return {}
        found, names = self._establishment_names.get("all")
        if not found or names is None:
            search_filter = self._config.establishment_filter
            entries = self._search(
                conn, self._establishments_dn, search_filter, establishment_attributes(self._config)
            )
            establishments = (establishment_from(entry, self._config) for entry in entries)
            names = {e.uai: e.name for e in reversed([e for e in establishments if e is not None])}
            self._establishment_names.put("all", names)
        return names

    def find_person(self, login: str) -> Person | None:
        """Return the enabled person whose uid or mail is ``login`` (any case), or ``None``."""

        def work(conn: ldap3.Connection) -> Person | None:
            entry = self._lookup(conn, login)
            if entry is None or self._is_disabled(conn, entry["dn"][0]):
                return None
            return self._person(conn, entry)

        return self._with_retry(self._search_pool, work)

    def _user_dn(self, login: str) -> str | None:
        if self._config.user_dn_template:
            return self._config.user_dn_template.format(login=escape_rdn(login.strip()))
        entry = self._with_retry(self._search_pool, lambda conn: self._lookup(conn, login))
        return entry["dn"][0] if entry else None

    def authenticate(self, login: str, password: str) -> Person:
        """Bind as the person (RFC 4513 §5.1.3); an empty password is refused, never sent as an
        unauthenticated bind.

        Raises:
            InvalidCredentials: unknown login or wrong password. AccountDisabled: right password, but the
            account matches the disabled filter. DirectoryUnavailable: no server answered.
        """
        if not password or not login.strip():
            raise InvalidCredentials("empty login or password")
        _check_password(password)
        dn = self._user_dn(login)
        if dn is None:
            raise InvalidCredentials("unknown login")
        if not self._with_retry(self._bind_pool, lambda conn: self._rebind(conn, dn, password)):
            raise InvalidCredentials("wrong password")

        def load(conn: ldap3.Connection) -> Person:
            entries = self._search(
                conn, dn, self._config.user_filter, self._person_attributes, scope=ldap3.BASE
            )
            if not entries:
                raise InvalidCredentials("bound entry is not a person")
            return self._person(conn, entries[0], self._is_disabled(conn, dn))

        person = self._with_retry(self._search_pool, load)
        if person.disabled:
            raise AccountDisabled(f"account {person.uid} is disabled")
        return person

    @staticmethod
    def _rebind(conn: ldap3.Connection, dn: str, password: str) -> bool:
        if conn.closed:
            conn.open()
        try:
            ok = bool(conn.rebind(user=dn, password=password))
        except _PASSWORD_REFUSED:  # checked before; kept so that no ldap3 refusal escapes as a crash
            conn.unbind()
            return False
        code = conn.result.get("result") if conn.result else None
        if not ok and (conn.closed or code in _UNAVAILABLE_CODES):
            raise ldap_errors.LDAPCommunicationError(f"bind failed: {conn.result}")
        return ok

    # -- bulk reads
    # --------------------------------------------------------------------------------------------

    def _paged(self, base: str, search_filter: str, attributes: tuple[str, ...]) -> Iterator[Entry]:
        try:
            with self._search_pool.connection() as conn:
                for entry in conn.extend.standard.paged_search(
                    base,
                    search_filter,
                    ldap3.SUBTREE,
                    attributes=list(attributes),
                    paged_size=self._config.page_size,
                    generator=True,
                ):
                    if entry.get("type") == "searchResEntry":
                        yield lower_entry(entry["dn"], entry["attributes"])
        except _CONNECTION_ERRORS as exc:
            self._search_pool.clear()
            raise DirectoryUnavailable(f"directory unreachable: {exc}", self._config.retry_after) from exc

    def _dns(self, search_filter: str) -> set[str]:
        """The normalized DNs of the people matching ``search_filter`` too (none without a filter)."""
        if not search_filter:
            return set()
        people = f"(&{self._config.user_filter}{search_filter})"
        return {normalize_dn(entry["dn"][0]) for entry in self._paged(self._people_dn, people, ("cn",))}

    def _bulk_people(self, search_filter: str, disabled: set[str], red: set[str]) -> Iterator[Person]:
        """The people matching ``search_filter``, groups read in bulk, flags from the DN sets."""
        memberships: dict[str, set[str]] = {}
        if self._config.groups_from == "search":
            for group in self.iter_groups():
                for member in group.members:
                    memberships.setdefault(member, set()).add(group.dn)
        names = {e.uai: e.name for e in reversed(list(self.iter_establishments()))}
        for entry in self._paged(self._people_dn, search_filter, self._person_attributes):
            key = normalize_dn(entry["dn"][0])
            if self._config.groups_from == "search":
                groups = frozenset(memberships.get(key, ()))
            else:
                groups = frozenset(entry.get(self._config.member_of_attribute.lower(), []))
            yield person_from(entry, self._config, groups, key in disabled, key not in red, names)

    def iter_people(self) -> Iterator[Person]:
        """Yield every enabled person not on the red list, page by page (RFC 2696); groups are read in bulk,
        not per person."""
        config = self._config
        search_filter = f"(&{config.user_filter}{_not(config.disabled_filter)}{_not(config.red_list_filter)})"
        return self._bulk_people(search_filter, set(), set())

    def iter_everyone(self) -> Iterator[Person]:
        """Yield every person, the disabled and the red-listed too, flagged (``groupware directory test``)."""
        disabled = self._dns(self._config.disabled_filter)
        red = self._dns(self._config.red_list_filter)
        return self._bulk_people(self._config.user_filter, disabled, red)

    def iter_establishments(self) -> Iterator[Establishment]:
        """Yield the établissement entries (``establishment_filter``), page by page; none without a filter."""
        if not self._config.establishment_filter:
            return
        attributes = establishment_attributes(self._config)
        for entry in self._paged(self._establishments_dn, self._config.establishment_filter, attributes):
            found = establishment_from(entry, self._config)
            if found is not None:
                yield found

    def fingerprint(self) -> str:
        """A digest of every listed person's, every group's and every établissement entry's DN and
        ``modifyTimestamp`` (RFC 4512 §3.4).

        It changes when anyone is added, changed, disabled, red-listed or removed, or a group's members
        change, and reads one small attribute per entry: bulk readers (the address books) compare it to skip a
        full read.
        """
        config = self._config
        people = f"(&{config.user_filter}{_not(config.disabled_filter)}{_not(config.red_list_filter)})"
        digest = hashlib.sha256()
        searches = [(self._people_dn, people), (self._groups_dn, config.group_filter)]
        if config.establishment_filter:
            searches.append((self._establishments_dn, config.establishment_filter))
        for base, search_filter in searches:
            for entry in self._paged(base, search_filter, ("modifyTimestamp",)):
                digest.update(f"{entry['dn'][0]}\0{_first(entry, 'modifyTimestamp')}\n".encode())
        return digest.hexdigest()

    def iter_groups(self) -> Iterator[Group]:
        """Yield every group with its member DNs (normalized), page by page."""
        for entry in self._paged(self._groups_dn, self._config.group_filter, group_attributes(self._config)):
            yield group_from(entry, self._config)

    def close(self) -> None:
        """Close every pooled connection."""
        self._search_pool.clear()
        self._bind_pool.clear()
