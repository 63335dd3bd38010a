# SPDX-License-Identifier: GPL-3.0-or-later
"""The recurrence bounds and object checks of a PUT, judged without a server (RFC 5545 §3.3.10, §3.6;
RFC 4791 §5.3.2.1)."""

from __future__ import annotations

import datetime as dt

import pytest

from groupware.config import LimitsConfig
from groupware.dav.item_data import content_problem, readback_problem
from groupware.dav.recurrence import rule_problem
from groupware.dav.upstream import read_components

LIMITS = LimitsConfig()
START = dt.date(2026, 1, 5)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=HOURLY",
        "FREQ=DAILY",
        "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
        "FREQ=YEARLY;BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;BYDAY=MO,TU,WE,TH,FR,SA,SU",
        "FREQ=WEEKLY;BYDAY=MO,TU;UNTIL=20360101",
        "FREQ=SECONDLY;COUNT=500",
        "FREQ=MINUTELY;UNTIL=20260106T000000Z",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO",
        "FREQ=MONTHLY;BYDAY=-1FR",
    ],
)
def test_rules_the_server_can_expand_pass(rule: str) -> None:
    assert rule_problem(rule, START, LIMITS) is None


@pytest.mark.parametrize(
    "rule,reason",
    [
        ("FREQ=SECONDLY", "86400 instances a day"),
        ("FREQ=MINUTELY", "1440 instances a day"),
        ("FREQ=DAILY;BYHOUR=1,2,3;BYMINUTE=0,5,10,15,20,25,30,35,40,45,50,55", "instances a day"),
        ("FREQ=SECONDLY;UNTIL=20260201T000000Z", "instances, over 10000"),
        ("FREQ=DAILY;COUNT=10001", "COUNT must be"),
        ("FREQ=DAILY;COUNT=x", "COUNT must be"),
        ("FREQ=DAILY;UNTIL=x", "UNTIL"),
        ("FREQ=NEVER", "FREQ"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "does not recur within 28 years"),
        ("FREQ=SECONDLY;COUNT=3;BYMONTH=2;BYMONTHDAY=30", "does not recur"),
        ("FREQ=DAILY;BYSETPOS=5;BYDAY=MO", "BYSETPOS"),
        ("FREQ=MONTHLY;BYDAY=6MO", "ordinal"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20270101", "both COUNT and UNTIL"),
    ],
)
def test_rules_beyond_the_bounds_are_refused(rule: str, reason: str) -> None:
    problem = rule_problem(rule, START, LIMITS)
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    "rule,start,refused",
    [
        ("FREQ=HOURLY", dt.date(1, 1, 1), True),  # 17 million hours to walk before today's
        ("FREQ=DAILY", dt.date(1700, 1, 1), True),
        ("FREQ=HOURLY", dt.date(2020, 1, 1), False),
        ("FREQ=DAILY", dt.date(1990, 1, 1), False),  # a daily reminder kept since 1990
        ("FREQ=YEARLY", dt.date(1, 1, 1), False),  # a birthday or a feast
        ("FREQ=HOURLY;COUNT=24", dt.date(1, 1, 1), False),
    ],
)
def test_an_endless_rule_may_not_start_too_long_ago(rule: str, start: dt.date, refused: bool) -> None:
    """Every walk starts at DTSTART (RFC 5545 §3.8.5.3): an endless hourly rule from the year 1 makes every
    query of its calendar walk 17 million instances first."""
    problem = rule_problem(rule, start, LIMITS)
    assert (problem is not None and "since its DTSTART" in problem) is refused, problem


def calendar(*events: str) -> str:
    body = "".join(
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nEND:VEVENT\r\n"
        for uid in events
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n{body}END:VCALENDAR\r\n"


def test_components_are_counted_per_object_so_a_calendar_import_passes() -> None:
    limits = LimitsConfig(max_components=3)
    assert content_problem(read_components(calendar(*map(str, range(10)))), limits) is None
    many = calendar("a").replace(
        "END:VEVENT", "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT1M\r\nEND:VALARM\r\n" * 3 + "END:VEVENT"
    )
    problem = content_problem(read_components(many), limits)
    assert problem is not None and "more than 3 components" in problem


def test_an_object_that_reads_back_passes() -> None:
    assert readback_problem(read_components(calendar("a", "b")), LIMITS) is None
