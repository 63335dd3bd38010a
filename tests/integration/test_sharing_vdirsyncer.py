# SPDX-License-Identifier: GPL-3.0-or-later
"""vdirsyncer (a real two-way sync client) on a read-write shared agenda, seen from a member's home."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from support import RunningServer, request, require_binaries, responses, run_vdirsyncer, vdirsyncer_pair

AGENDA = "/etab-0341234A/direction/"
ADMIN = ("admin.groupware", "admin-demo")
MEMBER, PASSWORD = "francois.muller", "francois.muller-demo"
SLUG = "etab-0341234A-direction"
EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261120T080000Z\r\n"
    "DTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_two_way_sync_on_a_read_write_shared_agenda(
    start_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    require_binaries("vdirsyncer", packages="vdirsyncer")
    server = start_server()
    api = "/.groupware/api/v1/agendas"
    assert (
        request(server, "POST", api, *ADMIN, body=json.dumps({"path": AGENDA, "title": "Direction"}))[0]
        == 201
    )
    body = json.dumps(
        {"grantee": "cn=direction,ou=etab-0341234A,ou=groups,dc=ac-montpellier,dc=fr", "level": "read-write"}
    )
    assert request(server, "POST", f"{api}{AGENDA}grants", *ADMIN, body=body)[0] == 200
    request(
        server,
        "PUT",
        f"{AGENDA}from-server.ics",
        *ADMIN,
        body=EVENT.format(uid="from-server", summary="A"),
        headers={"Content-Type": "text/calendar"},
    )
    config, local = vdirsyncer_pair(
        tmp_path, "caldav", f"{server.url}/{MEMBER}/{SLUG}/", MEMBER, PASSWORD, ".ics"
    )
    run_vdirsyncer(config, "discover")
    run_vdirsyncer(config, "sync")
    assert [p.read_text() for p in local.glob("*.ics") if "from-server" in p.read_text()]
    (local / "from-client.ics").write_text(EVENT.format(uid="from-client", summary="B"), encoding="utf-8")
    run_vdirsyncer(config, "sync")
    status, _, data = request(server, "GET", f"{AGENDA}", *ADMIN)
    assert status == 200 and b"from-client" in data
    [server_copy] = [p for p in local.glob("*.ics") if "from-server" in p.read_text()]
    server_copy.write_text(EVENT.format(uid="from-server", summary="Changed locally"), encoding="utf-8")
    request(server, "DELETE", f"{AGENDA}from-client.ics", *ADMIN)
    run_vdirsyncer(config, "sync")
    _, _, data = request(server, "GET", f"{AGENDA}", *ADMIN)
    assert b"Changed locally" in data
    assert not [p for p in local.glob("*.ics") if "from-client" in p.read_text()]


def test_discovery_from_the_server_root_finds_the_own_and_the_shared_collections(
    start_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    """A depth-1 PROPFIND of ``/`` lists the person's home, not the agendas shared into it (RFC 4918 §9.1):
    vdirsyncer started at the root then finds the own calendar and address book beside the shared agenda."""
    require_binaries("vdirsyncer", packages="vdirsyncer")
    server = start_server()
    api = "/.groupware/api/v1/agendas"
    request(server, "POST", api, *ADMIN, body=json.dumps({"path": AGENDA, "title": "Direction"}))
    grantee = "cn=direction,ou=etab-0341234A,ou=groups,dc=ac-montpellier,dc=fr"
    body = json.dumps({"grantee": grantee, "level": "read-write"})
    assert request(server, "POST", f"{api}{AGENDA}grants", *ADMIN, body=body)[0] == 200
    listing = '<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>'
    status, _, data = request(server, "PROPFIND", "/", MEMBER, PASSWORD, body=listing, headers={"Depth": "1"})
    assert status == 207 and set(responses(data)) == {"/", f"/{MEMBER}/"}
    found = {}
    for kind, suffix in (("caldav", ".ics"), ("carddav", ".vcf")):
        folder = tmp_path / kind
        folder.mkdir()
        config, _ = vdirsyncer_pair(folder, kind, f"{server.url}/", MEMBER, PASSWORD, suffix)
        config.write_text(config.read_text().replace("collections = null", 'collections = ["from b"]'))
        found[kind] = run_vdirsyncer(config, "discover")
    assert '"calendar"' in found["caldav"] and f'"{SLUG}"' in found["caldav"]
    assert '"contacts"' in found["carddav"]
