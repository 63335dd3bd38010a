# SPDX-License-Identifier: GPL-3.0-or-later
"""The private slapd (groupware.directory.slapd): demo load, ACLs, memberOf, size limit, paging, TLS, restart.

These tests fail, never skip, when slapd is missing: `apt-get install slapd ldap-utils`.
"""

from __future__ import annotations

import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest
from ldap3.core import exceptions as ldap_errors
from support import DEMO_LDIF, require_binaries

from groupware.directory import generate, schema
from groupware.directory.passwords import check_password
from groupware.directory.slapd import Slapd, SlapdError

pytestmark = pytest.mark.slapd

USER, PASSWORD = "helene.lefevre", "helene.lefevre-demo"
SHARED = "anais.berard"  # in two établissements
GROUPS = {
    schema.group_dn("0341234A", "personnels"),
    schema.group_dn("0341234A", "enseignants"),
    schema.group_dn("0300567B", "personnels"),
    schema.group_dn("0300567B", "enseignants"),
}


def _own_entry(conn: ldap3.Connection, dn: str, *attributes: str) -> dict[str, list[str]]:
    """What a person bound as ``dn`` reads of their own entry (a base search: "self read")."""
    assert conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=list(attributes)), conn.result
    return {k: v if isinstance(v, list) else [v] for k, v in conn.response[0]["attributes"].items()}


def _connect(
    uri: str, user: str | None = None, password: str | None = None, **server: object
) -> ldap3.Connection:
    conn = ldap3.Connection(
        ldap3.Server(uri, get_info=ldap3.NONE, connect_timeout=3, **server),
        user=user,
        password=password,
        receive_timeout=10,
        raise_exceptions=False,
    )
    assert conn.bind(), conn.result
    return conn


def _person(conn: ldap3.Connection, uid: str, *attributes: str) -> dict[str, list[str]]:
    assert conn.search(schema.PEOPLE_DN, f"(uid={uid})", attributes=list(attributes) or ["*"]), conn.result
    assert len(conn.response) == 1
    return {k: v if isinstance(v, list) else [v] for k, v in conn.response[0]["attributes"].items()}


@pytest.fixture(scope="module")
def demo() -> Iterator[Slapd]:
    require_binaries("slapd", "slapadd", packages="slapd ldap-utils")
    with Slapd(DEMO_LDIF, memberof=True) as server:
        yield server


def test_service_account_reads_people_but_not_passwords(demo: Slapd) -> None:
    conn = _connect(demo.uri, demo.service_dn, demo.service_password)
    person = _person(conn, USER, "*", "+")
    assert person["cn"] == ["Hélène Lefèvre"] and person["mail"] == [f"{USER}@{schema.MAIL_DOMAIN}"]
    assert person["departmentNumber"] == ["0341234A"] and person["employeeType"] == ["actif"]
    assert "userPassword" not in person and person["entryUUID"]
    assert conn.search(schema.GROUPS_DN, "(cn=direction)", attributes=["member"])
    assert len(conn.response) == 3


def test_users_bind_with_their_password_and_read_only_themselves(demo: Slapd) -> None:
    dn = schema.person_dn(USER)
    conn = _connect(demo.uri, dn, PASSWORD)
    assert conn.extend.standard.who_am_i() == f"dn:{dn}"
    assert _own_entry(conn, dn, "cn")["cn"] == ["Hélène Lefèvre"]
    assert "userPassword" not in _own_entry(conn, dn, "*")
    conn.search(schema.PEOPLE_DN, "(uid=francois.muller)", attributes=["cn"])
    assert not conn.entries, "a person reads nobody else"
    assert conn.rebind(schema.person_dn("francois.muller"), "francois.muller-demo"), "rebind as someone else"
    assert not conn.rebind(dn, "wrong"), "a wrong password is refused"
    assert not conn.rebind(schema.person_dn(schema.ADMIN_UID), "admin.groupware-demo")
    admin = _connect(demo.uri, schema.person_dn(schema.ADMIN_UID), "admin-demo")
    admin.unbind()


def test_anonymous_can_only_bind(demo: Slapd) -> None:
    conn = _connect(demo.uri)
    conn.search(schema.PEOPLE_DN, f"(uid={USER})", attributes=["cn"])
    assert not conn.response or not any(r.get("type") == "searchResEntry" for r in conn.response)


