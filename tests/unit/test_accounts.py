# SPDX-License-Identifier: GPL-3.0-or-later
"""The login policy: cache, lockout per person, addresses slowed down, constant failure time, directory
outages (fake directory, fake clock)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from groupware.accounts import Accounts
from groupware.accounts.lockouts import DatabaseThrottle
from groupware.config import AccountsConfig
from groupware.directory import Group, Person
from groupware.errors import DirectoryUnavailable, InvalidCredentials, LoginThrottled
from groupware.store.database import Database

ADMINS = "cn=groupware-admins,ou=groups,dc=ac-montpellier,dc=fr"
MARIE = Person(
    uid="marie.martin",
    dn="uid=marie.martin,ou=people,dc=ac-montpellier,dc=fr",
    display_name="Marie Martin",
    mail="marie.martin@ac-montpellier.fr",
    groups=frozenset({"cn=personnels,ou=etab-0341234A,ou=groups,dc=ac-montpellier,dc=fr"}),
)


JEAN = Person(uid="jean.dupont", dn="uid=jean.dupont,ou=people,dc=ac-montpellier,dc=fr", display_name="Jean")


class FakeDirectory:
    def __init__(self) -> None:
        self.passwords = {"marie.martin": "secret", "marie.martin@ac-montpellier.fr": "secret"}
        self.people = {"marie.martin": MARIE, "marie.martin@ac-montpellier.fr": MARIE, "jean.dupont": JEAN}
        self.passwords["jean.dupont"] = "jean-pw"
        self.down = False
        self.calls = 0

    def authenticate(self, login: str, password: str) -> Person:
        self.calls += 1
        if self.down:
            raise DirectoryUnavailable("down", retry_after=17)
        if self.passwords.get(login.strip().lower()) != password or not password:
            raise InvalidCredentials("no")
        return self.people[login.strip().lower()]

    def find_person(self, login: str) -> Person | None:
        if self.down:
            raise DirectoryUnavailable("down", retry_after=17)
        return self.people.get(login.strip().lower())

    def iter_people(self) -> Iterator[Person]:
        yield MARIE

    def iter_groups(self) -> Iterator[Group]:
        return iter(())

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(clock: Clock, database: Path | None = None, **overrides: Any) -> tuple[Accounts, FakeDirectory]:
    """Accounts over a fake directory; with ``database``, failures are counted in that database's tables."""
    directory = FakeDirectory()
    config = replace(
        AccountsConfig(
            admin_group=ADMINS,
            max_failures_per_login=3,
            max_failures_per_address=5,
            failure_window=60,
            lockout=120,
            failure_delay=0.4,
            cache_ttl=600,
        ),
        **overrides,
    )
    throttle = (
        None
        if database is None
        else DatabaseThrottle(Database(str(database)), config.failure_window, config.lockout, clock)
    )
    return Accounts(directory, config, clock=clock, sleep=clock.sleep, throttle=throttle), directory


@pytest.fixture(params=["memory", "database"])
def counted_in(request: pytest.FixtureRequest, tmp_path: Path) -> Path | None:
    """Where failures are counted: this process's memory, or a database file (what ``groupware serve``
    uses).
    """
    return None if request.param == "memory" else tmp_path / "groupware.sqlite"


def test_login_by_uid_and_by_mail_give_the_same_user(clock: Clock) -> None:
    accounts, _ = make(clock)
    assert accounts.authenticate("Marie.Martin", "secret").user == "marie.martin"
    assert accounts.authenticate("marie.martin@ac-montpellier.fr", "secret").user == "marie.martin"


def test_principal_by_mail(clock: Clock) -> None:
    accounts, _ = make(clock, principal="mail")
    assert accounts.authenticate("marie.martin", "secret").user == "marie.martin@ac-montpellier.fr"


def test_cache_answers_without_the_directory_and_never_holds_the_password(clock: Clock) -> None:
    accounts, directory = make(clock)
    accounts.authenticate("marie.martin", "secret")
    accounts.authenticate("marie.martin", "secret")
    assert directory.calls == 1
    assert "secret" not in repr(accounts._cache._data)


def test_cache_expires(clock: Clock) -> None:
    accounts, directory = make(clock)
    accounts.authenticate("marie.martin", "secret")
    clock.now += 601
    accounts.authenticate("marie.martin", "secret")
    assert directory.calls == 2


