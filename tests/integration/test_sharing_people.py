# SPDX-License-Identifier: GPL-3.0-or-later
"""People share their own calendars through Radicale's sharing API (``/.sharing/v1/map/…``), within the
policy."""

from __future__ import annotations

import json
from collections.abc import Callable

from support import DAV, RunningServer, ok_prop, request, responses

ENSEIGNANTS = "cn=enseignants,ou=etab-0341234A,ou=groups,dc=ac-montpellier,dc=fr"
JSON = {"Content-Type": "application/json", "Accept": "application/json"}
OWN = "/helene.lefevre/calendar/"
SLUG = "helene.lefevre-calendar"


def login(user: str) -> tuple[str, str]:
    return user, "admin-demo" if user == "admin.groupware" else f"{user}-demo"


def share(server: RunningServer, user: str, action: str, **body: object) -> tuple[int, dict[str, object]]:
    status, _, data = request(
        server, "POST", f"/.sharing/v1/map/{action}", *login(user), body=json.dumps(body), headers=JSON
    )
    return status, json.loads(data) if data else {}


def home_names(server: RunningServer, user: str) -> dict[str, str]:
    status, _, data = request(
        server,
        "PROPFIND",
        f"/{user}/",
        *login(user),
        headers={"Depth": "1"},
        body='<propfind xmlns="DAV:"><prop><displayname/></prop></propfind>',
    )
    assert status == 207
    return {
        href: (ok_prop(r, DAV + "displayname").text or "")
        for href, r in responses(data).items()  # type: ignore[union-attr]
        if ok_prop(r, DAV + "displayname") is not None
    }


def test_person_shares_own_calendar_with_a_colleague_group_and_domain(
    start_server: Callable[..., RunningServer],
) -> None:
    server = start_server()
    home_names(server, "helene.lefevre")  # creates her calendar
    status, answer = share(
        server, "helene.lefevre", "create", PathMapped=OWN, User="marie.martin", Permissions="rw"
    )
    assert status == 200 and answer["PathOrToken"] == f"/marie.martin/{SLUG}/"
    assert home_names(server, "marie.martin")[f"/marie.martin/{SLUG}/"] == "Agenda (Hélène Lefèvre)"
    event = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTAMP:20261120T080000Z\r\n"
        "DTSTART:20261201T090000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    put = request(
        server,
        "PUT",
        f"/marie.martin/{SLUG}/x.ics",
        *login("marie.martin"),
        body=event,
        headers={"Content-Type": "text/calendar"},
    )
    assert put[0] == 201
    assert (
        share(server, "helene.lefevre", "create", PathMapped=OWN, User=":" + ENSEIGNANTS, Level="free-busy")[
            0
        ]
        == 200
    )
    assert f"/zoe.nguyen/{SLUG}/" in home_names(server, "zoe.nguyen")
    status, answer = share(
        server, "helene.lefevre", "create", PathMapped=OWN, User="@ac-montpellier.fr", Permissions="rw"
    )
    assert status == 403 and "at most read to a domain" in str(answer["Error"])
    assert (
        share(server, "marie.martin", "create", PathMapped=OWN, User="zoe.nguyen", Permissions="r")[0] == 403
    )
    assert share(server, "helene.lefevre", "create", PathMapped=OWN, User="nobody.here")[0] == 404
    assert share(server, "helene.lefevre", "create", PathMapped=OWN, User="marie.martin", Level=5)[0] == 400
    status, listing = share(server, "helene.lefevre", "list")
    assert status == 200 and listing["Lines"] == 2
    assert share(server, "helene.lefevre", "delete", PathMapped=OWN, User="marie.martin")[0] == 200
    # Marie keeps the free-busy level her group holds: the most generous remaining grant applies.
    assert request(server, "GET", f"/marie.martin/{SLUG}/x.ics", *login("marie.martin"))[0] == 403
    assert share(server, "helene.lefevre", "delete", PathMapped=OWN, User=":" + ENSEIGNANTS)[0] == 200
    assert f"/marie.martin/{SLUG}/" not in home_names(server, "marie.martin")


def test_policy_can_forbid_people_sharing(start_server: Callable[..., RunningServer]) -> None:
    server = start_server()
    home_names(server, "helene.lefevre")
    service = server.server.services.sharing
    assert service is not None
    service.policy = type(service.policy)(people_may_share=False)
    assert share(server, "helene.lefevre", "create", PathMapped=OWN, User="marie.martin")[0] == 403


def test_a_manager_grants_further_within_the_policy(start_server: Callable[..., RunningServer]) -> None:
    server = start_server()
    admin = ("admin.groupware", "admin-demo")
    api = "/.groupware/api/v1/agendas"
    request(
        server, "POST", api, *admin, body=json.dumps({"path": "/dsden-34/reunions/", "title": "Réunions"})
    )
    request(
        server,
        "POST",
        f"{api}/dsden-34/reunions/grants",
        *admin,
        body=json.dumps({"grantee": "zoe.nguyen", "level": "manage"}),
    )
    agenda = "/dsden-34/reunions/"
    assert (
        share(server, "zoe.nguyen", "create", PathMapped=agenda, User="stephane.chabert", Level="read")[0]
        == 200
    )
    assert "/stephane.chabert/dsden-34-reunions/" in home_names(server, "stephane.chabert")
    assert (
        share(server, "zoe.nguyen", "create", PathMapped=agenda, User="@ac-montpellier.fr", Level="manage")[0]
        == 403
    )
    assert (
        share(server, "stephane.chabert", "create", PathMapped=agenda, User="marie.martin", Level="read")[0]
        == 403
    )
    assert share(server, "zoe.nguyen", "delete", PathMapped=agenda, User="stephane.chabert")[0] == 200
    assert "/stephane.chabert/dsden-34-reunions/" not in home_names(server, "stephane.chabert")


def test_a_home_with_a_shared_calendar_cannot_be_deleted_from_under_its_grants(
    start_server: Callable[..., RunningServer],
) -> None:
    """Deleting the home would delete the shared calendar and leave its grants to a new calendar at that
    path.
    """
    server = start_server()
    home_names(server, "helene.lefevre")
    assert (
        share(server, "helene.lefevre", "create", PathMapped=OWN, User="marie.martin", Permissions="r")[0]
        == 200
    )
    assert request(server, "DELETE", OWN, *login("helene.lefevre"))[0] == 409
    assert request(server, "DELETE", "/helene.lefevre/", *login("helene.lefevre"))[0] == 409
    assert request(server, "DELETE", "/helene.lefevre/", *login("admin.groupware"))[0] == 409
    assert share(server, "helene.lefevre", "delete", PathMapped=OWN, User="marie.martin")[0] == 200
    assert request(server, "DELETE", "/helene.lefevre/", *login("helene.lefevre"))[0] in (200, 204)
