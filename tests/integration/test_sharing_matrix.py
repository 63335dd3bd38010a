# SPDX-License-Identifier: GPL-3.0-or-later
"""People × agendas × levels × methods: no request succeeds beyond its grant, every request within it
succeeds, through the member's mapped path and through the agenda's own path; a revoke counts on the next
request.

Needed level per operation (RFC 3744 privileges as the levels map them): PROPFIND depth 0 and free-busy-query
(RFC 4791 §7.10) need free-busy; PROPFIND depth 1, GET (item or whole collection), calendar-query and
sync-collection (RFC 6578) and COPY of an item or of the whole collection into one's own home
(RFC 4918 §9.8) need read; PUT and DELETE of an item need read-write; PROPPATCH of the collection
needs manage.
"""

from __future__ import annotations

import itertools
import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import DAV, LDIF_DIRECTORY, RunningServer, request, write_config

from groupware import config as config_module
from groupware.sharing import Level

ORG = "/etab-0341234A/direction/"
OWN = "/helene.lefevre/calendar/"
SLUGS = {ORG: "etab-0341234A-direction", OWN: "helene.lefevre-calendar"}
ENSEIGNANTS = "cn=enseignants,ou=etab-0341234A,ou=groups,dc=ac-montpellier,dc=fr"
ADMINISTRATIFS = "cn=administratifs,ou=etab-0341234A,ou=groups,dc=ac-montpellier,dc=fr"
GRANTS = {
    ORG: [
        ("francois.muller", "read-write"),
        ("zoe.nguyen", "manage"),
        (ENSEIGNANTS, "read"),
        ("cecile.fabre", "free-busy"),
    ],
    OWN: [
        ("marie.martin", "read-write"),
        ("jerome.barthelemy", "free-busy"),
        (ADMINISTRATIFS, "read"),
        ("@ac-montpellier.fr", "free-busy"),
    ],
}
F, R, W, M = Level.FREE_BUSY, Level.READ, Level.READ_WRITE, Level.MANAGE
EXPECTED: dict[str, dict[str, Level | None]] = {
    "francois.muller": {ORG: W, OWN: F},
    "zoe.nguyen": {ORG: M, OWN: F},
    "helene.lefevre": {ORG: R},
    "cecile.fabre": {ORG: F, OWN: R},
    "stephane.chabert": {ORG: None, OWN: F},
    "marie.martin": {ORG: R, OWN: W},
    "jerome.barthelemy": {ORG: R, OWN: F},
    "agnes.pages": {ORG: None, OWN: F},
}
CASES = [(person, agenda) for person, levels in EXPECTED.items() for agenda in levels]
ADMIN = ("admin.groupware", "admin-demo")
EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261120T080000Z\r\n"
    "DTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\nSUMMARY:Secret "
    "{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
QUERY = (
    '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>'
    '<C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>'
)
FREEBUSY = (
    '<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20261130T000000Z" '
    'end="20261203T000000Z"/></C:free-busy-query>'
)
SYNC = (
    '<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/>'
    "</D:prop></D:sync-collection>"
)
PROPPATCH = (
    '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>{name}</D:displayname></D:prop>'
    "</D:set></D:propertyupdate>"
)
PROPS = '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:displayname/></D:prop></D:propfind>'


def login(user: str) -> tuple[str, str]:
    return user, f"{user}-demo"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    path = write_config(tmp_path_factory.mktemp("matrix") / "groupware.conf", LDIF_DIRECTORY)
    running = RunningServer(config_module.load(path))
    api = "/.groupware/api/v1/agendas"
    request(running, "PROPFIND", "/helene.lefevre/", *login("helene.lefevre"), headers={"Depth": "1"})
    assert (
        request(running, "POST", api, *ADMIN, body=json.dumps({"path": ORG, "title": "Direction"}))[0] == 201
    )
    share = "/.sharing/v1/map/create"
    for agenda, grants in GRANTS.items():
        for grantee, level in grants:
            if agenda == ORG:
                body, target, who = {"grantee": grantee, "level": level}, f"{api}{ORG}grants", ADMIN
            else:
                user = f":{grantee}" if "=" in grantee else grantee
                body, target, who = (
                    {"PathMapped": OWN, "User": user, "Level": level},
                    share,
                    login("helene.lefevre"),
                )
            assert request(
                running,
                "POST",
                target,
                *who,
                body=json.dumps(body),
                headers={"Content-Type": "application/json"},
            )[0] in (200, 201)
    yield running
    running.stop()


def _proppatch_ok(answer: tuple[int, dict[str, str], bytes]) -> bool:
    status, _, body = answer
    if status != 207:
        return False
    statuses = [s.text or "" for s in ET.fromstring(body).iter(DAV + "status")]
    return bool(statuses) and all(" 200 " in s for s in statuses)


def _copied(server: RunningServer, who: tuple[str, str], source: str, destination: str) -> bool:
    """Whether ``who`` could COPY ``source`` (RFC 4918 §9.8) into their home and then read the copy: an item
    into a calendar of theirs made for it, a collection to ``destination``."""
    request(server, "PROPFIND", f"/{who[0]}/", *who, headers={"Depth": "0"})  # the home, made at first use
    if not source.endswith("/"):
        assert request(server, "MKCALENDAR", destination, *who)[0] == 201
        destination += "copied.ics"
    headers = {"Destination": f"{server.url}{destination}"}
    if request(server, "COPY", source, *who, headers=headers)[0] not in (201, 204):
        return False
    return request(server, "GET", destination, *who)[0] == 200