def test_wrong_password_drops_the_cache_entry(clock: Clock) -> None:
    accounts, directory = make(clock)
    accounts.authenticate("marie.martin", "secret")
    with pytest.raises(InvalidCredentials):
        accounts.authenticate("marie.martin", "wrong")
    directory.down = True
    with pytest.raises(DirectoryUnavailable):
        accounts.authenticate("marie.martin", "secret")


def test_directory_down_cached_login_works_uncached_raises_unavailable(clock: Clock) -> None:
    accounts, directory = make(clock)
    accounts.authenticate("marie.martin", "secret")
    directory.down = True
    assert accounts.authenticate("marie.martin", "secret").user == "marie.martin"
    with pytest.raises(DirectoryUnavailable) as info:
        accounts.authenticate("marie.martin@ac-montpellier.fr", "secret")
    assert info.value.retry_after == 17
    with pytest.raises(DirectoryUnavailable):  # a wrong password is not judged against the cache alone
        accounts.authenticate("marie.martin", "guess")


def test_failures_take_the_same_minimum_time_whether_or_not_the_login_exists(clock: Clock) -> None:
    accounts, _ = make(clock)
    for login in ("marie.martin", "nobody.here"):
        clock.slept.clear()
        with pytest.raises(InvalidCredentials):
            accounts.authenticate(login, "wrong")
        assert clock.slept == [pytest.approx(0.4)]


def test_lockout_after_n_failures_then_recovery(
    clock: Clock, counted_in: Path | None, caplog: pytest.LogCaptureFixture
) -> None:
    accounts, directory = make(clock, counted_in)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate("marie.martin", "wrong", "192.0.2.1")
    assert any(getattr(r, "event", "") == "lockout" for r in caplog.records)
    calls = directory.calls
    with pytest.raises(LoginThrottled):
        accounts.authenticate("marie.martin", "secret", "192.0.2.9")
    assert directory.calls == calls, "a locked login does not reach the directory"
    clock.now += 121
    assert accounts.authenticate("marie.martin", "secret", "192.0.2.9").user == "marie.martin"


def test_an_address_over_its_limit_is_slowed_down_never_refused(
    clock: Clock, counted_in: Path | None, caplog: pytest.LogCaptureFixture
) -> None:
    """Beyond ``max_failures_per_address`` (5) each failure from the address takes twice as long as the one
    before, up to ``max_failure_delay``; a correct password from the same address still works at once."""
    accounts, _ = make(clock, counted_in, max_failures_per_login=0, max_failure_delay=3.0)
    for number in range(10):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate(f"user{number}", "wrong", "198.51.100.7")
    assert clock.slept == pytest.approx([0.4] * 5 + [0.8, 1.6, 3.0, 3.0, 3.0])
    assert [
        getattr(r, "subject", "") for r in caplog.records if getattr(r, "event", "") == "address_slowed"
    ] == ["198.51.100.7"]
    clock.slept.clear()
    assert accounts.authenticate("marie.martin", "secret", "198.51.100.7").user == "marie.martin"
    assert accounts.authenticate("jean.dupont", "jean-pw", "198.51.100.7").user == "jean.dupont"
    assert clock.slept == [], "a correct password is never delayed"
    with pytest.raises(InvalidCredentials):
        accounts.authenticate("marie.martin", "wrong", "198.51.100.8")
    assert clock.slept == [pytest.approx(0.4)], "another address is not slowed"


def test_an_ipv6_client_counts_by_its_64(clock: Clock, counted_in: Path | None) -> None:
    accounts, _ = make(clock, counted_in, max_failures_per_login=0)
    for number in range(6):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate("nobody", "wrong", f"2001:db8:1:2::{number + 1:x}")
    assert clock.slept[-1] == pytest.approx(0.8), "six addresses of one /64 are one client"
    with pytest.raises(InvalidCredentials):
        accounts.authenticate("nobody", "wrong", "2001:db8:1:3::1")
    assert clock.slept[-1] == pytest.approx(0.4)


def test_without_waiting_only_the_growth_is_slept(clock: Clock) -> None:
    """``wait=False``: the caller waits ``failure_delay`` on its loop; what the address adds is slept here."""
    accounts, _ = make(clock, max_failures_per_login=0)
    for _ in range(7):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate("nobody", "wrong", "192.0.2.1", wait=False)
    assert clock.slept == pytest.approx([0.4, 1.2])


