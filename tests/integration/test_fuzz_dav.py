# SPDX-License-Identifier: GPL-3.0-or-later
"""Property-based fuzzing (hypothesis) of what a DAV client sends: iCalendar and vCard PUT bodies (RFC 5545,
RFC 6350; RFC 4791 §5.3.2, RFC 6352 §6.3.2) and XML REPORT and PROPFIND bodies (RFC 4791 §7, RFC 6352 §8,
RFC 4918 §9.1), against one real in-process server.

The properties, for every generated input: no 5xx answer but the server's own bounds with their reason
(:func:`bounded`), each answer within :data:`BOUND` seconds, and the server keeps answering; after each PUT,
the queries of :data:`CALENDAR_QUERIES` (:data:`CARD_QUERIES`) on its collection answer too: what PUT
accepts, the server can read back. The default run tries :data:`EXAMPLES` inputs per parser, derandomized so
that CI is stable; the ``slow`` variant tries 10,000 per parser with fresh randomness against ``groupware
serve`` in a child process (:class:`ChildServer`) and checks that process's memory growth too (measured in
the test's own process it would count the generator's memory). It runs only when selected (``pytest -m
slow``); otherwise it is reported as skipped, not silently left out.
"""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import LDIF_DIRECTORY, HasUrl, RunningServer, request, wait_for_port, write_config

from groupware import config as config_module

CAL = "/helene.lefevre/calendar/"
BOOK = "/helene.lefevre/contacts/"
BOUND = 10.0
EXAMPLES = 300
SLOW_EXAMPLES = 10_000

# -- iCalendar and vCard -------------------------------------------------------------------------------------

DATES = st.sampled_from(
    [
        "20260105T100000Z",
        "20260105T100000",
        "20260105",
        "00010101T000000Z",
        "99991231T235959Z",
        "19700101",
        "20260230T250000Z",
        "2026",
        "",
        "x",
    ]
)
RULE_PARTS = st.sampled_from(
    [
        "FREQ=SECONDLY",
        "FREQ=MINUTELY",
        "FREQ=HOURLY",
        "FREQ=DAILY",
        "FREQ=WEEKLY",
        "FREQ=MONTHLY",
        "FREQ=YEARLY",
        "FREQ=FOO",
        "COUNT=3",
        "COUNT=100000",
        "COUNT=0",
        "UNTIL=20270101T000000Z",
        "UNTIL=99991231",
        "INTERVAL=0",
        "INTERVAL=2",
        "BYDAY=MO,TU",
        "BYDAY=-1SU",
        "BYMONTH=2",
        "BYMONTHDAY=30",
        "BYHOUR=1,2,3",
        "BYMINUTE=0,30",
        "BYSECOND=0,1,2",
        "BYSETPOS=-1",
        "WKST=SU",
    ]
)
RULES = st.lists(RULE_PARTS, min_size=0, max_size=5).map(";".join)
TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
PARAMS = st.sampled_from(
    [
        "",
        ";VALUE=DATE",
        ";VALUE=DATE-TIME",
        ";TZID=Europe/Paris",
        ";TZID=Bad/Zone",
        ";VALUE=PERIOD",
        ";ENCODING=b",
        ";CN=" + "y" * 2000,
        ';X-P="a:b"',
        ";RANGE=THISANDFUTURE",
        ";TYPE=WORK,HOME",
    ]
)


