# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 6578 (collection synchronization) on a real server: the sync-collection report's Depth and target
(§3.2), DAV:limit (§3.7), DAV:sync-token protected (§4); and the differences kept for real clients."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import DAV, USER, RunningServer, request, responses, start_with_storage

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
    body = SYNC.format(token=token, limit=limit)
    headers = {"Depth": depth} if depth is not None else {}
    status, _, data = request(server, "REPORT", path, body=body, headers=headers)
    return status, data


def condition(body: bytes) -> str:
    root = ET.fromstring(body)
    assert root.tag == DAV + "error", body
    return root[0].tag


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
    assert status == 403 and condition(body) == DAV + "supported-report"


def test_3_2_unknown_token_is_400_with_valid_sync_token(server: RunningServer) -> None:
    """400, not 403: Thunderbird starts its sync over only on 400."""
    status, body = sync(server, token="http://groupware/ns/sync/unknown-1")
    assert status == 400 and condition(body) == DAV + "valid-sync-token"


def test_3_7_limit_below_the_changes_is_507_number_of_matches_within_limits(server: RunningServer) -> None:
    status, body = sync(server, limit="<D:limit><D:nresults>2</D:nresults></D:limit>")
    assert status == 507 and condition(body) == DAV + "number-of-matches-within-limits"


def test_3_7_limit_above_the_changes_is_served(server: RunningServer) -> None:
    status, body = sync(server, limit="<D:limit><D:nresults>3</D:nresults></D:limit>")
    assert status == 207 and len(responses(body)) == 3
    token = ET.fromstring(body).findtext(DAV + "sync-token") or ""
    request(server, "PUT", f"{CAL}four.ics", body=ics("four"), headers={"Content-Type": "text/calendar"})
    status, body = sync(server, token=token, limit="<D:limit><D:nresults>1</D:nresults></D:limit>")
    assert status == 207 and set(responses(body)) == {f"{CAL}four.ics"}


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
    assert status == 207 and ET.fromstring(answer).findtext(DAV + "sync-token") != "forged"
