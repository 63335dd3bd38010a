# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile calendar and address data (issue 13): what PUT accepts stays within bounds and can be read back
(RFC 4791 §5.3.2.1 CALDAV:valid-calendar-data, RFC 6352 §6.3.2.1 CARDDAV:valid-address-data), and one bad
item already stored never makes a query of its collection fail (RFC 4791 §7.8)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import CALDAV, CARDDAV, LDIF_DIRECTORY, RunningServer, request, responses, write_config

from groupware import config as config_module
from groupware.dav.item_data import ItemDataResponder

CAL = "/helene.lefevre/calendar/"
BOOK = "/helene.lefevre/contacts/"
ICS = {"Content-Type": "text/calendar; charset=utf-8"}
VCF = {"Content-Type": "text/vcard; charset=utf-8"}
TIMEZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Bad/Zone\r\nBEGIN:STANDARD\r\nDTSTART:19700101\r\nTZOFFSETFROM:+0100\r\n"
    "TZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
)


def event(uid: str, extra: str = "", start: str = "DTSTART:20260105T100000Z", before: str = "") -> str:
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{before}BEGIN:VEVENT\r\nUID:{uid}\r\n"
        f"DTSTAMP:20260101T000000Z\r\n{start}\r\nDURATION:PT1H\r\nSUMMARY:hello {uid}\r\n{extra}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def card(uid: str, extra: str = "") -> str:
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Jo {uid}\r\nN:Jo;{uid};;;\r\n{extra}END:VCARD\r\n"


def calendar_query(inner: str, data: str = "") -> str:
    return (
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/>'
        f'<C:calendar-data>{data}</C:calendar-data></D:prop><C:filter><C:comp-filter name="VCALENDAR">'
        f'<C:comp-filter name="VEVENT">{inner}</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>'
    )


def addressbook_query(name: str) -> str:
    return (
        '<CR:addressbook-query xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/>'
        f'</D:prop><CR:filter><CR:prop-filter name="{name}"><CR:text-match>a</CR:text-match></CR:prop-filter>'
        "</CR:filter></CR:addressbook-query>"
    )


FREE_BUSY = (
    '<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">'
    '<C:time-range start="20260101T000000Z" end="20270101T000000Z"/></C:free-busy-query>'
)
TIME_RANGE = '<C:time-range start="20260101T000000Z" end="20270101T000000Z"/>'
EXPAND = '<C:expand start="20260101T000000Z" end="20270101T000000Z"/>'
TEXT = '<C:prop-filter name="SUMMARY"><C:text-match>hello</C:text-match></C:prop-filter>'


@pytest.fixture
def server(start_server: Callable[..., RunningServer]) -> RunningServer:
    running = start_server()
    for home in (CAL, BOOK):
        assert request(running, "PROPFIND", home, headers={"Depth": "0"})[0] == 207
    return running