def _line(name: str, value: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(PARAMS, value).map(lambda pv: f"{name}{pv[0]}:{pv[1]}")


EVENT_LINES = st.one_of(
    _line("DTSTART", DATES),
    _line("DTEND", DATES),
    _line("DURATION", st.sampled_from(["PT1H", "P1D", "-PT1H", "P9999999D", "X"])),
    _line("RRULE", RULES),
    _line("RDATE", st.lists(DATES, max_size=4).map(",".join)),
    _line("EXDATE", st.lists(DATES, max_size=4).map(",".join)),
    _line("RECURRENCE-ID", DATES),
    _line("SUMMARY", TEXT),
    _line("X-FOO", TEXT),
    st.sampled_from(
        [
            "BEGIN:VALARM",
            "END:VALARM",
            "BEGIN:X-FOO",
            "END:X-FOO",
            "TRIGGER:-PT5M",
            "ACTION:DISPLAY",
            "BEGIN:VTIMEZONE",
            "END:VTIMEZONE",
            "TZID:Bad/Zone",
            "BEGIN:STANDARD",
            "END:STANDARD",
            "TZOFFSETFROM:+0100",
            "TZOFFSETTO:+0200",
            "UID:second",
        ]
    ),
)


FREQS = st.sampled_from(["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"])
WELL_FORMED_RULES = st.tuples(FREQS, st.lists(RULE_PARTS.filter(lambda p: "FREQ" not in p), max_size=3)).map(
    lambda fp: ";".join([f"FREQ={fp[0]}", *fp[1]])
)
STARTS = st.sampled_from(
    [
        "DTSTART:20260105T100000Z",
        "DTSTART;VALUE=DATE:20260105",
        "DTSTART;TZID=Bad/Zone:20260105T100000",
        "DTSTART:00010101T000000Z",
        "DTSTART:99991230T000000Z",
        "DTSTART:20260105T100000",
    ]
)
BLOCKS = st.sampled_from(
    [
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM",
        "BEGIN:X-FOO\r\nX-BAR:a\r\nEND:X-FOO",
        "RECURRENCE-ID:20260112T100000Z",
        "DURATION:PT1H",
        "DTEND:20260105T110000Z",
        "SUMMARY:a " + "x" * 70_000,
    ]
)
TIMEZONES = st.sampled_from(
    [
        "",
        "BEGIN:VTIMEZONE\r\nTZID:Bad/Zone\r\nBEGIN:STANDARD\r\nDTSTART:19700101\r\nTZOFFSETFROM:+0100\r\n"
        "TZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n",
        "BEGIN:VTIMEZONE\r\nTZID:Bad/Zone\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\n"
        "TZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n",
    ]
)


@st.composite
def calendars(draw: st.DrawFn) -> str:
    """Mostly well-formed calendar objects (so that PUT accepts many), with hostile parts and noise lines."""
    component = draw(st.sampled_from(["VEVENT", "VEVENT", "VEVENT", "VTODO", "VJOURNAL"]))
    lines = [draw(STARTS), *(f"RRULE:{rule}" for rule in draw(st.lists(WELL_FORMED_RULES, max_size=3)))]
    lines += draw(st.lists(BLOCKS, max_size=3)) + draw(st.lists(EVENT_LINES, max_size=2))
    lines += [f"SUMMARY:{draw(TEXT)}"]
    if draw(st.booleans()):
        lines.append(f"RDATE:{','.join(draw(st.lists(DATES, min_size=1, max_size=3)))}")
    lines = draw(st.permutations(lines))
    body = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//fuzz//EN",
        draw(TIMEZONES).rstrip("\r\n"),
        f"BEGIN:{component}",
        "UID:fuzz",
        "DTSTAMP:20260101T000000Z",
        *lines,
        f"END:{component}",
        "END:VCALENDAR",
    ]
    return "\r\n".join(line for line in body if line) + "\r\n"


CARD_LINES = st.one_of(
    _line("FN", TEXT),
    _line("N", TEXT),
    _line("EMAIL", TEXT),
    _line("TEL", TEXT),
    _line("BDAY", DATES),
    _line("ADR", st.lists(TEXT, max_size=8).map(";".join)),
    _line("PHOTO", st.sampled_from(["QUFB", "data:image/png;base64,QUFB", "=="])),
    _line("AGENT", st.just("BEGIN:VCARD\\nFN:x\\nEND:VCARD")),
    st.sampled_from(
        [
            "BEGIN:X-NEST\r\nX-A:a\r\nEND:X-NEST",
            "VERSION:4.0",
            "UID:other",
            "X-NEST:abc",
            "NOTE:" + "n" * 70_000,
            "BEGIN:X-NEST",
            "END:VCARD",
        ]
    ),
)