def _operations(
    server: RunningServer, who: tuple[str, str], base: str, tag: str
) -> dict[str, tuple[Level, bool]]:
    """Run every operation on ``base`` as ``who``: name → (level needed, succeeded)."""
    item = f"{base}victim-{tag}.ics"
    calendar = {"Content-Type": "text/calendar"}
    ops = {
        "PROPFIND 0": (
            F,
            request(server, "PROPFIND", base, *who, body=PROPS, headers={"Depth": "0"})[0] == 207,
        ),
        "PROPFIND 1": (
            R,
            request(server, "PROPFIND", base, *who, body=PROPS, headers={"Depth": "1"})[0] == 207,
        ),
        "GET": (R, request(server, "GET", item, *who)[0] == 200),
        "GET If-None-Match": (  # RFC 7232 §3.2: 304 tells the item exists
            R,
            request(server, "GET", item, *who, headers={"If-None-Match": "*"})[0] == 304,
        ),
        "REPORT query": (
            R,
            request(server, "REPORT", base, *who, body=QUERY, headers={"Depth": "1"})[0] == 207,
        ),
        "REPORT sync": (
            R,
            request(server, "REPORT", base, *who, body=SYNC, headers={"Depth": "1"})[0] == 207,
        ),
        "GET collection": (R, request(server, "GET", base, *who)[0] == 200),
        "REPORT free-busy": (
            F,
            request(server, "REPORT", base, *who, body=FREEBUSY, headers={"Depth": "1"})[0] == 200,
        ),
        "PUT": (
            W,
            request(
                server,
                "PUT",
                f"{base}new-{tag}.ics",
                *who,
                body=EVENT.format(uid=f"new-{tag}"),
                headers=calendar,
            )[0]
            in (201, 204),
        ),
        "COPY item": (R, _copied(server, who, item, f"/{who[0]}/{uuid.uuid4().hex}/")),
        "COPY collection": (R, _copied(server, who, base, f"/{who[0]}/{uuid.uuid4().hex}/")),
        "DELETE": (W, request(server, "DELETE", item, *who)[0] in (200, 204)),
        "PROPPATCH": (
            M,
            _proppatch_ok(
                request(server, "PROPPATCH", base, *who, body=PROPPATCH.format(name=f"renamed by {tag}"))
            ),
        ),
    }
    return {name: (needed, ok) for name, (needed, ok) in ops.items()}


@pytest.mark.parametrize(("person", "agenda"), CASES)
def test_nothing_succeeds_beyond_the_grant(server: RunningServer, person: str, agenda: str) -> None:
    level = EXPECTED[person][agenda]
    failures = []
    for route, base in (("mapped", f"/{person}/{SLUGS[agenda]}/"), ("direct", agenda)):
        tag = f"{person}-{route}"
        put = request(
            server,
            "PUT",
            f"{agenda}victim-{tag}.ics",
            *ADMIN,
            body=EVENT.format(uid=f"victim-{tag}"),
            headers={"Content-Type": "text/calendar"},
        )
        assert put[0] in (201, 204)
        for name, (needed, ok) in _operations(server, login(person), base, tag).items():
            allowed = level is not None and level >= needed
            if ok != allowed:
                failures.append(f"{route} {name}: {'succeeded' if ok else 'failed'} with level {level}")
    assert failures == []


def test_owner_and_admin_keep_full_rights(server: RunningServer) -> None:
    for who, base in ((login("helene.lefevre"), OWN), (ADMIN, ORG), (ADMIN, OWN)):
        tag = f"{who[0]}-{base.strip('/').replace('/', '-')}"
        request(
            server,
            "PUT",
            f"{base}victim-{tag}.ics",
            *ADMIN,
            body=EVENT.format(uid=f"victim-{tag}"),
            headers={"Content-Type": "text/calendar"},
        )
        assert all(ok for _, ok in _operations(server, who, base, tag).values())


def test_a_revoke_counts_on_the_next_request(server: RunningServer) -> None:
    api = f"/.groupware/api/v1/agendas{ORG}grants/francois.muller"
    mapped = f"/francois.muller/{SLUGS[ORG]}/"
    who = login("francois.muller")
    for round_, (method, level) in enumerate(itertools.product(("PUT",), (W, None))):
        status = request(
            server,
            "PUT",
            f"{mapped}late-{round_}.ics",
            *who,
            body=EVENT.format(uid=f"late-{round_}"),
            headers={"Content-Type": "text/calendar"},
        )[0]
        assert (status in (201, 204)) == (level is not None), method
        if level is not None:
            assert request(server, "DELETE", api, *ADMIN)[0] == 200
    assert request(server, "PROPFIND", mapped, *who, headers={"Depth": "0"})[0] == 404
    assert request(server, "GET", f"{ORG}late-0.ics", *who)[0] == 403
    stephane = login("stephane.chabert")
    assert request(server, "REPORT", f"/stephane.chabert/{SLUGS[OWN]}/", *stephane, body=FREEBUSY)[0] == 200
    delete = request(
        server,
        "POST",
        "/.sharing/v1/map/delete",
        *login("helene.lefevre"),
        body=json.dumps({"PathMapped": OWN, "User": "@ac-montpellier.fr"}),
        headers={"Content-Type": "application/json"},
    )
    assert delete[0] == 200
    assert request(server, "REPORT", f"/stephane.chabert/{SLUGS[OWN]}/", *stephane, body=FREEBUSY)[0] == 404
    assert request(server, "REPORT", OWN, *stephane, body=FREEBUSY)[0] == 403


def test_matrix_covers_every_level(tmp_path: Path) -> None:
    levels = {level for person in EXPECTED.values() for level in person.values()}
    assert levels == {None, F, R, W, M}