@pytest.fixture
def unchecked(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """PUT without the data checks: items stored as an older server stored them."""
    monkeypatch.setattr(ItemDataResponder, "answer", lambda self, request: None)
    yield
    monkeypatch.undo()


def put(server: RunningServer, path: str, body: str) -> tuple[int, bytes]:
    started = time.monotonic()
    status, _, answer = request(server, "PUT", path, body=body, headers=VCF if path.endswith(".vcf") else ICS)
    assert time.monotonic() - started < 5, f"PUT {path} took {time.monotonic() - started:.1f} s"
    return status, answer


def refused(server: RunningServer, path: str, body: str, reason: str) -> None:
    status, answer = put(server, path, body)
    assert status == 403, (status, answer)
    precondition = CARDDAV + "valid-address-data" if path.endswith(".vcf") else CALDAV + "valid-calendar-data"
    assert precondition.split("}")[1].encode() in answer, answer
    assert reason.encode() in answer, answer
    assert request(server, "GET", path)[0] == 404


MONTHS, DAYS = range(1, 13), range(1, 28)
RECURRENCE = {
    "second-rrule-unbounded": ("RRULE:FREQ=DAILY;COUNT=2\r\nRRULE:FREQ=DAILY\r\n", "all bounded"),
    "secondly": ("RRULE:FREQ=SECONDLY\r\n", "instances a day"),
    "minutely": ("RRULE:FREQ=MINUTELY;INTERVAL=1\r\n", "instances a day"),
    "secondly-until": ("RRULE:FREQ=SECONDLY;UNTIL=20260201T000000Z\r\n", "instances, over"),
    "daily-every-second": ("RRULE:FREQ=DAILY;BYMINUTE=0,1,2,3,4,5;BYSECOND=0,1,2,3,4,5\r\n", "a day"),
    "count": ("RRULE:FREQ=DAILY;COUNT=100000\r\n", "COUNT"),
    "many-rrules": ("".join(f"RRULE:FREQ=YEARLY;COUNT={n}\r\n" for n in range(1, 7)), "RRULE properties"),
    "many-rdates": (
        ("RDATE:" + ",".join(f"2026{m:02d}{d:02d}T100000Z" for m in MONTHS for d in DAYS) + "\r\n") * 4,
        "RDATE values",
    ),
    "hourly-rules-together": ("RRULE:FREQ=HOURLY\r\nRRULE:FREQ=HOURLY;BYMINUTE=30\r\n", "a day together"),
    "never-recurs": ("RRULE:FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30\r\n", "does not recur"),
    "no-freq": ("RRULE:COUNT=3\r\n", "FREQ"),
}


@pytest.mark.parametrize("extra,reason", RECURRENCE.values(), ids=RECURRENCE.keys())
def test_recurrence_beyond_bounds_is_refused_before_expansion(
    server: RunningServer, extra: str, reason: str
) -> None:
    refused(server, CAL + "r.ics", event("r", extra), reason)
    assert put(server, CAL + "ok.ics", event("ok", "RRULE:FREQ=WEEKLY;BYDAY=MO,TU\r\n"))[0] == 201


def test_an_endless_hourly_rule_from_the_year_1_is_refused_at_once(server: RunningServer) -> None:
    """Found by the 10,000-input fuzzing: every walk starts at DTSTART, so this PUT ran for seconds while it
    held the database's write lock, and the PUTs after it failed."""
    body = event("y1", "RRULE:FREQ=HOURLY\r\n", start="DTSTART:00010101T000000Z")
    started = time.monotonic()
    refused(server, CAL + "y1.ics", body, "since its DTSTART")
    assert time.monotonic() - started < 2
    assert put(server, CAL + "ok.ics", event("ok", "RRULE:FREQ=HOURLY\r\n"))[0] == 201


def test_a_master_with_a_recurrence_id_and_an_endless_rule_is_indexed_at_once(server: RunningServer) -> None:
    """Found by the 10,000-input fuzzing: every instance of such a master counts as an override, and the
    index recorded them all, to the year 9999, inside the write transaction."""
    body = event("ri", "RRULE:FREQ=DAILY\r\nRECURRENCE-ID:20260105T100000Z\r\n")
    started = time.monotonic()
    refused(server, CAL + "ri.ics", body, "may not carry RRULE or RDATE")
    assert time.monotonic() - started < 3
    assert put(server, CAL + "ok.ics", event("ok", "RRULE:FREQ=WEEKLY\r\n"))[0] == 201


@pytest.mark.usefixtures("unchecked")
def test_free_busy_leaves_out_a_stored_instance_that_recurs(server: RunningServer) -> None:
    """Found by the 10,000-input fuzzing: Radicale's free-busy never stops walking a component that has a
    RECURRENCE-ID (it counts as an overridden instance), so an endless rule in one ran to the year 9999 and
    held a server thread for minutes. Stored before the check: left out of every query."""
    override = "RRULE:FREQ=DAILY;BYDAY=MO,TU;BYHOUR=1,2,3;BYMINUTE=0,30\r\nRECURRENCE-ID:20260112T100000Z\r\n"
    assert put(server, CAL + "ri.ics", event("ri", override))[0] == 201
    assert put(server, CAL + "good.ics", event("good"))[0] == 201
    started = time.monotonic()
    status, _, answer = request(server, "REPORT", CAL, body=FREE_BUSY, headers={"Depth": "1"})
    assert status == 200 and b"BUSY:20260105T100000Z/20260105T110000Z" in answer, (status, answer)
    assert b"T010000Z" not in answer, answer
    assert time.monotonic() - started < 5


def test_bounded_fast_rules_and_timezone_rules_are_accepted(server: RunningServer) -> None:
    assert put(server, CAL + "s.ics", event("s", "RRULE:FREQ=SECONDLY;COUNT=9000\r\n"))[0] == 201
    paris = (
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
        "TZNAME:CEST\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
        "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n"
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    body = event("p", "RRULE:FREQ=DAILY\r\n", "DTSTART;TZID=Europe/Paris:20260105T100000", paris)
    assert put(server, CAL + "p.ics", body)[0] == 201
    status, _, answer = request(
        server, "REPORT", CAL, body=calendar_query(TIME_RANGE), headers={"Depth": "1"}
    )
    assert status == 207 and set(responses(answer)) == {CAL + "s.ics", CAL + "p.ics"}


SIZES = {
    "summary-5mb": (event("big", "DESCRIPTION:" + "x" * 5_000_000 + "\r\n"), "DESCRIPTION has"),
    "parameter": (event("par", f"ATTENDEE;CN={'y' * 5000}:mailto:a@example.org\r\n"), "a parameter of"),
    "components": (
        event("many", "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n" * 1200),
        "components",
    ),
    "nested-in-event": (event("nest", "BEGIN:X-FOO\r\nX-BAR:1\r\nEND:X-FOO\r\n"), "cannot hold X-FOO"),
    "timezone-date": (
        event("tz", start="DTSTART;TZID=Bad/Zone:20260105T100000", before=TIMEZONE),
        "cannot read this object back",
    ),
}


@pytest.mark.parametrize("body,reason", SIZES.values(), ids=SIZES.keys())
def test_calendar_objects_beyond_bounds_or_unreadable_are_refused(
    server: RunningServer, body: str, reason: str
) -> None:
    refused(server, CAL + "x.ics", body, reason)


def test_vcards_beyond_bounds_or_nested_are_refused(server: RunningServer) -> None:
    refused(
        server, BOOK + "n.vcf", card("n", "BEGIN:X-NEST\r\nX-A:1\r\nEND:X-NEST\r\n"), "holds no component"
    )
    refused(server, BOOK + "b.vcf", card("b", "NOTE:" + "z" * 100_000 + "\r\n"), "NOTE has")
    photo = "PHOTO;ENCODING=b;TYPE=JPEG:" + "QUFB" * 50_000 + "\r\n"
    assert put(server, BOOK + "photo.vcf", card("photo", photo))[0] == 201


@pytest.mark.usefixtures("unchecked")
def test_bad_stored_items_are_left_out_of_queries(server: RunningServer) -> None:
    """Items stored without the checks (as before them): every query answers, without them."""
    assert put(server, CAL + "good.ics", event("good"))[0] == 201
    assert (
        put(
            server,
            CAL + "tz.ics",
            event("tz", start="DTSTART;TZID=Bad/Zone:20260105T100000", before=TIMEZONE),
        )[0]
        == 201
    )
    assert put(server, CAL + "nest.ics", event("nest", "BEGIN:X-FOO\r\nX-BAR:1\r\nEND:X-FOO\r\n"))[0] == 201
    assert put(server, CAL + "sec.ics", event("sec", "RRULE:FREQ=SECONDLY\r\n"))[0] == 201
    mixed = event("mixed", "RRULE:FREQ=DAILY\r\nDTEND:20260105T100000Z\r\n", "DTSTART;VALUE=DATE:20260105")
    assert put(server, CAL + "mixed.ics", mixed.replace("DURATION:PT1H\r\n", ""))[0] == 201
    queries = {
        calendar_query(TIME_RANGE): True,
        calendar_query(TIME_RANGE, EXPAND): True,
        calendar_query(TEXT): True,
        calendar_query('<C:prop-filter name="X-FOO"><C:text-match>1</C:text-match></C:prop-filter>'): False,
        calendar_query('<C:time-range start="20300101T000000Z" end="20300102T000000Z"/>'): False,
    }
    for body, good in queries.items():
        started = time.monotonic()
        status, _, answer = request(server, "REPORT", CAL, body=body, headers={"Depth": "1"})
        assert status == 207, (body, status, answer)
        assert time.monotonic() - started < 5
        assert (CAL + "good.ics" in responses(answer)) == good, answer
    status, _, answer = request(server, "REPORT", CAL, body=FREE_BUSY, headers={"Depth": "1"})
    assert status == 200 and b"FREEBUSY" in answer, answer


@pytest.mark.usefixtures("unchecked")
def test_addressbook_query_on_a_nested_component(server: RunningServer) -> None:
    assert put(server, BOOK + "n.vcf", card("n", "BEGIN:X-NEST\r\nX-A:1\r\nEND:X-NEST\r\n"))[0] == 201
    assert put(server, BOOK + "a.vcf", card("a", "X-NEST:abc\r\n"))[0] == 201
    status, _, answer = request(
        server, "REPORT", BOOK, body=addressbook_query("X-NEST"), headers={"Depth": "1"}
    )
    assert status == 207 and set(responses(answer)) == {BOOK + "a.vcf"}, answer


def test_expansion_over_years_1_to_9999_is_not_a_server_error(server: RunningServer) -> None:
    assert put(server, CAL + "y.ics", event("y", "RRULE:FREQ=YEARLY\r\n"))[0] == 201
    wide = '<C:time-range start="00010101T000000Z" end="99991231T000000Z"/>'
    for data in ("", '<C:expand start="00010101T000000Z" end="99991231T000000Z"/>'):
        status, _, answer = request(
            server, "REPORT", CAL, body=calendar_query(wide, data), headers={"Depth": "1"}
        )
        assert status in (207, 403), (status, answer)
        if status == 403:
            assert b"valid-filter" in answer


@pytest.mark.usefixtures("unchecked")
def test_a_query_beyond_its_time_bound_answers_507(tmp_path: Path) -> None:
    path = write_config(tmp_path / "groupware.conf", LDIF_DIRECTORY)
    path.write_text(path.read_text() + "\n[limits]\nmax_query_seconds = 0.000001\n")
    server = RunningServer(config_module.load(path))
    try:
        assert put(server, CAL + "a.ics", event("a"))[0] == 201
        status, _, answer = request(server, "REPORT", CAL, body=calendar_query(TEXT), headers={"Depth": "1"})
        assert status == 507 and b"number-of-matches-within-limits" in answer, (status, answer)
    finally:
        server.stop()


def test_expanding_an_event_with_an_override_still_works(server: RunningServer) -> None:
    """The screen of an expansion parses a copy: Radicale expands the item it is handed once per property."""
    override = (
        "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:m\r\nRECURRENCE-ID:20260112T100000Z\r\nDTSTART:20260112T110000Z\r\n"
        "DURATION:PT1H\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:moved\r\n"
    )
    body = event("m", "RRULE:FREQ=WEEKLY\r\n" + override)
    assert put(server, CAL + "m.ics", body)[0] == 201
    week = '<C:time-range start="20260112T000000Z" end="20260113T000000Z"/>'
    expand = '<C:expand start="20260112T000000Z" end="20260113T000000Z"/>'
    status, _, answer = request(
        server, "REPORT", CAL, body=calendar_query(week, expand), headers={"Depth": "1"}
    )
    assert status == 207 and b"moved" in answer and b"RRULE" not in answer, answer


def test_an_event_whose_recurrences_cannot_be_computed_is_refused(server: RunningServer) -> None:
    """A DATE start with a DATE-TIME end (against RFC 5545 §3.8.2.2) parses, but its second instance cannot be
    computed: free-busy over its calendar failed (found by the fuzzing of test_fuzz_dav.py)."""
    body = event("mixed", "RRULE:FREQ=DAILY\r\nDTEND:20260105T100000Z\r\n", "DTSTART;VALUE=DATE:20260105")
    refused(server, CAL + "mixed.ics", body.replace("DURATION:PT1H\r\n", ""), "and a date DTSTART")
    status, _, answer = request(server, "REPORT", CAL, body=FREE_BUSY, headers={"Depth": "1"})
    assert status == 200, answer


def test_floating_start_with_a_utc_end_is_refused_and_left_out_of_expansions(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RFC 5545 §3.8.2.2: DTEND is floating if and only if DTSTART is; the mix broke every expansion of the
    calendar (a TypeError in Radicale's expansion). A floating recurring event Radicale cannot expand, stored
    as before, is left out of expansions."""
    mixed = event("fl", "RRULE:FREQ=DAILY\r\nDTEND:20260105T110000Z\r\n", "DTSTART:20260105T100000")
    refused(server, CAL + "fl.ics", mixed.replace("DURATION:PT1H\r\n", ""), "floating date-time DTSTART")
    assert put(server, CAL + "good.ics", event("good"))[0] == 201
    floating = event("fl2", "RRULE:FREQ=DAILY\r\n", "DTSTART:20260105T100000")
    status, _ = put(server, CAL + "fl2.ics", floating)
    if status == 403:  # refused as unexpandable: store it as an older server did
        monkeypatch.setattr(ItemDataResponder, "answer", lambda self, request: None)
        assert put(server, CAL + "fl2.ics", floating)[0] == 201
    status, _, answer = request(
        server, "REPORT", CAL, body=calendar_query(TIME_RANGE, EXPAND), headers={"Depth": "1"}
    )
    assert status == 207 and CAL + "good.ics" in responses(answer), answer