@pytest.mark.parametrize(
    "locked_by, tried_as",
    [
        ("marie.martin", "marie.martin@ac-montpellier.fr"),
        ("marie.martin@ac-montpellier.fr", "Marie.Martin"),
        ("MARIE.MARTIN", " marie.martin "),
    ],
)
def test_a_person_is_locked_under_every_form_of_their_login(
    clock: Clock, counted_in: Path | None, locked_by: str, tried_as: str
) -> None:
    accounts, directory = make(clock, counted_in)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate(locked_by, "wrong", "192.0.2.1")
    calls = directory.calls
    with pytest.raises(LoginThrottled):
        accounts.authenticate(tried_as, "secret", "192.0.2.2")
    assert directory.calls == calls, "a locked person's password is not even checked"
    assert accounts.authenticate("jean.dupont", "jean-pw", "192.0.2.1").user == "jean.dupont"


def test_failures_under_several_forms_add_up(clock: Clock, counted_in: Path | None) -> None:
    accounts, _ = make(clock, counted_in)
    for login in ("marie.martin", "MARIE.MARTIN@AC-MONTPELLIER.FR", "Marie.Martin"):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate(login, "wrong")
    with pytest.raises(LoginThrottled):
        accounts.authenticate("marie.martin@ac-montpellier.fr", "secret")


def test_a_success_under_one_form_forgets_failures_under_another(
    clock: Clock, counted_in: Path | None
) -> None:
    accounts, _ = make(clock, counted_in)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate("marie.martin@ac-montpellier.fr", "wrong")
    assert accounts.authenticate("Marie.Martin", "secret").user == "marie.martin"
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate("marie.martin", "wrong")
    assert accounts.authenticate("marie.martin", "secret").user == "marie.martin", "2 + 2, not 4"


def test_unknown_names_lock_nobody_and_leave_no_rows(clock: Clock, tmp_path: Path) -> None:
    """A guesser trying 500 names that exist nowhere: nothing per login is recorded and nobody is locked out
    (with ``max_failures_per_address = 0``, nothing at all is written)."""
    path = tmp_path / "groupware.sqlite"
    accounts, _ = make(clock, path, max_failures_per_address=0)
    for number in range(500):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate(f"guess{number}@ac-montpellier.fr", "wrong", "192.0.2.1")
    db = Database(str(path))
    assert db.connection().execute("SELECT count(*) FROM login_failures").fetchone() == (0,)
    assert db.connection().execute("SELECT count(*) FROM login_lockouts").fetchone() == (0,)


def test_the_memory_counter_keeps_no_unknown_name(clock: Clock) -> None:
    accounts, _ = make(clock)
    for number in range(50):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate(f"guess{number}", "wrong", "192.0.2.1")
    assert set(accounts._throttle._failures) == {("addr", "192.0.2.1")}  # type: ignore[attr-defined]


def test_a_person_lookup_during_an_outage_is_a_503_not_a_counted_failure(clock: Clock) -> None:
    accounts, directory = make(clock)
    directory.down = True
    with pytest.raises(DirectoryUnavailable):
        accounts.authenticate("marie.martin", "wrong", "192.0.2.1")
    directory.down = False
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate("marie.martin", "wrong", "192.0.2.1")
    assert accounts.authenticate("marie.martin", "secret").user == "marie.martin", "2 failures, not 3"


def test_failures_outside_the_window_do_not_accumulate(clock: Clock, counted_in: Path | None) -> None:
    accounts, _ = make(clock, counted_in)
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate("marie.martin", "wrong")
        clock.now += 40
    assert accounts.authenticate("marie.martin", "secret").user == "marie.martin"


