# SPDX-License-Identifier: GPL-3.0-or-later
"""`groupware serve` end to end over HTTP: login, provisioning, discovery, rights, keep-alive."""

from __future__ import annotations

import base64
import http.client
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from support import CALDAV, CARDDAV, DAV, MAIL, PASSWORD, USER, RunningServer, ok_prop, request, responses

OTHER = "francois.muller"
DISABLED = "paul.durand"

PRINCIPAL_PROPS = """<?xml version="1.0" encoding="utf-8"?>
<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CR="urn:ietf:params:xml:ns:carddav">
 <prop><current-user-principal/><displayname/><C:calendar-home-set/><CR:addressbook-home-set/>
  <C:calendar-user-address-set/><resourcetype/></prop>
</propfind>"""


@pytest.fixture
def server(start_server: Callable[..., RunningServer]) -> RunningServer:
    return start_server()


def test_principal_home_sets_and_provisioned_collections(server: RunningServer) -> None:
    status, _, body = request(server, "PROPFIND", f"/{USER}/", body=PRINCIPAL_PROPS, headers={"Depth": "0"})
    assert status == 207
    principal = responses(body)[f"/{USER}/"]
    assert ok_prop(principal, DAV + "current-user-principal").findtext(DAV + "href") == f"/{USER}/"
    assert ok_prop(principal, CALDAV + "calendar-home-set").findtext(DAV + "href") == f"/{USER}/"
    assert ok_prop(principal, CARDDAV + "addressbook-home-set").findtext(DAV + "href") == f"/{USER}/"
    addresses = [
        h.text for h in ok_prop(principal, CALDAV + "calendar-user-address-set").iterfind(DAV + "href")
    ]
    assert addresses[0] == f"mailto:{MAIL}"
    assert ok_prop(principal, DAV + "displayname").text == "Hélène Lefèvre"

    status, _, body = request(server, "PROPFIND", f"/{USER}/", headers={"Depth": "1"}, body=PRINCIPAL_PROPS)
    assert status == 207
    collections = {
        href: ok_prop(r, DAV + "resourcetype") for href, r in responses(body).items() if href != f"/{USER}/"
    }
    kinds = {href: {child.tag for child in rt} for href, rt in collections.items() if rt is not None}
    assert {f"/{USER}/calendar/", f"/{USER}/contacts/"} <= set(kinds)
    assert CALDAV + "calendar" in kinds[f"/{USER}/calendar/"]
    assert CARDDAV + "addressbook" in kinds[f"/{USER}/contacts/"]


def test_calendar_accepts_events_and_tasks(server: RunningServer) -> None:
    request(server, "PROPFIND", f"/{USER}/", headers={"Depth": "0"})
    body = (
        '<propfind xmlns="DAV:"><prop><C:supported-calendar-component-set '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"/></prop></propfind>'
    )
    status, _, answer = request(server, "PROPFIND", f"/{USER}/calendar/", body=body, headers={"Depth": "0"})
    comps = ok_prop(responses(answer)[f"/{USER}/calendar/"], CALDAV + "supported-calendar-component-set")
    assert status == 207 and {c.get("name") for c in comps} == {"VEVENT", "VTODO"}


@pytest.mark.parametrize(
    "login, password",
    [
        (USER, "wrong"),
        (USER, ""),
        ("*)(uid=*", "x"),
        ("*", "*"),
        ("nobody", "nobody-demo"),
        (DISABLED, f"{DISABLED}-demo"),
    ],
)
def test_refused_logins_get_401_with_a_challenge(server: RunningServer, login: str, password: str) -> None:
    status, headers, _ = request(server, "PROPFIND", f"/{USER}/", login=login, password=password)
    assert status == 401
    assert headers["www-authenticate"].startswith("Basic realm=")


def test_no_credentials_get_401(server: RunningServer) -> None:
    assert request(server, "PROPFIND", "/", login=None)[0] == 401


def test_login_by_mail_maps_to_the_same_home(server: RunningServer) -> None:
    status, _, body = request(
        server, "PROPFIND", "/", login=MAIL.upper(), body=PRINCIPAL_PROPS, headers={"Depth": "0"}
    )
    assert status == 207
    assert ok_prop(responses(body)["/"], DAV + "current-user-principal").findtext(DAV + "href") == f"/{USER}/"


def test_another_persons_home_is_refused(server: RunningServer) -> None:
    request(server, "PROPFIND", "/", login=OTHER, password=f"{OTHER}-demo", headers={"Depth": "0"})
    for method in ("PROPFIND", "GET", "DELETE"):
        status, _, _ = request(server, method, f"/{OTHER}/calendar/", headers={"Depth": "0"})
        assert status in (403, 404), method
    event = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:x1\r\n"
        "DTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    status, _, _ = request(
        server, "PUT", f"/{OTHER}/calendar/x1.ics", body=event, headers={"Content-Type": "text/calendar"}
    )
    assert status in (403, 404)


def test_admin_may_read_any_home(server: RunningServer) -> None:
    request(server, "PROPFIND", "/", login=OTHER, password=f"{OTHER}-demo", headers={"Depth": "0"})
    status, _, _ = request(
        server,
        "PROPFIND",
        f"/{OTHER}/calendar/",
        login="admin.groupware",
        password="admin-demo",
        headers={"Depth": "0"},
    )
    assert status == 207


@pytest.mark.parametrize("path", ["/.well-known/caldav", "/.well-known/carddav"])
@pytest.mark.parametrize("method", ["PROPFIND", "GET"])
def test_well_known_redirects_for_every_method(server: RunningServer, path: str, method: str) -> None:
    status, headers, _ = request(server, method, path, login=None)
    assert status in (301, 308) and headers["location"].endswith("/")


def test_keep_alive_serves_many_requests_on_one_connection(server: RunningServer) -> None:
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    status, _, _ = request(server, "PROPFIND", f"/{USER}/", headers={"Depth": "0"}, conn=conn)
    first = conn.sock
    assert status == 207 and first is not None, "the server closed the connection"
    for _ in range(4):
        status, headers, _ = request(server, "PROPFIND", f"/{USER}/", headers={"Depth": "0"}, conn=conn)
        assert status == 207 and headers.get("connection", "").lower() != "close"
        assert conn.sock is first, "http.client opened a new connection: the server closed the first one"


def test_oversized_request_is_refused_before_its_body_is_read(server: RunningServer) -> None:
    parts = urlsplit(server.url)
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            f"PUT /{USER}/calendar/big.ics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n"
            "Content-Type: text/calendar\r\nContent-Length: 200000000\r\n\r\n".encode()
        )
        assert sock.recv(4096).split(b" ", 2)[1] == b"413"


def test_principal_named_by_mail(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(accounts={"principal": "mail"})
    status, _, body = request(
        server, "PROPFIND", "/", login=USER, body=PRINCIPAL_PROPS, headers={"Depth": "0"}
    )
    assert status == 207
    href = ok_prop(responses(body)["/"], DAV + "current-user-principal").findtext(DAV + "href")
    assert href in (f"/{MAIL}/", "/helene.lefevre%40ac-montpellier.fr/")
    for path in (f"/{MAIL}/calendar/", "/helene.lefevre%40ac-montpellier.fr/calendar/"):
        status, _, _ = request(server, "PROPFIND", path, login=MAIL, headers={"Depth": "0"})
        assert status == 207, path
