# SPDX-License-Identifier: GPL-3.0-or-later
"""The indexed storage through the real server: items, depth-1 PROPFIND, RFC 6578 sync (changes, deletions,
unknown tokens, tokens across a restart), concurrent PUTs of one UID, and the python ``caldav`` client."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from caldav.davclient import DAVClient
from support import DAV, PASSWORD, USER, RunningServer, ok_prop, request, responses, start_with_storage

HOME = f"/{USER}/"
CAL = f"{HOME}calendar/"
BOOK = f"{HOME}contacts/"
SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token>'
    "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
)


def ics(uid: str, summary: str = "Réunion", start: str = "20260105T100000Z") -> str:
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
        f"DTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\nDURATION:PT1H\r\nSUMMARY:{summary}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def put(server: RunningServer, path: str, body: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return request(server, "PUT", path, body=body, headers={"Content-Type": "text/calendar", **headers})


def sync(server: RunningServer, path: str, token: str = "") -> tuple[int, str, dict[str, int]]:
    """Status, new token and {href: status of the member} of a sync-collection REPORT."""
    status, _, body = request(server, "REPORT", path, body=SYNC.format(token=token))
    if status != 207:
        return status, body.decode(), {}
    tree = ET.fromstring(body)
    members = {}
    for href, response in responses(body).items():
        code = response.findtext(f"{DAV}status") or response.findtext(f"{DAV}propstat/{DAV}status") or ""
        members[href] = int(code.split()[1])
    return status, tree.findtext(f"{DAV}sync-token") or "", members


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_with_storage(tmp_path / "groupware.conf", tmp_path / "collections")
    yield running
    running.stop()


def test_put_get_delete_and_depth_one_propfind(server: RunningServer) -> None:
    status, headers, _ = put(server, CAL + "a.ics", ics("a"))
    assert status == 201
    etag = headers["etag"]
    status, headers, body = request(server, "GET", CAL + "a.ics")
    assert status == 200 and headers["etag"] == etag and b"UID:a" in body
    assert put(server, CAL + "a.ics", ics("a", "changed"), **{"If-Match": etag})[0] == 204
    assert put(server, CAL + "a.ics", ics("a"), **{"If-Match": etag})[0] == 412
    assert put(server, CAL + "b.ics", ics("b"))[0] == 201
    status, _, body = request(
        server,
        "PROPFIND",
        CAL,
        headers={"Depth": "1"},
        body='<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>',
    )
    found = responses(body)
    assert status == 207 and set(found) == {CAL, CAL + "a.ics", CAL + "b.ics"}
    assert all(ok_prop(found[href], f"{DAV}getetag") is not None for href in found)
    assert request(server, "DELETE", CAL + "a.ics")[0] == 204  # RFC 4918 §9.6
    assert request(server, "GET", CAL + "a.ics")[0] == 404
    assert request(server, "DELETE", CAL + "a.ics")[0] == 404


def test_sync_collection_reports_changes_and_deletions(server: RunningServer) -> None:
    for uid in "abc":
        put(server, CAL + f"{uid}.ics", ics(uid))
    status, token, members = sync(server, CAL)
    assert status == 207 and set(members) == {CAL + "a.ics", CAL + "b.ics", CAL + "c.ics"}
    assert sync(server, CAL, token) == (207, token, {})
    put(server, CAL + "b.ics", ics("b", "moved"))
    request(server, "DELETE", CAL + "c.ics")
    put(server, CAL + "d.ics", ics("d"))
    status, new_token, members = sync(server, CAL, token)
    assert new_token != token
    assert members == {CAL + "b.ics": 200, CAL + "c.ics": 404, CAL + "d.ics": 200}


@pytest.mark.parametrize(
    "token",
    [
        "http://radicale.org/ns/sync/" + "0" * 64,
        "http://groupware/ns/sync/x-1",
        "nonsense",
        "{current}\u0663",
    ],
)
def test_an_unknown_token_asks_the_client_to_start_over(server: RunningServer, token: str) -> None:
    """400 with the RFC 6578 §3.2 DAV:valid-sync-token element: Thunderbird starts over only on 400, DAVx5 on
    the element; then a sync without a token gives everything again."""
    put(server, CAL + "a.ics", ics("a"))
    if token.startswith("{current}"):  # this collection's token with a non-ASCII digit (ARABIC-INDIC THREE)
        token = sync(server, CAL)[1].rpartition("-")[0] + "-" + token.removeprefix("{current}")
    status, body, _ = sync(server, CAL, token)
    assert status == 400 and "valid-sync-token" in body
    status, _, members = sync(server, CAL)
    assert status == 207 and set(members) == {CAL + "a.ics"}


def test_a_token_survives_a_restart(tmp_path: Path) -> None:
    first = start_with_storage(tmp_path / "a.conf", tmp_path / "collections")
    try:
        put(first, CAL + "a.ics", ics("a"))
        put(first, CAL + "b.ics", ics("b"))
        _, token, _ = sync(first, CAL)
    finally:
        first.stop()
    second = start_with_storage(tmp_path / "b.conf", tmp_path / "collections")
    try:
        assert sync(second, CAL, token)[2] == {}
        request(second, "DELETE", CAL + "a.ics")
        assert sync(second, CAL, token)[2] == {CAL + "a.ics": 404}
    finally:
        second.stop()


def test_two_concurrent_puts_of_one_uid_cannot_both_succeed(server: RunningServer) -> None:
    request(server, "PROPFIND", HOME, headers={"Depth": "1"})  # creates the home and its collections

    def create(name: str, attempt: int, barrier: threading.Barrier, statuses: list[int]) -> None:
        barrier.wait()
        statuses.append(put(server, CAL + f"{name}-{attempt}.ics", ics(f"same-{attempt}"))[0])

    for attempt in range(5):
        statuses: list[int] = []
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=create, args=(name, attempt, barrier, statuses)) for name in "xy"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [201, 409], statuses
    assert len(sync(server, CAL)[2]) == 5


def test_caldav_client_create_modify_delete_and_sync(server: RunningServer) -> None:
    client = DAVClient(url=server.url + "/", username=USER, password=PASSWORD)
    calendar = client.principal().calendars()[0]
    event = calendar.save_event(ics("client-1"))
    calendar.save_event(ics("client-2"))
    objects = calendar.objects(load_objects=True)
    assert sorted(str(o.icalendar_component["uid"]) for o in objects) == ["client-1", "client-2"]
    event.icalendar_component["summary"] = "Modifiée"
    event.save()
    calendar.event_by_uid("client-2").delete()
    updated = objects.sync()
    assert [str(o.icalendar_component["summary"]) for o in updated[0]] == ["Modifiée"]
    assert len(updated[1]) == 1
    assert [str(o.icalendar_component["uid"]) for o in calendar.events()] == ["client-1"]
