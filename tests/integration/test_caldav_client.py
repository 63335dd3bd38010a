# SPDX-License-Identifier: GPL-3.0-or-later
"""The python `caldav` client as a demo user: discovery, event creation, time-range search, sync token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from caldav.davclient import DAVClient
from caldav.lib import error as caldav_error
from support import MAIL, PASSWORD, USER, RunningServer

EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//groupware tests//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20261120T080000Z
DTSTART:{start}
DTEND:{end}
SUMMARY:{summary}
END:VEVENT
END:VCALENDAR
"""


def _event(uid: str, start: datetime, summary: str) -> str:
    stamp = "%Y%m%dT%H%M%SZ"
    return EVENT.format(
        uid=uid,
        start=start.strftime(stamp),
        end=(start + timedelta(hours=1)).strftime(stamp),
        summary=summary,
    )


@pytest.fixture
def client(start_server: Callable[..., RunningServer]) -> DAVClient:
    server = start_server()
    return DAVClient(url=server.url + "/", username=USER, password=PASSWORD)


def test_discovery_create_search_and_sync(client: DAVClient) -> None:
    principal = client.principal()
    assert str(principal.url).rstrip("/").endswith(f"/{USER}")
    calendars = principal.calendars()
    assert [c.url.path for c in calendars] == [f"/{USER}/calendar/"]
    calendar = calendars[0]
    assert f"mailto:{MAIL}" in [str(a) for a in principal.calendar_user_address_set()]

    base = datetime(2026, 12, 1, 9, tzinfo=UTC)
    calendar.save_event(_event("conseil-classe", base, "Conseil de classe 3e B"))
    calendar.save_event(_event("reunion-parents", base + timedelta(days=30), "Réunion parents"))
    found = calendar.search(
        start=base - timedelta(days=1), end=base + timedelta(days=2), event=True, expand=False
    )
    assert [e.icalendar_component["uid"] for e in found] == ["conseil-classe"]

    sync = calendar.objects_by_sync_token(load_objects=False)
    assert len(list(sync)) == 2
    token = sync.sync_token
    calendar.save_event(_event("sortie-scolaire", base + timedelta(days=3), "Sortie scolaire"))
    calendar.event_by_uid("reunion-parents").delete()
    changes = calendar.objects_by_sync_token(sync_token=token, load_objects=False)
    changed = {str(o.url).rsplit("/", 1)[-1] for o in changes}
    assert any("sortie-scolaire" in name for name in changed)
    assert any("reunion-parents" in name for name in changed)
    assert changes.sync_token != token


def test_wrong_password_is_refused_by_the_client(start_server: Callable[..., RunningServer]) -> None:
    server = start_server()
    client = DAVClient(url=server.url + "/", username=USER, password="wrong")
    with pytest.raises(caldav_error.AuthorizationError):
        client.principal()
