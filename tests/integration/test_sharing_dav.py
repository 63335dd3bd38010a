# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared agendas through the real server: the caldav client lists and writes per level, non-members are
refused, free-busy members see busy periods only, the admin API and CLI answer with clear errors, and changes
count at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from caldav.collection import Calendar
from caldav.davclient import DAVClient
from caldav.lib import error as caldav_error
from support import DAV, RunningServer, ok_prop, request, responses

from groupware import cli

ETAB = "ou=etab-0341234A,ou=groups,dc=ac-montpellier,dc=fr"
AGENDA = "/etab-0341234A/direction/"
SLUG = "etab-0341234A-direction"
TITLE = "Direction du Collège Jean Moulin"
ADMIN = ("admin.groupware", "admin-demo")
API = "/.groupware/api/v1/agendas"
JSON = {"Content-Type": "application/json"}
EVENT = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//groupware tests//EN\r
BEGIN:VEVENT\r
UID:{uid}\r
DTSTAMP:20261120T080000Z\r
DTSTART:20261201T090000Z\r
DTEND:20261201T100000Z\r
SUMMARY:Conseil pédagogique secret\r
LOCATION:Salle 12\r
ATTENDEE:mailto:helene.lefevre@ac-montpellier.fr\r
END:VEVENT\r
END:VCALENDAR\r
"""


def login(user: str) -> tuple[str, str]:
    return (user, "admin-demo") if user == "admin.groupware" else (user, f"{user}-demo")


def api(
    server: RunningServer,
    method: str,
    path: str,
    body: dict[str, str] | None = None,
    who: tuple[str, str] | None = ADMIN,
) -> tuple[int, Any]:
    name, password = who or (None, "")
    status, _, data = request(
        server, method, API + path, name, password, body=json.dumps(body or {}), headers=JSON
    )
    return status, json.loads(data)


@pytest.fixture
def server(start_server: Callable[..., RunningServer]) -> Iterator[RunningServer]:
    running = start_server()
    assert api(running, "POST", "", {"path": AGENDA, "title": TITLE})[0] == 201
    for grantee, level in (
        (f"cn=enseignants,{ETAB}", "read"),
        (f"cn=direction,{ETAB}", "read-write"),
        ("cecile.fabre", "free-busy"),
    ):
        assert api(running, "POST", f"{AGENDA}grants", {"grantee": grantee, "level": level})[0] == 200
    yield running


_clients: list[DAVClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    """Close every client's connection pool (waitress's select() loop cannot watch descriptors ≥ 1024)."""
    yield
    while _clients:
        _clients.pop().close()


def client(server: RunningServer, user: str) -> DAVClient:
    name, password = login(user)
    _clients.append(DAVClient(url=server.url + "/", username=name, password=password))
    return _clients[-1]


def shared_calendar(server: RunningServer, user: str) -> Calendar:
    calendars = client(server, user).principal().calendars()
    [found] = [c for c in calendars if c.url.path == f"/{user}/{SLUG}/"]
    return found


def test_members_list_the_agenda_and_write_per_level(server: RunningServer) -> None:
    teacher = shared_calendar(server, "helene.lefevre")
    assert teacher.get_display_name() == TITLE
    head = shared_calendar(server, "francois.muller")
    head.save_event(EVENT.format(uid="conseil"))
    with pytest.raises(caldav_error.AuthorizationError):
        teacher.save_event(EVENT.format(uid="intrus"))
    [event] = teacher.events()  # type: ignore[misc]  # caldav types its methods for sync and async clients
    assert event.icalendar_component["uid"] == "conseil"
    assert [c.url.path for c in client(server, "stephane.chabert").principal().calendars()] == [
        "/stephane.chabert/calendar/"
    ]


def _privileges(server: RunningServer, user: str, path: str) -> set[str]:
    body = '<propfind xmlns="DAV:"><prop><current-user-privilege-set/></prop></propfind>'
    status, _, data = request(server, "PROPFIND", path, *login(user), body=body, headers={"Depth": "0"})
    assert status == 207
    found = ok_prop(next(iter(responses(data).values())), DAV + "current-user-privilege-set")
    assert found is not None
    return {child[0].tag.split("}")[1] for child in found}


def test_privilege_set_matches_the_level(server: RunningServer) -> None:
    """RFC 3744 §5.4: a read-only agenda shows only read (Thunderbird then marks it read-only)."""
    assert _privileges(server, "helene.lefevre", f"/helene.lefevre/{SLUG}/") == {"read", "read-free-busy"}
    assert "write-content" in _privileges(server, "francois.muller", f"/francois.muller/{SLUG}/")
    assert _privileges(server, "cecile.fabre", f"/cecile.fabre/{SLUG}/") == {"read-free-busy"}


def test_non_members_are_refused(server: RunningServer) -> None:
    request(
        server,
        "PUT",
        f"/francois.muller/{SLUG}/conseil.ics",
        *login("francois.muller"),
        body=EVENT.format(uid="conseil"),
        headers={"Content-Type": "text/calendar"},
    )
    outsider = login("stephane.chabert")
    assert (
        request(server, "PROPFIND", f"/stephane.chabert/{SLUG}/", *outsider, headers={"Depth": "0"})[0] == 404
    )
    assert request(server, "PROPFIND", AGENDA, *outsider, headers={"Depth": "0"})[0] == 403
    assert request(server, "GET", f"{AGENDA}conseil.ics", *outsider)[0] == 403
    assert request(server, "GET", f"/francois.muller/{SLUG}/conseil.ics", *outsider)[0] in (403, 404)
    assert request(server, "GET", f"{AGENDA}conseil.ics", *login("helene.lefevre"))[0] == 200


FREEBUSY = """<?xml version="1.0" encoding="utf-8" ?>
<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">
  <C:time-range start="20261130T000000Z" end="20261203T000000Z"/>
