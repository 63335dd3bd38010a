# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 6578 (collection synchronization) on a real server: the sync-collection report's Depth and target
(§3.2), DAV:limit (§3.7), DAV:sync-token protected (§4); and the differences kept for real clients."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from support import DAV, USER, RunningServer, error_condition, request, responses, start_with_storage

CAL = f"/{USER}/calendar/"
SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token>'
    "<D:sync-level>1</D:sync-level>{limit}<D:prop><D:getetag/></D:prop></D:sync-collection>"
)


def ics(uid: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDURATION:PT1H\r\n"
        "SUMMARY:Réunion\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def sync(
    server: RunningServer, path: str = CAL, token: str = "", limit: str = "", depth: str | None = "0"
) -> tuple[int, bytes]:
    body = SYNC.format(token=escape(token), limit=limit)
    headers = {"Depth": depth} if depth is not None else {}
    status, _, data = request(server, "REPORT", path, body=body, headers=headers)
    return status, data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = Path(tmp_path_factory.mktemp("rfc6578"))
    running = start_with_storage(folder / "groupware.conf", folder / "collections")
    for uid in ("one", "two", "three"):
        request(running, "PUT", f"{CAL}{uid}.ics", body=ics(uid), headers={"Content-Type": "text/calendar"})
    yield running
    running.stop()


def test_3_2_depth_infinity_is_400(server: RunningServer) -> None:
    assert sync(server, depth="infinity")[0] == 400


@pytest.mark.parametrize("depth", ["0", "1", None])
def test_3_2_depth_zero_one_or_none_is_served(server: RunningServer, depth: str | None) -> None:
    """Depth 1 stays served: Thunderbird's syncs and python caldav send it (§3.2 asks for 0)."""
    status, body = sync(server, depth=depth)
    assert status == 207 and len(responses(body)) == 3


def test_3_2_sync_collection_on_an_item_is_403_supported_report(server: RunningServer) -> None:
    status, body = sync(server, f"{CAL}one.ics")
    assert status == 403 and error_condition(body) == DAV + "supported-report"


def test_3_2_unknown_token_is_400_with_valid_sync_token(server: RunningServer) -> None:
    """400, not 403: Thunderbird starts its sync over only on 400."""
    status, body = sync(server, token="http://groupware/ns/sync/unknown-1")
    assert status == 400 and error_condition(body) == DAV + "valid-sync-token"


def members(body: bytes) -> dict[str, int]:
    """{member name: status} of a sync answer, the collection itself under ``""``."""
    found = {}
    for href, response in responses(body).items():
        code = response.findtext(f"{DAV}status") or response.findtext(f"{DAV}propstat/{DAV}status") or ""
        found[href] = int(code.split()[1])
    return found


def token_of(body: bytes) -> str:
    return ET.fromstring(body).findtext(DAV + "sync-token") or ""


def limited(server: RunningServer, path: str, token: str, nresults: int | None) -> tuple[dict[str, int], str]:
    limit = f"<D:limit><D:nresults>{nresults}</D:nresults></D:limit>" if nresults else ""
    status, body = sync(server, path, token=token, limit=limit)
    assert status == 207, body
    return members(body), token_of(body)


def test_3_7_limit_truncates_with_507_and_a_token_that_continues(server: RunningServer) -> None:
    calendar = f"/{USER}/paged/"
    assert request(server, "MKCALENDAR", calendar)[0] == 201
    for uid in ("a", "b", "c", "d", "e"):
        request(
            server, "PUT", f"{calendar}{uid}.ics", body=ics(uid), headers={"Content-Type": "text/calendar"}
        )
    first, token = limited(server, calendar, "", 2)
    assert first == {f"{calendar}a.ics": 200, f"{calendar}b.ics": 200, calendar: 507}
    request(server, "DELETE", f"{calendar}a.ics")  # served already: reported as gone on the next page
    request(server, "PUT", f"{calendar}f.ics", body=ics("f"), headers={"Content-Type": "text/calendar"})
    second, token = limited(server, calendar, token, 2)
    assert second == {f"{calendar}a.ics": 404, f"{calendar}c.ics": 200, calendar: 507}
    rest, token = limited(server, calendar, token, None)
    assert rest == {f"{calendar}d.ics": 200, f"{calendar}e.ics": 200, f"{calendar}f.ics": 200}
    assert limited(server, calendar, token, 2) == ({}, token)


def test_3_7_limit_pages_the_changes_since_a_token(server: RunningServer) -> None:
    calendar = f"/{USER}/changes/"
    assert request(server, "MKCALENDAR", calendar)[0] == 201
    _, token = limited(server, calendar, "", None)
    for uid in ("x", "y", "z"):
        request(
            server, "PUT", f"{calendar}{uid}.ics", body=ics(uid), headers={"Content-Type": "text/calendar"}
        )
    seen: dict[str, int] = {}
    for _page in range(5):
        page, token = limited(server, calendar, token, 1)
        seen |= page
        if calendar not in page:
            break
    seen.pop(calendar, None)
    assert seen == {f"{calendar}{uid}.ics": 200 for uid in ("x", "y", "z")}


def test_3_7_limit_above_the_changes_is_served_whole(server: RunningServer) -> None:
    found, _ = limited(server, CAL, "", 3)
    assert set(found) == {f"{CAL}{uid}.ics" for uid in ("one", "two", "three")}


def test_3_7_malformed_page_token_is_400_valid_sync_token(server: RunningServer) -> None:
    status, body = sync(server, token="http://groupware/ns/sync-page/?a=&b=&c=")
    assert status == 400 and error_condition(body) == DAV + "valid-sync-token"


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_3_7_limit_that_is_not_a_positive_number_is_400(server: RunningServer, value: str) -> None:
    assert sync(server, limit=f"<D:limit><D:nresults>{value}</D:nresults></D:limit>")[0] == 400


def test_4_sync_token_is_protected(server: RunningServer) -> None:
    body = (
        '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:sync-token>forged</D:sync-token></D:prop>'
        "</D:set></D:propertyupdate>"
    )
    status, _, data = request(server, "PROPPATCH", CAL, body=body)
    assert status == 207
    propstat = ET.fromstring(data).find(f"{DAV}response/{DAV}propstat")
    assert propstat is not None and "403" in (propstat.findtext(DAV + "status") or "")
    assert propstat.find(f"{DAV}error/{DAV}cannot-modify-protected-property") is not None
    status, answer = sync(server)
    assert status == 207 and token_of(answer) != "forged"
