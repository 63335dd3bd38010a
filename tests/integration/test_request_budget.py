# SPDX-License-Identifier: GPL-3.0-or-later
"""The budget of a request (``[limits] max_request_seconds``, :mod:`groupware.dav.budget`): its work stops
when it runs over, or when its client has gone, and the server goes on answering everyone else; a database
whose write lock stays taken answers 503 with Retry-After (RFC 9110 §15.6.4), not 500."""

from __future__ import annotations

import base64
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import LDIF_DIRECTORY, PASSWORD, USER, RunningServer, request, wait_until, write_config

from groupware import config as config_module

CAL = "/helene.lefevre/calendar/"
ICS = {"Content-Type": "text/calendar; charset=utf-8"}
EVENTS = 20
#: A day ten years after the start of hourly events: the filter walks every instance before it, in each of
#: them (the index records only the first ones), seconds of work with no limit of Radicale's own on the way.
FAR_QUERY = (
    '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>'
    '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
    '<C:time-range start="20360101T000000Z" end="20360102T000000Z"/></C:comp-filter></C:comp-filter>'
    "</C:filter></C:calendar-query>"
)


def hourly(uid: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDURATION:PT10M\r\n"
        "RRULE:FREQ=HOURLY\r\nSUMMARY:busy\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def start(tmp_path: Path, limits: str) -> RunningServer:
    path = write_config(tmp_path / "groupware.conf", LDIF_DIRECTORY)
    path.write_text(path.read_text() + f"\n[limits]\n{limits}\n")
    server = RunningServer(config_module.load(path))
    assert request(server, "PROPFIND", CAL, headers={"Depth": "0"})[0] == 207
    for n in range(EVENTS):
        assert request(server, "PUT", f"{CAL}h{n}.ics", body=hourly(f"h{n}"), headers=ICS)[0] == 201
    return server


@pytest.fixture
def budgeted(tmp_path: Path) -> Iterator[RunningServer]:
    server = start(tmp_path, "max_request_seconds = 0.3")
    yield server
    server.stop()


def test_a_request_over_its_budget_answers_503_with_the_reason(budgeted: RunningServer) -> None:
    started = time.monotonic()
    status, _, answer = request(budgeted, "REPORT", CAL, body=FAR_QUERY, headers={"Depth": "1"})
    elapsed = time.monotonic() - started
    assert status == 503, (status, answer[:300])
    assert b"took more than 0.3 s" in answer, answer
    assert elapsed < 3, elapsed
    # The locks and the transaction of the stopped request are released: everything else goes on.
    assert request(budgeted, "PUT", CAL + "after.ics", body=hourly("after"), headers=ICS)[0] == 201
    assert request(budgeted, "GET", CAL + "after.ics")[0] == 200
    assert request(budgeted, "PROPFIND", CAL, headers={"Depth": "1"})[0] == 207


def test_an_expansion_from_the_year_1_stops_with_its_budget(budgeted: RunningServer) -> None:
    """RFC 4791 §9.6.5: Radicale expands from DTSTART to the asked range, through every instance before it;
    each one is a step of the request's budget."""
    rules = "".join(f"RRULE:FREQ=MONTHLY;BYMONTHDAY={day}\r\n" for day in (1, 2, 3, 4))
    ancient = (  # 97,000 instances before 2026: under the 100,000 a PUT accepts
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:ancient\r\n"
        f"DTSTAMP:20260101T000000Z\r\nDTSTART:00010101T000000Z\r\n{rules}SUMMARY:old\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    put = request(budgeted, "PUT", CAL + "ancient.ics", body=ancient, headers=ICS)
    assert put[0] == 201, put[2]
    expand = (
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data>'
        '<C:expand start="20260101T000000Z" end="20260201T000000Z"/></C:calendar-data></D:prop><C:filter>'
        '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="UID">'
        "<C:text-match>ancient</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter></C:filter>"
        "</C:calendar-query>"
    )
    started = time.monotonic()
    status, _, answer = request(budgeted, "REPORT", CAL, body=expand, headers={"Depth": "1"})
    assert status == 503 and b"took more than 0.3 s" in answer, (status, answer[:300])
    assert time.monotonic() - started < 3


class Records(logging.Handler):
    """The records of one logger, kept (Radicale's logging setup at each server start replaces the root's
    handlers, pytest's among them)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_work_of_a_client_that_has_gone_stops(tmp_path: Path) -> None:
    server = start(tmp_path, "max_request_seconds = 600")
    kept = Records()
    logging.getLogger("groupware.server").addHandler(kept)
    try:
        host, port = server.server.addresses[0]
        body = FAR_QUERY.encode()
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        head = (
            f"REPORT {CAL} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {token}\r\n"
            f"Depth: 1\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        with socket.create_connection((host, port)) as sock:
            sock.sendall(head.encode() + body)
            time.sleep(0.5)  # the walk has started
        gone = lambda: [r for r in kept.records if getattr(r, "event", "") == "request_cancelled"]  # noqa: E731
        records = wait_until(gone, timeout=10, message="the request went on after its client left")
        assert getattr(records[0], "reason", "") == "the client has gone"
        assert request(server, "GET", CAL + "h0.ics")[0] == 200
    finally:
        logging.getLogger("groupware.server").removeHandler(kept)
        server.stop()


def test_a_write_lock_held_past_the_busy_timeout_answers_503_with_retry_after(tmp_path: Path) -> None:
    path = write_config(tmp_path / "g.conf", LDIF_DIRECTORY, storage_options={"busy_timeout": "0.2"})
    server = RunningServer(config_module.load(path))
    try:
        assert request(server, "PROPFIND", CAL, headers={"Depth": "0"})[0] == 207
        database = server.server.services.database.path
        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process writing for longer than the busy timeout
        try:
            status, headers, answer = request(server, "PUT", CAL + "w.ics", body=hourly("w"), headers=ICS)
            assert status == 503, (status, answer)
            assert int(headers["retry-after"]) > 0
            assert b"busy" in answer
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert request(server, "PUT", CAL + "w.ics", body=hourly("w"), headers=ICS)[0] == 201
    finally:
        server.stop()


def test_the_budget_stops_a_walk_in_any_thread_only_within_its_request() -> None:
    """Outside a request (the address-book sync, the CLI), :func:`spend` never stops anything."""
    from groupware.dav.budget import RequestCancelled, request_budget, spend

    for _ in range(10_000):
        spend()
    errors: list[BaseException] = []

    def walk() -> None:
        try:
            with request_budget({}, 0.01):
                time.sleep(0.02)
                for _ in range(1_000):
                    spend()
        except RequestCancelled as exc:
            errors.append(exc)

    thread = threading.Thread(target=walk)
    thread.start()
    thread.join()
    assert len(errors) == 1 and not errors[0].gone  # type: ignore[attr-defined]
    for _ in range(10_000):
        spend()  # this thread has no budget: nothing raised


def test_an_error_answer_is_not_held_back(tmp_path: Path) -> None:
    """Radicale sleeps after every 5xx answer unless told not to: ten 502 answers (RFC 4918 §9.8.5: a COPY to
    another server) held a worker thread one second each."""
    path = write_config(tmp_path / "groupware.conf", LDIF_DIRECTORY)
    server = RunningServer(config_module.load(path))
    try:
        started = time.monotonic()
        for _ in range(10):
            answer = request(server, "COPY", CAL, headers={"Destination": "http://elsewhere.example/x/"})
            assert answer[0] == 502, answer
        assert time.monotonic() - started < 5
    finally:
        server.stop()