@st.composite
def vcards(draw: st.DrawFn) -> str:
    lines = draw(st.lists(CARD_LINES, max_size=10))
    return "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", "UID:fuzz", "FN:Fuzz", *lines, "END:VCARD"]) + "\r\n"


# -- DAV XML ------------------------------------------------------------------------------------------------

NAMES = st.sampled_from(
    [
        "VCALENDAR",
        "VEVENT",
        "VTODO",
        "VALARM",
        "VTIMEZONE",
        "X-FOO",
        "SUMMARY",
        "UID",
        "DTSTART",
        "RRULE",
        "FN",
        "EMAIL",
        "X-NEST",
        "",
        "vevent",
    ]
)
TIMES = st.sampled_from(
    ["20260101T000000Z", "20270101T000000Z", "00010101T000000Z", "99991231T235959Z", "20260101", "x", ""]
)


def _attrs(name: str, start: str, end: str) -> str:
    return f' name="{name}"' + (f' start="{start}"' if start else "") + (f' end="{end}"' if end else "")


@st.composite
def filter_elements(draw: st.DrawFn, prefix: str, depth: int = 0) -> str:
    tag = draw(
        st.sampled_from(
            [
                "comp-filter",
                "prop-filter",
                "param-filter",
                "text-match",
                "time-range",
                "is-not-defined",
                "limit-recurrence-set",
                "expand",
            ]
        )
    )
    attrs = _attrs(draw(NAMES), draw(TIMES), draw(TIMES))
    children = "" if depth > 3 else "".join(draw(st.lists(filter_elements(prefix, depth + 1), max_size=3)))
    text = draw(st.sampled_from(["", "a", "hello", "\u00e9"])) if tag == "text-match" else ""
    return f"<{prefix}:{tag}{attrs}>{text}{children}</{prefix}:{tag}>"