def test_member_of_is_written_at_load_and_kept_by_the_overlay(demo: Slapd) -> None:
    conn = _connect(demo.uri, demo.service_dn, demo.service_password)
    assert set(_person(conn, SHARED, "memberOf")["memberOf"]) == GROUPS
    admin = _person(conn, schema.ADMIN_UID, "memberOf")["memberOf"]
    assert admin == [schema.ADMIN_GROUP_DN]
    extra = f"cn=projet-occitan,{schema.etab_dn('0341234A')}"
    demo.add(
        f"dn: {extra}\nobjectClass: groupOfNames\ncn: projet-occitan\nmember: {schema.person_dn(SHARED)}\n"
    )
    try:
        assert set(_person(conn, SHARED, "memberOf")["memberOf"]) == GROUPS | {extra}
    finally:
        demo.delete(extra)
    assert set(_person(conn, SHARED, "memberOf")["memberOf"]) == GROUPS


def test_modify_helper(demo: Slapd) -> None:
    conn = _connect(demo.uri, demo.service_dn, demo.service_password)
    before = _person(conn, USER, "telephoneNumber")["telephoneNumber"]
    demo.modify(schema.person_dn(USER), {"telephoneNumber": "+33 4 67 00 00 00"})
    assert _person(conn, USER, "telephoneNumber")["telephoneNumber"] == ["+33 4 67 00 00 00"]
    demo.modify(schema.person_dn(USER), {"telephoneNumber": [(ldap3.MODIFY_REPLACE, before)]})
    assert _person(conn, USER, "telephoneNumber")["telephoneNumber"] == before
    with pytest.raises(SlapdError, match="noSuchObject"):
        demo.delete(schema.person_dn("nobody.here"))


def test_without_member_of() -> None:
    require_binaries("slapd", "slapadd", packages="slapd ldap-utils")
    with Slapd(DEMO_LDIF, memberof=False, service_password="fixed-secret") as server:
        assert server.service_password == "fixed-secret"
        conn = _connect(server.uri, server.service_dn, "fixed-secret")
        assert "memberOf" not in _person(conn, SHARED, "*", "+")
        assert "memberof" not in (server.workdir / "slapd.conf").read_text()


def test_size_limit_for_the_service_account_and_paged_search(tmp_path: Path) -> None:
    require_binaries("slapd", "slapadd", packages="slapd ldap-utils")
    generate.write_directory(tmp_path / "staff.ldif", 1200, seed=5)
    with Slapd(tmp_path / "staff.ldif") as server:
        conn = _connect(server.uri, server.service_dn, server.service_password)
        conn.search(schema.PEOPLE_DN, "(objectClass=inetOrgPerson)", attributes=["uid"])
        assert conn.result["description"] == "sizeLimitExceeded" and len(conn.entries) == 500
        paged = list(
            conn.extend.standard.paged_search(
                schema.PEOPLE_DN,
                "(objectClass=inetOrgPerson)",
                attributes=["uid"],
                paged_size=200,
                generator=True,
            )
        )
        assert len({e["dn"] for e in paged if e["type"] == "searchResEntry"}) == 1201
        root = _connect(server.uri, server.root_dn, server.root_password)
        assert root.search(schema.PEOPLE_DN, "(objectClass=inetOrgPerson)", attributes=["uid"])
        assert len(root.entries) == 1201
        person = schema.person_dn(paged[10]["attributes"]["uid"][0])
        uid = paged[10]["attributes"]["uid"][0]
        _connect(server.uri, person, f"{uid}-pw").unbind()


def test_stop_then_start_on_the_same_port_and_data(tmp_path: Path) -> None:
    require_binaries("slapd", "slapadd", packages="slapd ldap-utils")
    with Slapd(DEMO_LDIF) as server:
        port = server.port
        server.modify(schema.person_dn(USER), {"title": "Professeure principale"})
        server.stop()
        assert not server.running
        with pytest.raises(ldap_errors.LDAPException):
            ldap3.Connection(ldap3.Server(server.uri, connect_timeout=1), auto_bind=True)
        server.start()
        assert server.port == port and server.running
        conn = _connect(server.uri, schema.person_dn(USER), PASSWORD)
        assert _own_entry(conn, schema.person_dn(USER), "title")["title"] == ["Professeure principale"]
        workdir = server.workdir
    assert not workdir.exists() and not server.running