def test_passwords_never_logged(
    clock: Clock, counted_in: Path | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    accounts, _ = make(clock, counted_in)
    for password in ("s3cr3t-Pa55", "s3cr3t-Pa55", "s3cr3t-Pa55"):
        with pytest.raises((InvalidCredentials, LoginThrottled)):
            accounts.authenticate("marie.martin", password)
    assert "s3cr3t-Pa55" not in caplog.text and all("s3cr3t" not in str(vars(r)) for r in caplog.records)


def test_admin_flag_from_group_dn_any_case(clock: Clock) -> None:
    accounts, _ = make(clock)
    admin = replace(MARIE, groups=frozenset({ADMINS.upper()}))
    assert accounts.account(admin).is_admin and not accounts.account(MARIE).is_admin


def test_lockout_counted_in_the_database_holds_for_every_process(clock: Clock, tmp_path: Path) -> None:
    """Two services on one database file (two worker processes) share their failures and their lockouts."""
    path = tmp_path / "groupware.sqlite"
    first, _ = make(clock, path)
    second, second_directory = make(clock, path)
    for accounts in (first, second, first):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate("marie.martin", "wrong", "192.0.2.1")
    calls = second_directory.calls
    with pytest.raises(LoginThrottled):
        second.authenticate("marie.martin", "secret", "192.0.2.2")
    assert second_directory.calls == calls
    third, _ = make(clock, path)  # a restarted process still sees the lockout
    with pytest.raises(LoginThrottled):
        third.authenticate("marie.martin", "secret", "192.0.2.2")
    clock.now += 121
    assert second.authenticate("marie.martin", "secret").user == "marie.martin"


def test_database_counter_forgets_old_failures_and_resets_on_success(clock: Clock, tmp_path: Path) -> None:
    db = Database(str(tmp_path / "groupware.sqlite"))
    throttle = DatabaseThrottle(db, window=60, lockout=120, clock=clock)
    assert not throttle.fail(("login", "a"), 2)
    throttle.reset(("login", "a"))
    assert not throttle.fail(("login", "a"), 2), "a success forgets the failures before it"
    clock.now += 61
    assert not throttle.fail(("addr", "192.0.2.1"), 2)
    rows = db.connection().execute("SELECT subject FROM login_failures ORDER BY subject").fetchall()
    assert rows == [("addr:192.0.2.1",)], "failures older than the window are removed"
    assert throttle.fail(("addr", "192.0.2.1"), 2) and throttle.locked(("addr", "192.0.2.1"))
    assert not throttle.fail(("addr", "192.0.2.1"), 2), "one lockout, announced once"
    clock.now += 121
    assert not throttle.locked(("addr", "192.0.2.1"))
    assert db.connection().execute("SELECT count(*) FROM login_lockouts").fetchone() == (0,)


def test_a_clock_set_back_does_not_lengthen_a_lockout(clock: Clock, tmp_path: Path) -> None:
    throttle = DatabaseThrottle(
        Database(str(tmp_path / "groupware.sqlite")), window=60, lockout=120, clock=clock
    )
    assert throttle.fail(("login", "a"), 1)
    clock.now -= 3600  # the wall clock went back an hour
    assert throttle.locked(("login", "a"))
    clock.now += 121
    assert not throttle.locked(("login", "a")), "the lockout ends `lockout` seconds after the clock went back"


@pytest.mark.parametrize("login, password", [("marie.martin", "se\ud800cret"), ("marie\udcff", "secret")])
def test_text_that_is_not_unicode_is_a_counted_failure(
    clock: Clock, counted_in: Path | None, login: str, password: str
) -> None:
    """A lone surrogate (no UTF-8 form, RFC 3629 §3) never reaches the directory: it fails and counts."""
    accounts, directory = make(clock, counted_in, max_failures_per_address=3)
    for _ in range(4):
        with pytest.raises((InvalidCredentials, LoginThrottled)):
            accounts.authenticate(login, password, "192.0.2.1")
    assert directory.calls == 0
    assert clock.slept[-1] == pytest.approx(0.8), "counted against the address"
    if login == "marie.martin":
        with pytest.raises(LoginThrottled):
            accounts.authenticate("marie.martin", "secret", "192.0.2.1")


@pytest.mark.parametrize("password", ["pass\x01word", "pass\ufffeword", "\u00ad", "tab\there"])
def test_ldap_refuses_a_password_saslprep_forbids_as_invalid_credentials(password: str) -> None:
    """RFC 4013 §2.3 prohibits control characters and non-characters, and a password mapped to nothing is
    empty: the LDAP directory refuses them as a wrong password before any server is asked."""
    from groupware.config import DirectoryConfig
    from groupware.directory.ldap import LdapDirectory

    directory = LdapDirectory(DirectoryConfig(type="ldap", uri=("ldap://127.0.0.1:9",), base_dn="dc=x"))
    with pytest.raises(InvalidCredentials):
        directory.authenticate("marie.martin", password)


def test_without_waiting_a_failure_is_raised_at_once_and_still_counts(clock: Clock) -> None:
    """``wait=False`` (the ManageSieve door, which waits on its event loop): no sleep, same lockout."""
    accounts, _ = make(clock)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate("marie.martin", "wrong", "192.0.2.1", wait=False)
    assert clock.slept == []
    with pytest.raises(LoginThrottled):
        accounts.authenticate("marie.martin", "secret", "192.0.2.1", wait=False)
    assert clock.slept == []