@st.composite
def report_bodies(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(
        st.sampled_from(
            [
                "calendar-query",
                "addressbook-query",
                "free-busy-query",
                "calendar-multiget",
                "sync-collection",
                "expand",
            ]
        )
    )
    prefix = "CR" if kind == "addressbook-query" else "C"
    inner = "".join(draw(st.lists(filter_elements(prefix), max_size=3)))
    data = draw(st.sampled_from(["", f'<C:expand start="{draw(TIMES)}" end="{draw(TIMES)}"/>']))
    prop = f"<D:prop><D:getetag/><C:calendar-data>{data}</C:calendar-data><CR:address-data/></D:prop>"
    head = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CR="urn:ietf:params:xml:ns:carddav"'
    if kind == "free-busy-query":
        body = (
            f'<C:free-busy-query {head}><C:time-range start="{draw(TIMES)}" end="{draw(TIMES)}"/>'
            f"</C:free-busy-query>"
        )
    elif kind == "calendar-multiget":
        body = (
            f"<C:calendar-multiget {head}>{prop}<D:href>{CAL}fuzz.ics</D:href>{inner}</C:calendar-multiget>"
        )
    elif kind == "sync-collection":
        body = (
            f"<D:sync-collection {head}><D:sync-token>{draw(TEXT)}</D:sync-token>{prop}</D:sync-collection>"
        )
    else:
        name = "calendar-query" if kind == "expand" else kind
        body = f"<{prefix}:{name} {head}>{prop}<{prefix}:filter>{inner}</{prefix}:filter></{prefix}:{name}>"
    return (BOOK if prefix == "CR" else CAL), body


PROPFIND_BODIES = st.lists(
    st.sampled_from(
        [
            "<D:getetag/>",
            "<D:displayname/>",
            "<C:calendar-data/>",
            "<D:sync-token/>",
            "<D:current-user-privilege-set/>",
            '<X:unknown xmlns:X="x:"/>',
            "<D:allprop/>",
            "<D:propname/>",
            "<C:supported-calendar-component-set/>",
            "<D:owner/>",
        ]
    ),
    max_size=6,
).map(
    lambda props: (
        '<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop>'
        + "".join(props)
        + "</D:prop></D:propfind>"
    )
)

# -- the server and the properties ---------------------------------------------------------------------------


def _fuzz_config(folder: Path) -> Path:
    path = write_config(folder / "groupware.conf", LDIF_DIRECTORY)
    # The server's own time bounds, below BOUND: longer queries and requests end with their reason.
    path.write_text(path.read_text() + "\n[limits]\nmax_query_seconds = 4\nmax_request_seconds = 7\n")
    return path


def _seed(server: HasUrl) -> None:
    for home in (CAL, BOOK):
        request(server, "PROPFIND", home, headers={"Depth": "0"})
    seed = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:seed\r\nDTSTAMP:20260101T000000Z"
        "\r\nDTSTART:20260105T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:hello\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    request(server, "PUT", CAL + "seed.ics", body=seed, headers={"Content-Type": "text/calendar"})


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = RunningServer(config_module.load(_fuzz_config(tmp_path_factory.mktemp("fuzz"))))
    _seed(server)
    yield server
    server.stop()


class ChildServer:
    """``groupware serve`` in a child process, so that its memory is measured apart from the test's (the
    generator's own memory grows with the number of examples)."""

    def __init__(self, config: Path) -> None:
        hosts = config_module.read_sections(config)["server"]["hosts"]
        host, _, port = hosts.rpartition(":")
        self.url = f"http://{host}:{port}"
        self.log = config.with_name("serve.log")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "groupware.cli", "serve", "--config", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        wait_for_port(host, int(port), timeout=30)

    def rss(self) -> int:
        """Resident memory of the server process, in bytes (``/proc/PID/status``)."""
        return _rss(Path(f"/proc/{self.process.pid}/status"))

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def fuzz_child(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    server = ChildServer(_fuzz_config(tmp_path_factory.mktemp("fuzz-child")))
    _seed(server)
    yield server
    server.stop()


def answers_within_bounds(server: HasUrl, method: str, path: str, body: str, **headers: str) -> None:
    started = time.monotonic()
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=3 * BOUND)
    try:
        status, _, answer = request(server, method, path, body=body, headers=headers, conn=conn)
    except TimeoutError:
        status, answer = 0, b"(no answer)"
    finally:
        conn.close()
    elapsed = time.monotonic() - started
    assert status and (status < 500 or bounded(status, answer)), (
        f"{method} {path} answered {status}: {answer[:500]!r}\n{body}\n{stored(server, path)}"
    )
    assert elapsed < BOUND, f"{method} {path} took {elapsed:.1f} s\n{body}\n{stored(server, path)}"


def stored(server: HasUrl, path: str) -> str:
    """What the collection of ``path`` holds, for the message of a failure (the state that made it)."""
    folder = path if path.endswith("/") else path.rsplit("/", 1)[0] + "/"
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
    try:
        items = [name for name in ("fuzz.ics", "seed.ics", "fuzz.vcf")]
        texts = [
            request(server, "GET", folder + name, conn=conn)[2].decode(errors="replace") for name in items
        ]
    except OSError as exc:
        return f"(the collection could not be read: {exc})"
    finally:
        conn.close()
    return "stored:\n" + "\n".join(texts)


def bounded(status: int, answer: bytes) -> bool:
    """Whether a 5xx is the server's own bound at work, with its reason (RFC 4791 §7.8: 507 and
    DAV:number-of-matches-within-limits for a query over ``max_query_seconds``; 503 for a request over
    ``max_request_seconds``), not a failure."""
    return (status == 507 and b"number-of-matches-within-limits" in answer) or (
        status == 503 and b"The server stopped this request" in answer
    )


def check_put(server: HasUrl, path: str, body: str) -> None:
    kind = "text/vcard" if path.endswith(".vcf") else "text/calendar"
    answers_within_bounds(server, "PUT", path, body, **{"Content-Type": kind})


def _calendar_query(inner: str, data: str = "") -> str:
    return (
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/>'
        f'<C:calendar-data>{data}</C:calendar-data></D:prop><C:filter><C:comp-filter name="VCALENDAR">'
        f'<C:comp-filter name="VEVENT">{inner}</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>'
    )


YEAR = '<C:time-range start="20260101T000000Z" end="20270101T000000Z"/>'
#: What the queries read of the items PUT accepted (RFC 4791 §7.8, §7.10; RFC 6352 §8.6): every one answers.
CALENDAR_QUERIES = [
    _calendar_query(YEAR),
    _calendar_query('<C:time-range start="20300101T000000Z" end="20300102T000000Z"/>'),
    _calendar_query(YEAR, '<C:expand start="20260101T000000Z" end="20260201T000000Z"/>'),
    _calendar_query('<C:prop-filter name="SUMMARY"><C:text-match>a</C:text-match></C:prop-filter>'),
    _calendar_query('<C:prop-filter name="X-FOO"><C:text-match>a</C:text-match></C:prop-filter>'),
    '<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">'
    '<C:time-range start="20260101T000000Z" end="20270101T000000Z"/></C:free-busy-query>',
]
CARD_QUERIES = [
    '<CR:addressbook-query xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/>'
    f'<CR:address-data/></D:prop><CR:filter><CR:prop-filter name="{name}"><CR:text-match>a</CR:text-match>'
    "</CR:prop-filter></CR:filter></CR:addressbook-query>"
    for name in ("FN", "EMAIL", "X-NEST", "AGENT", "ADR")
]


def check_put_then_queries(server: HasUrl, path: str, body: str, queries: list[str]) -> None:
    """What PUT accepts, every query of the collection can still read (issue 13)."""
    check_put(server, path, body)
    for query in queries:
        answers_within_bounds(server, "REPORT", path.rsplit("/", 1)[0] + "/", query, Depth="1")


def check_report(server: HasUrl, path_body: tuple[str, str]) -> None:
    answers_within_bounds(server, "REPORT", path_body[0], path_body[1], Depth="1")


def check_propfind(server: HasUrl, body: str) -> None:
    answers_within_bounds(server, "PROPFIND", CAL, body, Depth="1")


CASES: dict[str, tuple[st.SearchStrategy[object], Callable[[HasUrl, object], None]]] = {
    "icalendar-put": (
        calendars(),
        lambda server, body: check_put_then_queries(server, CAL + "fuzz.ics", str(body), CALENDAR_QUERIES),
    ),
    "vcard-put": (
        vcards(),
        lambda server, body: check_put_then_queries(server, BOOK + "fuzz.vcf", str(body), CARD_QUERIES),
    ),
    "report": (report_bodies(), lambda server, pb: check_report(server, pb)),  # type: ignore[arg-type]
    "propfind": (PROPFIND_BODIES, lambda server, body: check_propfind(server, str(body))),
}


def run_case(server: HasUrl, name: str, examples: int, derandomize: bool) -> None:
    strategy, check = CASES[name]

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def case(value: object) -> None:
        check(server, value)

    case()
    status, _, _ = request(server, "PROPFIND", CAL, headers={"Depth": "0"})
    assert status == 207, "the server stopped answering"


@pytest.mark.parametrize("name", CASES)
def test_generated_bodies_get_no_server_error(fuzz_server: HasUrl, name: str) -> None:
    run_case(fuzz_server, name, EXAMPLES, derandomize=True)


def _rss(status: Path) -> int:
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS in {status}")


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_ten_thousand_generated_bodies_per_parser(
    fuzz_child: ChildServer, name: str, request_fixture: pytest.FixtureRequest
) -> None:
    """10,000 inputs per parser against a server process of its own; its memory may not grow by 100 MB (the
    first 300 inputs warm its caches before the measure)."""
    if "slow" not in (request_fixture.config.getoption("markexpr") or ""):
        pytest.skip("10,000 generated inputs per parser: select them with -m slow")
    run_case(fuzz_child, name, EXAMPLES, derandomize=True)
    before = fuzz_child.rss()
    run_case(fuzz_child, name, SLOW_EXAMPLES, derandomize=False)
    grown = fuzz_child.rss() - before
    assert grown < 100 * 1024 * 1024, f"the server's memory grew by {grown / 2**20:.0f} MB"


@pytest.fixture
def request_fixture(request: pytest.FixtureRequest) -> pytest.FixtureRequest:
    return request