@pytest.fixture(scope="module")
def tls() -> Iterator[Slapd]:
    require_binaries("slapd", "slapadd", "openssl", packages="slapd ldap-utils openssl")
    with Slapd(DEMO_LDIF, memberof=False, tls=True) as server:
        yield server


def _tls(ca_file: str | None) -> ldap3.Tls:
    return ldap3.Tls(ca_certs_file=ca_file, validate=ssl.CERT_REQUIRED, version=ssl.PROTOCOL_TLS_CLIENT)


def test_starttls_with_the_ca_file(tls: Slapd) -> None:
    assert tls.ca_file and Path(tls.ca_file).exists()
    conn = ldap3.Connection(
        ldap3.Server(tls.uri, get_info=ldap3.NONE, tls=_tls(tls.ca_file)),
        user=schema.person_dn(USER),
        password=PASSWORD,
        raise_exceptions=False,
    )
    assert conn.start_tls() and conn.bind(), conn.result
    assert conn.extend.standard.who_am_i() == f"dn:{schema.person_dn(USER)}"


def test_ldaps_with_the_ca_file(tls: Slapd) -> None:
    assert tls.ldaps_uri.startswith("ldaps://127.0.0.1:")
    conn = _connect(tls.ldaps_uri, tls.service_dn, tls.service_password, use_ssl=True, tls=_tls(tls.ca_file))
    assert _person(conn, USER, "cn")["cn"] == ["Hélène Lefèvre"]
    localhost = tls.ldaps_uri.replace("127.0.0.1", "localhost")
    _connect(localhost, tls.service_dn, tls.service_password, use_ssl=True, tls=_tls(tls.ca_file)).unbind()


def test_ldaps_without_the_ca_is_refused(tls: Slapd) -> None:
    server = ldap3.Server(tls.ldaps_uri, get_info=ldap3.NONE, use_ssl=True, tls=_tls(None), connect_timeout=3)
    with pytest.raises(ldap_errors.LDAPException):
        ldap3.Connection(server, user=tls.service_dn, password=tls.service_password, auto_bind=True)


def test_no_ldaps_uri_without_tls(demo: Slapd) -> None:
    with pytest.raises(SlapdError, match="tls=True"):
        _ = demo.ldaps_uri


def test_our_hashes_and_slappasswd_agree() -> None:
    require_binaries("slappasswd", packages="slapd")
    stored = subprocess.run(
        ["slappasswd", "-s", "Mot-de-passe-é"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert stored.startswith("{SSHA}") and check_password(stored, "Mot-de-passe-é")


def test_command_line_runs_in_the_foreground_until_interrupted() -> None:
    require_binaries("slapd", "slapadd", packages="slapd ldap-utils")
    process = subprocess.Popen(
        [sys.executable, "-m", "groupware.directory.slapd", "--ldif", str(DEMO_LDIF)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner: dict[str, str] = {}
        deadline = time.monotonic() + 20
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line or line.startswith("Ctrl-C"):
                break
            name, _, value = line.partition(" ")
            banner[name] = value.strip()
        assert banner.get("uri", "").startswith("ldap://127.0.0.1:"), (banner, process.stderr)
        _connect(banner["uri"], banner["service_dn"], banner["service_password"]).unbind()
        _connect(banner["uri"], banner["root_dn"], banner["root_password"]).unbind()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
        process.communicate()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_missing_binaries_fail_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr("os.access", lambda path, mode: False)
    with pytest.raises(SlapdError, match="apt-get install slapd ldap-utils"), Slapd(DEMO_LDIF):
        pass


@pytest.mark.slow
def test_fifty_two_thousand_staff_load_quickly(tmp_path: Path) -> None:
    require_binaries("slapd", "slapadd", packages="slapd ldap-utils")
    started = time.monotonic()
    generate.write_directory(tmp_path / "staff.ldif", 52000)
    with Slapd(tmp_path / "staff.ldif") as server:
        elapsed = time.monotonic() - started
        conn = _connect(server.uri, schema.person_dn(schema.ADMIN_UID), f"{schema.ADMIN_UID}-pw")
        assert conn.extend.standard.who_am_i() == f"dn:{schema.person_dn(schema.ADMIN_UID)}"
    assert elapsed < 60, f"generating and loading 52,000 staff took {elapsed:.1f} s"