</C:free-busy-query>"""
QUERY = """<?xml version="1.0" encoding="utf-8" ?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"/></C:filter>
</C:calendar-query>"""


def test_free_busy_member_gets_busy_periods_only(server: RunningServer) -> None:
    """RFC 4791 §7.10: free-busy-query answers VFREEBUSY; nothing reveals titles, places or attendees."""
    request(
        server,
        "PUT",
        f"{AGENDA}conseil.ics",
        *login("francois.muller"),
        body=EVENT.format(uid="conseil"),
        headers={"Content-Type": "text/calendar"},
    )
    who, path = login("cecile.fabre"), f"/cecile.fabre/{SLUG}/"
    status, _, data = request(server, "REPORT", path, *who, body=FREEBUSY, headers={"Depth": "1"})
    text = data.decode()
    assert status == 200 and "FREEBUSY" in text and "20261201T090000Z" in text
    for secret in ("Conseil", "Salle", "helene", "SUMMARY", "LOCATION", "ATTENDEE"):
        assert secret not in text
    view = request(server, "GET", f"{path}?view=freebusy&start=20261130T000000Z&end=20261203T000000Z", *who)
    assert view[0] == 200 and b"FREEBUSY" in view[2] and b"Conseil" not in view[2]
    assert request(server, "REPORT", path, *who, body=QUERY, headers={"Depth": "1"})[0] == 403
    assert request(server, "GET", f"{path}conseil.ics", *who)[0] == 403
    assert request(server, "PROPFIND", path, *who, headers={"Depth": "1"})[0] == 403
    calendar = Calendar(client=client(server, "cecile.fabre"), url=server.url + path)
    answer = calendar.freebusy_request(datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC))
    text = answer.data
    assert "FREEBUSY" in text and "Conseil" not in text and "Salle" not in text
    with pytest.raises(caldav_error.AuthorizationError):
        calendar.events()


def test_api_answers_with_json_errors(server: RunningServer) -> None:
    assert api(server, "GET", "", who=None)[0] == 401
    assert api(server, "GET", "", who=login("helene.lefevre")) == (
        403,
        {"error": "only members of the admin group may manage agendas", "status": 403},
    )
    assert api(server, "POST", "", {"path": AGENDA})[0] == 409
    assert api(server, "GET", "/etab-0341234A/absent")[0] == 404
    status, body = api(server, "POST", f"{AGENDA}grants", {"grantee": "personne.inconnue", "level": "read"})
    assert (status, body["error"]) == (404, "unknown person 'personne.inconnue'")
    status, body = api(
        server, "POST", f"{AGENDA}grants", {"grantee": "cn=nope,ou=groups,dc=x", "level": "read"}
    )
    assert (status, body["error"]) == (404, "unknown group 'cn=nope,ou=groups,dc=x'")
    assert (
        api(server, "POST", f"{AGENDA}grants", {"grantee": "@ac-montpellier.fr", "level": "read-write"})[0]
        == 403
    )
    status, body = api(server, "GET", AGENDA.rstrip("/"))
    assert status == 200 and {g["level"] for g in body["grants"]} == {"read", "read-write", "free-busy"}
    assert api(server, "DELETE", f"{AGENDA}grants/cecile.fabre")[0] == 200
    assert api(server, "DELETE", f"{AGENDA}grants/cecile.fabre")[0] == 404
    assert api(server, "GET", "", who=("admin.groupware", "wrong"))[0] == 401


def test_sharing_api_answers_name_one_charset(server: RunningServer) -> None:
    """Radicale's ``/.sharing/v1`` API answers JSON whose type carries ``charset=utf-8`` once."""
    body = json.dumps({"PathMapped": "/helene.lefevre/calendar/"})
    for path in ("/.sharing/v1/map/list", "/.sharing/v1/map/create"):
        _, headers, _ = request(server, "POST", path, *login("helene.lefevre"), body=body, headers=JSON)
        assert headers["content-type"] == "application/json; charset=utf-8", path


def test_cli_changes_count_on_the_next_request(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = server.config.path
    who, path = login("stephane.chabert"), f"/stephane.chabert/{SLUG}/"
    assert request(server, "PROPFIND", path, *who, headers={"Depth": "0"})[0] == 404
    assert cli.main(["agenda", "--config", config, "grant", AGENDA, "stephane.chabert", "read"]) == 0
    assert request(server, "PROPFIND", path, *who, headers={"Depth": "0"})[0] == 207
    assert cli.main(["agenda", "--config", config, "revoke", AGENDA, "stephane.chabert"]) == 0
    assert request(server, "PROPFIND", path, *who, headers={"Depth": "0"})[0] == 404
    assert cli.main(["agenda", "--config", config, "grant", AGENDA, "nobody.here", "read"]) == 1
    assert "unknown person 'nobody.here'" in capsys.readouterr().err
    assert cli.main(["agenda", "--config", config, "show", "/etab-0341234A/absent/"]) == 1
    assert "no agenda at /etab-0341234A/absent/" in capsys.readouterr().err


def test_provision_then_members_find_their_agendas(server: RunningServer, tmp_path: Path) -> None:
    status, report = api(server, "POST", "/provision")
    assert status == 200 and len(report["created"]) == 11  # type: ignore[arg-type]
    assert api(server, "POST", "/provision")[1]["created"] == []
    names = {c.url.path for c in client(server, "helene.lefevre").principal().calendars()}
    assert {
        "/helene.lefevre/etab-0341234A-enseignants/",
        "/helene.lefevre/etab-0341234A-personnels/",
    } <= names
    assert "/helene.lefevre/etab-0341234A-administratifs/" not in names
