# SPDX-License-Identifier: GPL-3.0-or-later
"""The agenda API (sans-IO), the principal search documents and the sharing adapter's helpers."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support import DEMO_LDIF

from groupware.config import DirectoryConfig
from groupware.dav.principal_search import PeopleIndex, fold, search_property_set, search_response
from groupware.directory.ldif import LdifDirectory
from groupware.plugins.sharing import level_of_letters, split_group_dns
from groupware.sharing import Level, SharingDatabase, SharingService
from groupware.sharing.api import PREFIX, AgendaApi, Caller

ADMINS = "cn=groupware-admins,ou=groups,dc=ac-montpellier,dc=fr"
DIRECTION = "cn=direction,ou=etab-0341234A,ou=groups,dc=ac-montpellier,dc=fr"
ADMIN = Caller("admin.groupware", frozenset({ADMINS}))


@pytest.fixture
def directory() -> LdifDirectory:
    return LdifDirectory(DirectoryConfig(type="ldif", file=str(DEMO_LDIF)))


@pytest.fixture
def api(tmp_path: Path, directory: LdifDirectory) -> AgendaApi:
    return AgendaApi(
        SharingService(SharingDatabase(str(tmp_path / "g.sqlite")), directory, admin_group=ADMINS)
    )


def call(
    api: AgendaApi,
    method: str,
    path: str = "",
    body: dict[str, str] | None = None,
    caller: Caller = ADMIN,
    query: str = "",
) -> tuple[int, dict[str, object]]:
    return api.handle(method, PREFIX + path, query, json.dumps(body).encode() if body else b"", caller)


def test_api_routes_and_errors(api: AgendaApi) -> None:
    assert call(api, "GET", caller=Caller(None))[0] == 401
    assert call(api, "GET", caller=Caller("helene.lefevre", frozenset({DIRECTION})))[0] == 403
    assert call(api, "POST", "", {"path": "/etab-0341234A/direction/", "title": "Direction"})[0] == 201
    assert call(api, "POST", "", {"path": "/etab-0341234A/direction/"})[0] == 409
    assert call(api, "POST", "", {"path": "/too/many/segments/"})[0] == 400
    assert call(api, "POST", "", {"title": "no path"})[0] == 400
    assert call(api, "PUT", "/etab-0341234A/direction")[0] == 405
    assert call(api, "GET", "/nothing")[0] == 404
    assert call(api, "GET", "/etab-0341234A/direction/other")[0] == 404
    assert api.handle("POST", PREFIX, "", b"[1]", ADMIN)[0] == 400
    assert api.handle("POST", PREFIX, "", b"{", ADMIN)[0] == 400
    grant = {"grantee": DIRECTION, "level": "read-write"}
    assert call(api, "POST", "/etab-0341234A/direction/grants", grant)[0] == 200
    assert (
        call(api, "POST", "/etab-0341234A/direction/grants", {"grantee": DIRECTION, "level": "owner"})[0]
        == 400
    )
    assert (
        call(api, "GET", "", query="owner=etab-0341234A")[1]["agendas"][0]["slug"]  # type: ignore[index]
        == "etab-0341234A-direction"
    )
    revoke = "/etab-0341234A/direction/grants/" + DIRECTION.replace(",", "%2C").replace("=", "%3D")
    assert call(api, "DELETE", revoke)[0] == 200
    assert call(api, "DELETE", "/etab-0341234A/direction")[0] == 200
    assert call(api, "GET", "/etab-0341234A/direction")[0] == 404


def test_letters_and_group_candidates() -> None:
    assert [level_of_letters(x) for x in ("f", "r", "rw", "rwM")] == [
        Level.FREE_BUSY,
        Level.READ,
        Level.READ_WRITE,
        Level.MANAGE,
    ]
    joined = f"{DIRECTION},cn=personnels,ou=etab-0341234A,ou=groups,dc=ac-montpellier,dc=fr"
    candidates = split_group_dns(joined)
    assert (
        DIRECTION in candidates
        and "cn=personnels,ou=etab-0341234A,ou=groups,dc=ac-montpellier,dc=fr" in candidates
    )
    assert split_group_dns(",".join(["dc=x"] * 100)) == set()


def test_principal_search_documents(directory: LdifDirectory) -> None:
    index = PeopleIndex(directory.iter_people, lambda person: person.uid)
    assert fold("Hélène LEFÈVRE") == "helene lefevre"
    query = ET.fromstring(
        '<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop><D:displayname/></D:prop>'
        "<D:match>MARTIN</D:match></D:property-search><D:prop><D:displayname/></D:prop>"
        "</D:principal-property-search>"
    )
    hrefs = [h.text for h in search_response(query, index, "/dav").iter("{DAV:}href")]
    assert hrefs == ["/dav/marie.martin/", "/dav/marie.martin2/"]
    empty = ET.fromstring('<D:principal-property-search xmlns:D="DAV:"/>')
    assert len(search_response(empty, index)) == 0
    names = {p.tag for p in search_property_set().iter() if p.tag.endswith(("displayname", "address-set"))}
    assert names == {
        "{DAV:}displayname",
        "{urn:ietf:params:xml:ns:caldav}calendar-user-address-set",
        "{http://calendarserver.org/ns/}email-address-set",
    }
