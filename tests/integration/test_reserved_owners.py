# SPDX-License-Identifier: GPL-3.0-or-later
"""A login named like the academic address books' owner or an organisation is refused: it would own their
collections."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from support import DEMO_LDIF, RunningServer, request

ADMIN = ("admin.groupware", "admin-demo")
EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTAMP:20261120T080000Z\r\n"
    "DTSTART:20261201T090000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def _person(uid: str) -> str:
    return (
        f"\ndn: uid={uid},ou=people,dc=ac-montpellier,dc=fr\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: "
        f"{uid}\n"
        f"sn: {uid}\nmail: {uid}@ac-montpellier.fr\nemployeeType: actif\nuserPassword: {uid}-pw\n"
    )


def test_reserved_names_get_no_owner_rights(
    start_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    ldif = tmp_path / "directory.ldif"
    demo = DEMO_LDIF.read_text(encoding="utf-8")
    ldif.write_text(demo + _person("annuaire"), encoding="utf-8")
    server = start_server(
        {"type": "ldif", "file": str(ldif), "disabled_filter": "(employeeType=inactif)", "cache_ttl": "0"}
    )
    api = "/.groupware/api/v1/agendas"
    status, _, body = request(
        server,
        "POST",
        api,
        *ADMIN,
        body=json.dumps({"path": "/dsden-34/reunions/", "title": "Réunions de la DSDEN"}),
    )
    assert status == 201, body
    request(
        server,
        "PUT",
        "/dsden-34/reunions/x.ics",
        *ADMIN,
        body=EVENT,
        headers={"Content-Type": "text/calendar"},
    )
    # A later account of the organisation's name: the file is read again when its mtime or size changes (the
    # mtime is set ahead rather than waited for, for file systems with a coarse clock).
    later = ldif.stat().st_mtime + 2
    ldif.write_text(demo + _person("annuaire") + _person("dsden-34"), encoding="utf-8")
    os.utime(ldif, (later, later))
    assert (
        request(server, "PROPFIND", "/", "marie.martin", "marie.martin-demo", headers={"Depth": "0"})[0]
        == 207
    )
    for uid, path in (("dsden-34", "/dsden-34/reunions/"), ("annuaire", "/annuaire/")):
        assert request(server, "PROPFIND", path, uid, f"{uid}-pw", headers={"Depth": "0"})[0] == 401
        status = request(
            server,
            "PUT",
            f"{path}y.ics",
            uid,
            f"{uid}-pw",
            body=EVENT,
            headers={"Content-Type": "text/calendar"},
        )[0]
        assert status == 401
    assert request(server, "DELETE", "/dsden-34/reunions/x.ics", "dsden-34", "dsden-34-pw")[0] == 401
    assert request(server, "GET", "/dsden-34/reunions/x.ics", *ADMIN)[0] == 200
