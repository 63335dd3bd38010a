# SPDX-License-Identifier: GPL-3.0-or-later
"""DAV logins against a real slapd: uid and mail, injection, outage (503 / cache), lockout, failover, TLS."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator

import pytest
from support import (
    DEMO_LDIF,
    MAIL,
    PASSWORD,
    USER,
    RunningServer,
    dead_ldap_directory,
    free_port,
    ldap_directory_section,
    request,
    require_binaries,
)

pytestmark = pytest.mark.slapd


@pytest.fixture
def private_slapd() -> Iterator[object]:
    """A slapd of this test alone, which the test may stop and start."""
    require_binaries("slapd", "slapadd", packages="slapd ldap-utils")
    from groupware.directory.slapd import Slapd

    with Slapd(str(DEMO_LDIF), memberof=False) as server:
        yield server


def test_login_by_uid_and_by_mail(start_server: Callable[..., RunningServer], slapd: object) -> None:
    server = start_server(ldap_directory_section(slapd))
    assert request(server, "PROPFIND", f"/{USER}/", headers={"Depth": "0"})[0] == 207
    assert request(server, "PROPFIND", f"/{USER}/", login=MAIL, headers={"Depth": "0"})[0] == 207
    assert request(server, "PROPFIND", f"/{USER}/", login=USER.upper(), headers={"Depth": "0"})[0] == 207


@pytest.mark.parametrize("login", ["*)(uid=*", "*", f"{USER})(|(uid=*", "admin.groupware)(&", "\\2a"])
def test_injection_logins_fail_cleanly(
    start_server: Callable[..., RunningServer], slapd: object, login: str
) -> None:
    server = start_server(ldap_directory_section(slapd))
    status, headers, _ = request(server, "PROPFIND", "/", login=login, password="x")
    assert status == 401 and "www-authenticate" in headers


def test_directory_down_uncached_get_503_cached_keep_working(
    start_server: Callable[..., RunningServer], private_slapd: object
) -> None:
    server = start_server(ldap_directory_section(private_slapd, retry_after="42"))
    assert request(server, "PROPFIND", f"/{USER}/", headers={"Depth": "0"})[0] == 207
    private_slapd.stop()  # type: ignore[attr-defined]
    try:
        status, headers, _ = request(server, "PROPFIND", f"/{USER}/", headers={"Depth": "0"})
        assert status == 207, "a cached login keeps working"
        status, headers, _ = request(
            server,
            "PROPFIND",
            "/",
            login="francois.muller",
            password="francois.muller-demo",
            headers={"Depth": "0"},
        )
        assert status == 503 and headers["retry-after"] == "42"
    finally:
        private_slapd.start()  # type: ignore[attr-defined]
    status, _, _ = request(
        server,
        "PROPFIND",
        "/",
        login="francois.muller",
        password="francois.muller-demo",
        headers={"Depth": "0"},
    )
    assert status == 207, "logins work again once the directory is back"


def test_lockout_then_recovery(
    start_server: Callable[..., RunningServer], slapd: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from groupware.accounts.lockouts import DatabaseThrottle
    from groupware.runtime import services

    now = [time.time()]  # the lockouts' clock, moved by the test instead of waited for
    monkeypatch.setattr(
        services, "DatabaseThrottle", functools.partial(DatabaseThrottle, clock=lambda: now[0])
    )
    accounts = {"max_failures_per_login": "3", "failure_window": "60", "lockout": "30"}
    server = start_server(ldap_directory_section(slapd), accounts)
    for _ in range(3):
        assert request(server, "PROPFIND", "/", password="wrong")[0] == 401
    assert request(server, "PROPFIND", "/", headers={"Depth": "0"})[0] == 401, (
        "locked out, even with the password"
    )
    now[0] += 29
    assert request(server, "PROPFIND", "/", headers={"Depth": "0"})[0] == 401, "still locked out"
    now[0] += 1.5
    assert request(server, "PROPFIND", "/", headers={"Depth": "0"})[0] == 207, "the lockout is over"


def test_a_uid_locked_out_is_locked_out_under_its_mail(
    start_server: Callable[..., RunningServer], slapd: object
) -> None:
    """The person a login names is resolved by the directory (uid or mail, any case): failures under the uid
    lock the mail form too, and another person logs in."""
    accounts = {"max_failures_per_login": "3", "failure_window": "60", "lockout": "60"}
    server = start_server(ldap_directory_section(slapd), accounts)
    for login in (USER, USER.upper(), MAIL.upper()):
        assert request(server, "PROPFIND", "/", login=login, password="wrong")[0] == 401
    for login in (MAIL, USER, "Helene.Lefevre"):
        assert request(server, "PROPFIND", "/", login=login, headers={"Depth": "0"})[0] == 401, login
    other = ("francois.muller@ac-montpellier.fr", "francois.muller-demo")
    assert (
        request(server, "PROPFIND", "/", login=other[0], password=other[1], headers={"Depth": "0"})[0] == 207
    )


def test_failover_to_the_second_uri(start_server: Callable[..., RunningServer], slapd: object) -> None:
    dead = f"ldap://127.0.0.1:{free_port()}"
    section = ldap_directory_section(slapd, uri=f"{dead} {slapd.uri}")  # type: ignore[attr-defined]
    server = start_server(section)
    assert request(server, "PROPFIND", f"/{USER}/", headers={"Depth": "0"})[0] == 207


def test_every_uri_dead_gives_503(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(dead_ldap_directory())
    status, headers, _ = request(server, "PROPFIND", "/", headers={"Depth": "0"})
    assert status == 503 and int(headers["retry-after"]) > 0


@pytest.fixture(scope="module")
def tls_slapd() -> Iterator[object]:
    require_binaries("slapd", "slapadd", "openssl", packages="slapd ldap-utils openssl")
    from groupware.directory.slapd import Slapd

    with Slapd(str(DEMO_LDIF), memberof=False, tls=True) as server:
        yield server


@pytest.mark.parametrize("mode", ["starttls", "ldaps"])
def test_tls_with_a_ca_file(start_server: Callable[..., RunningServer], tls_slapd: object, mode: str) -> None:
    uri = tls_slapd.ldaps_uri if mode == "ldaps" else tls_slapd.uri  # type: ignore[attr-defined]
    section = ldap_directory_section(
        tls_slapd,
        uri=uri,
        ca_file=tls_slapd.ca_file,  # type: ignore[attr-defined]
        starttls=str(mode == "starttls").lower(),
    )
    server = start_server(section)
    assert request(server, "PROPFIND", f"/{USER}/", password=PASSWORD, headers={"Depth": "0"})[0] == 207


def test_tls_with_an_untrusted_certificate_is_refused(
    start_server: Callable[..., RunningServer], tls_slapd: object
) -> None:
    section = ldap_directory_section(tls_slapd, uri=tls_slapd.ldaps_uri)  # type: ignore[attr-defined]
    server = start_server(section)
    assert request(server, "PROPFIND", f"/{USER}/", headers={"Depth": "0"})[0] == 503


@pytest.mark.parametrize(
    "password", [PASSWORD + "\ufffe", PASSWORD + "\ue000", PASSWORD + "\u0085", "\u00ad"]
)
def test_password_saslprep_refuses_is_a_401_that_counts_toward_the_lockout(
    start_server: Callable[..., RunningServer], slapd: object, password: str
) -> None:
    """A password with a non-character, a private-use or a non-ASCII control character, or one that maps to
    nothing (RFC 4013 §2) is a wrong password: 401, not 500, and it counts toward the lockout like any other.
    (ASCII control characters are refused earlier by the DAV door, RFC 7617 §2; ManageSieve lets them reach
    the directory, see test_managesieve_hostile.py.)"""
    accounts = {"max_failures_per_login": "2", "failure_window": "60", "lockout": "60"}
    server = start_server(ldap_directory_section(slapd), accounts)
    for _ in range(2):
        status, headers, _ = request(server, "PROPFIND", "/", password=password)
        assert status == 401 and "www-authenticate" in headers
    assert request(server, "PROPFIND", "/", headers={"Depth": "0"})[0] == 401, "locked out"
