# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 4791 (CalDAV) §4.1 and §5.3.2.1 on a real server: what a calendar object resource is, checked on PUT;
and the objects Thunderbird, DAVx5 and iOS PUT, as they send them, still stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import CALDAV, USER, RunningServer, error_condition, request, start_with_storage

CAL = f"/{USER}/calendar/"
EVENT = (
    "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\n"
    "DURATION:PT1H\r\nSUMMARY:Conseil pédagogique\r\nEND:VEVENT\r\n"
)
HEADER = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n"

#: Calendar objects as the clients PUT them (their PRODID, their properties, their Content-Type).
CLIENTS = {
    "thunderbird": (
        "text/calendar; charset=utf-8",
        "BEGIN:VCALENDAR\r\nPRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r\nVERSION:2.0\r\n"
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
        "TZNAME:CEST\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\n"
        "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n"
        "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        "BEGIN:VEVENT\r\nCREATED:20260101T090000Z\r\nLAST-MODIFIED:20260101T090000Z\r\n"
        "DTSTAMP:20260101T090000Z\r\nUID:{uid}\r\nSUMMARY:Réunion\r\nDTSTART;TZID=Europe/Paris:20260105T100000\r\n"
        "DTEND;TZID=Europe/Paris:20260105T110000\r\nTRANSP:OPAQUE\r\nX-MOZ-GENERATION:1\r\n"
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER;VALUE=DURATION:-PT15M\r\nDESCRIPTION:Default Mozilla "
        "Description\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    ),
    "davx5": (
        "text/calendar; charset=utf-8",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:DAVx5/4.4.2-ose ical4j/3.2.19 (org.fossify.calendar)\r\n"
        "BEGIN:VEVENT\r\nDTSTAMP:20260101T090000Z\r\nUID:{uid}\r\nSUMMARY:Réunion\r\n"
        "DTSTART;TZID=Europe/Paris:20260105T100000\r\nDTEND;TZID=Europe/Paris:20260105T110000\r\n"
        "STATUS:CONFIRMED\r\nEND:VEVENT\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\n"
        "TZNAME:CET\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nDTSTART:19961027T030000\r\n"
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n",
    ),
    "ios": (
        "text/calendar",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Apple Inc.//iPhone OS 17.5//EN\r\nCALSCALE:GREGORIAN\r\n"
        "BEGIN:VEVENT\r\nCREATED:20260101T090000Z\r\nDTEND:20260105T110000Z\r\nDTSTAMP:20260101T090000Z\r\n"
        "DTSTART:20260105T100000Z\r\nLAST-MODIFIED:20260101T090000Z\r\nSEQUENCE:0\r\nSUMMARY:Réunion\r\n"
        "UID:{uid}\r\nX-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    ),
}


def put(
    server: RunningServer, name: str, body: str, content_type: str = "text/calendar; charset=utf-8"
) -> tuple[int, bytes]:
    status, _, data = request(server, "PUT", CAL + name, body=body, headers={"Content-Type": content_type})
    return status, data


def refusal(status: int, body: bytes) -> str:
    """The precondition of a 403 answer."""
    assert status == 403, body
    return error_condition(body)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = Path(tmp_path_factory.mktemp("rfc4791"))
    running = start_with_storage(folder / "groupware.conf", folder / "collections")
    yield running
    running.stop()


def test_4_1_method_is_refused_with_valid_calendar_object_resource(server: RunningServer) -> None:
    body = HEADER + "METHOD:REQUEST\r\n" + EVENT.format(uid="itip") + "END:VCALENDAR\r\n"
    assert refusal(*put(server, "itip.ics", body)) == CALDAV + "valid-calendar-object-resource"
    assert request(server, "GET", CAL + "itip.ics")[0] == 404


def test_5_3_2_1_text_plain_is_refused_with_supported_calendar_data(server: RunningServer) -> None:
    body = HEADER + EVENT.format(uid="plain") + "END:VCALENDAR\r\n"
    assert refusal(*put(server, "plain.ics", body, "text/plain")) == CALDAV + "supported-calendar-data"
    assert request(server, "GET", CAL + "plain.ics")[0] == 404


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("no-version", "BEGIN:VCALENDAR\r\nPRODID:-//tests//EN\r\n" + EVENT + "END:VCALENDAR\r\n"),
        (
            "version-1",
            "BEGIN:VCALENDAR\r\nVERSION:1.0\r\nPRODID:-//tests//EN\r\n" + EVENT + "END:VCALENDAR\r\n",
        ),
        ("no-prodid", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + EVENT + "END:VCALENDAR\r\n"),
        ("no-dtstamp", HEADER + EVENT.replace("DTSTAMP:20260101T000000Z\r\n", "") + "END:VCALENDAR\r\n"),
    ],
)
def test_5_3_2_1_invalid_calendar_data_is_refused(server: RunningServer, case: str, body: str) -> None:
    assert refusal(*put(server, f"{case}.ics", body.format(uid=case))) == CALDAV + "valid-calendar-data"
    assert request(server, "GET", CAL + f"{case}.ics")[0] == 404


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_5_3_2_what_clients_send_is_stored(server: RunningServer, client: str) -> None:
    content_type, body = CLIENTS[client]
    assert put(server, f"{client}.ics", body.format(uid=client), content_type)[0] == 201
    status, _, data = request(server, "GET", CAL + f"{client}.ics")
    assert status == 200 and f"UID:{client}".encode() in data


def test_5_3_2_valid_object_without_content_type_parameters_is_stored(server: RunningServer) -> None:
    body = HEADER + EVENT.format(uid="bare") + "END:VCALENDAR\r\n"
    assert put(server, "bare.ics", body, "text/calendar")[0] == 201


MKCALENDAR_TASKS = (
    '<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    "<D:set><D:prop>"
    '<C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>'
    "</D:prop></D:set></C:mkcalendar>"
)


def test_5_3_2_1_component_the_calendar_does_not_take_is_refused(server: RunningServer) -> None:
    tasks = f"/{USER}/taches/"
    assert request(server, "MKCALENDAR", tasks, body=MKCALENDAR_TASKS)[0] == 201
    body = HEADER + EVENT.format(uid="event-in-tasks") + "END:VCALENDAR\r\n"
    status, _, data = request(
        server, "PUT", f"{tasks}event.ics", body=body, headers={"Content-Type": "text/calendar"}
    )
    assert refusal(status, data) == CALDAV + "supported-calendar-component"
    todo = (
        HEADER
        + "BEGIN:VTODO\r\nUID:todo\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Copies\r\n"
        + "END:VTODO\r\nEND:VCALENDAR\r\n"
    )
    assert (
        request(server, "PUT", f"{tasks}todo.ics", body=todo, headers={"Content-Type": "text/calendar"})[0]
        == 201
    )
