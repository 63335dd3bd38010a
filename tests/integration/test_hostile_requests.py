# SPDX-License-Identifier: GPL-3.0-or-later
"""Malformed or hostile HTTP requests get a 4xx with a reason, never a 500, and reveal nothing of others
(RFC 9110 §15.5, RFC 4918 §16 preconditions): Basic credentials without a colon, sharing API calls on other
people's grants, sharing paths with ``..`` or ``//``, JSON that is not UTF-8, XML nested beyond reason."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support import RunningServer, request

JSON = {"Content-Type": "application/json", "Accept": "application/json"}
OWN = "/helene.lefevre/calendar/"


def login(user: str) -> tuple[str, str]:
    return user, "admin-demo" if user == "admin.groupware" else f"{user}-demo"


def raw(server: RunningServer, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> int:
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


@pytest.mark.parametrize(
    "credentials",
    [b"helene.lefevre", b"", b"\xff\xfe:x", b":", b"helene.lefevre:helene.lefevre-demo\x00"],
    ids=["no-colon", "empty", "not-utf8", "only-colon", "control-character"],
)
def test_malformed_basic_credentials_get_401(
    start_server: Callable[..., RunningServer], credentials: bytes
) -> None:
    server = start_server()
    header = {"Authorization": "Basic " + base64.b64encode(credentials).decode(), "Depth": "0"}
    assert raw(server, "PROPFIND", "/helene.lefevre/", header) == 401
    for value in ("Basic %%%not-base64", "BasicaGVsZW5lOng=", "Basic aGVsZW5lOng= x"):
        assert raw(server, "PROPFIND", "/", {"Authorization": value, "Depth": "0"}) == 401, value


def test_sharing_lists_only_what_the_caller_may_see(start_server: Callable[..., RunningServer]) -> None:
    server = start_server()
    request(server, "PROPFIND", OWN, *login("helene.lefevre"), headers={"Depth": "0"})
    body = json.dumps({"PathMapped": OWN, "User": "marie.martin", "Permissions": "r"})
    status, _, _ = request(
        server, "POST", "/.sharing/v1/map/create", *login("helene.lefevre"), body=body, headers=JSON
    )
    assert status == 200
    paths = ("/.sharing/v1/map/list", "/x/map/list", "/.sharing/v1//map/list", "/.sharing/v1/x/map/list")
    probe = json.dumps({"PathMapped": "/", "PathOrToken": "/helene.lefevre/"})
    for path in (*paths, "/.sharing/v1/token/list", "/.sharing/v1/map/update", "/.sharing/v1/map/hide"):
        status, _, data = request(server, "POST", path, *login("zoe.nguyen"), body=probe, headers=JSON)
        assert status in (200, 400, 404, 405), path
        assert b"helene.lefevre" not in data and b"marie.martin" not in data, path
    status, _, data = request(server, "POST", paths[0], *login("marie.martin"), body="{}", headers=JSON)
    assert status == 200 and json.loads(data)["Lines"] == 1


@pytest.mark.parametrize(
    "mapped",
    ["/helene.lefevre/../marie.martin/calendar/", "helene.lefevre/calendar/", "//helene.lefevre/calendar/"],
    ids=["dot-dot", "relative", "double-slash"],
)
def test_malformed_sharing_paths_get_400(start_server: Callable[..., RunningServer], mapped: str) -> None:
    server = start_server()
    body = json.dumps({"PathMapped": mapped, "User": "zoe.nguyen", "Permissions": "r"})
    status, _, _ = request(
        server, "POST", "/.sharing/v1/map/create", *login("helene.lefevre"), body=body, headers=JSON
    )
    assert status == 400


@pytest.mark.parametrize("permissions", ["zz", "", "rwx!"], ids=["letters", "empty", "junk"])
def test_garbage_sharing_permissions_get_400(
    start_server: Callable[..., RunningServer], permissions: str
) -> None:
    server = start_server()
    request(server, "PROPFIND", OWN, *login("helene.lefevre"), headers={"Depth": "0"})
    body = json.dumps({"PathMapped": OWN, "User": "zoe.nguyen", "Permissions": permissions})
    status, _, _ = request(
        server, "POST", "/.sharing/v1/map/create", *login("helene.lefevre"), body=body, headers=JSON
    )
    assert status == 400


def test_json_that_is_not_utf8_gets_400(start_server: Callable[..., RunningServer]) -> None:
    server = start_server()
    token = base64.b64encode(b"helene.lefevre:helene.lefevre-demo").decode()
    headers = {"Authorization": f"Basic {token}", **JSON}
    assert raw(server, "POST", "/.sharing/v1/map/list", headers, b'{"PathMapped": "\xff\xfe"}') == 400


def test_deeply_nested_xml_gets_400(start_server: Callable[..., RunningServer]) -> None:
    server = start_server()
    body = '<propfind xmlns="DAV:">' + "<prop>" * 100_000 + "</prop>" * 100_000 + "</propfind>"
    status, _, _ = request(
        server, "PROPFIND", "/helene.lefevre/", *login("helene.lefevre"), body=body, headers={"Depth": "0"}
    )
    assert status == 400


def _proppatch(name: str) -> str:
    return (
        '<propertyupdate xmlns="DAV:"><set><prop><displayname>'
        + name
        + "</displayname></prop></set></propertyupdate>"
    )


def test_oversized_properties_get_413_and_nothing_changes(start_server: Callable[..., RunningServer]) -> None:
    server = start_server()
    user = login("helene.lefevre")
    request(server, "PROPFIND", OWN, *user, headers={"Depth": "0"})
    assert request(server, "PROPPATCH", OWN, *user, body=_proppatch("Réunions"))[0] == 207
    status, _, reason = request(server, "PROPPATCH", OWN, *user, body=_proppatch("x" * 5_000_000))
    assert status == 413 and b"displayname" in reason
    status, _, data = request(
        server,
        "PROPFIND",
        OWN,
        *user,
        body='<propfind xmlns="DAV:"><prop><displayname/></prop></propfind>',
        headers={"Depth": "0"},
    )
    assert status == 207 and b"R\xc3\xa9unions" in data and len(data) < 10_000
    many = "".join(f'<X:p{i} xmlns:X="urn:x">{"y" * 4000}</X:p{i}>' for i in range(20))
    body = f'<propertyupdate xmlns="DAV:"><set><prop>{many}</prop></set></propertyupdate>'
    assert request(server, "PROPPATCH", OWN, *user, body=body)[0] == 413
    mkcalendar = (
        '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
        f"<C:calendar-description>{'z' * 10_000}</C:calendar-description></D:prop></D:set></C:mkcalendar>"
    )
    assert request(server, "MKCALENDAR", "/helene.lefevre/big/", *user, body=mkcalendar)[0] == 413
    assert request(server, "PROPFIND", "/helene.lefevre/big/", *user, headers={"Depth": "0"})[0] == 404


def test_limits_are_configurable(tmp_path: Path) -> None:
    from support import LDIF_DIRECTORY, write_config

    from groupware import config as config_module

    path = write_config(tmp_path / "g.conf", LDIF_DIRECTORY)
    path.write_text(path.read_text() + "[limits]\nmax_property_size = 10\nmax_xml_depth = 5\n")
    server = RunningServer(config_module.load(path))
    try:
        user = login("helene.lefevre")
        request(server, "PROPFIND", OWN, *user, headers={"Depth": "0"})
        assert request(server, "PROPPATCH", OWN, *user, body=_proppatch("Un nom bien trop long"))[0] == 413
        deep = '<propfind xmlns="DAV:"><prop><displayname><a><b><c/></b></a></displayname></prop></propfind>'
        assert request(server, "PROPFIND", OWN, *user, body=deep, headers={"Depth": "0"})[0] == 400
    finally:
        server.stop()


EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:r1\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART:20260105T090000Z\r\nRRULE:FREQ=DAILY;COUNT=5\r\nSUMMARY:Conseil\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def _calendar_query(inner: str, data: str = "<D:getetag/>") -> str:
    return (
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f"<D:prop>{data}</D:prop><C:filter>{inner}</C:filter></C:calendar-query>"
    )


INVALID_FILTERS = {
    "prop-filter-on-a-component": '<C:comp-filter name="VCALENDAR"><C:prop-filter name="VEVENT">'
    "<C:text-match>x</C:text-match></C:prop-filter></C:comp-filter>",
    "alarm-in-calendar": '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VALARM"/></C:comp-filter>',
    "no-vcalendar": '<C:comp-filter name="VEVENT"/>',
    "local-time": '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
    '<C:time-range start="20260105T000000"/></C:comp-filter></C:comp-filter>',
    "end-before-start": '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
    '<C:time-range start="20260106T000000Z" end="20260105T000000Z"/></C:comp-filter></C:comp-filter>',
    "year-zero": '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
    '<C:time-range start="00000101T000000Z"/></C:comp-filter></C:comp-filter>',
}


@pytest.mark.parametrize("inner", INVALID_FILTERS.values(), ids=INVALID_FILTERS.keys())
def test_invalid_calendar_filters_get_valid_filter_precondition(
    start_server: Callable[..., RunningServer], inner: str
) -> None:
    """RFC 4791 §7.8 CALDAV:valid-filter: 403 with the precondition, never a 500 for the collection."""
    server = start_server()
    user = login("helene.lefevre")
    request(server, "PROPFIND", "/helene.lefevre/", *user, headers={"Depth": "1"})
    headers = {"Content-Type": "text/calendar"}
    assert request(server, "PUT", f"{OWN}r1.ics", *user, body=EVENT, headers=headers)[0] == 201
    status, _, body = request(
        server, "REPORT", OWN, *user, body=_calendar_query(inner), headers={"Depth": "1"}
    )
    assert status == 403 and b"valid-filter" in body
    valid = (
        '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY">'
        "<C:text-match>conseil</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>"
    )
    status, _, body = request(
        server, "REPORT", OWN, *user, body=_calendar_query(valid), headers={"Depth": "1"}
    )
    assert status == 207 and b"r1.ics" in body


API = "/.groupware/api/v1/agendas"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 413),
        (b"[" * 5_000 + b"]" * 5_000, 400),
        (b'{"path": "\xff\xfe"}', 400),
        (b"{" * 10, 400),
    ],
    ids=["huge", "deep", "not-utf8", "broken"],
)
def test_agenda_api_refuses_bad_json(
    start_server: Callable[..., RunningServer], body: bytes, expected: int
) -> None:
    server = start_server()
    token = base64.b64encode(b"admin.groupware:admin-demo").decode()
    headers = {"Authorization": f"Basic {token}", **JSON}
    assert raw(server, "POST", API, headers, body) == expected
    assert raw(server, "POST", "/.sharing/v1/map/create", headers, body) in (400, 413)
    control = {"Authorization": "Basic " + base64.b64encode(b"admin.groupware:admin\x01demo").decode()}
    assert raw(server, "GET", API, control) == 401
