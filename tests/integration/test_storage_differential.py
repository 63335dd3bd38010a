# SPDX-License-Identifier: GPL-3.0-or-later
"""Differential: the same calendar-query and addressbook-query REPORTs against a server on Radicale's own
``multifilesystem`` storage and one on ours, with the same items, give the same members and etags.

Our index decides most of these exactly (RFC 4791 §9.9 time-range with recurrences, RFC 6352 §10.5 text-match)
without Radicale re-checking; the comparison shows that it decides as Radicale would. The one deliberate
difference, accent-insensitive matching, is shown apart.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import DAV, USER, RunningServer, ok_prop, request, responses, start_with_storage

CAL, BOOK = f"/{USER}/calendar/", f"/{USER}/contacts/"


def vevent(uid: str, *lines: str, extra: str = "") -> str:
    body = "\r\n".join(["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", *lines, "END:VEVENT"])
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n{body}\r\n{extra}END:VCALENDAR\r\n"


EVENTS = {
    "single": vevent("single", "DTSTART:20260105T100000Z", "DTEND:20260105T110000Z"),
    "allday": vevent("allday", "DTSTART;VALUE=DATE:20260107", "DTEND;VALUE=DATE:20260108"),
    "no-end": vevent("no-end", "DTSTART:20260112T090000Z"),
    "weekly-count": vevent(
        "weekly-count", "DTSTART:20260101T080000Z", "DURATION:PT1H", "RRULE:FREQ=WEEKLY;COUNT=10"
    ),
    "daily-forever": vevent(
        "daily-forever", "DTSTART:20250601T070000Z", "DURATION:PT30M", "RRULE:FREQ=DAILY;INTERVAL=9"
    ),
    "monthly-until": vevent(
        "monthly-until",
        "DTSTART:20250115T120000Z",
        "DTEND:20250115T130000Z",
        "RRULE:FREQ=MONTHLY;UNTIL=20261231T000000Z",
    ),
    "with-exceptions": vevent(
        "with-exceptions",
        "DTSTART:20260102T140000Z",
        "DTEND:20260102T150000Z",
        "RRULE:FREQ=WEEKLY;COUNT=8",
        "EXDATE:20260109T140000Z",
        extra="BEGIN:VEVENT\r\nUID:with-exceptions\r\nDTSTAMP:20260101T000000Z\r\n"
        "RECURRENCE-ID:20260116T140000Z\r\nDTSTART:20260320T140000Z\r\nDTEND:20260320T150000Z\r\n"
        "END:VEVENT\r\n",
    ),
    "zoned": vevent(
        "zoned",
        "DTSTART;TZID=Europe/Paris:20260106T230000",
        "DTEND;TZID=Europe/Paris:20260107T010000",
        extra="BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n"
        "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
        "END:STANDARD\r\nEND:VTIMEZONE\r\n",
    ),
    "past": vevent("past", "DTSTART:20200101T000000Z", "DTEND:20200101T010000Z"),
}
TODO = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VTODO\r\nUID:todo\r\n"
    "DTSTAMP:20260101T000000Z\r\nDTSTART:20260105T000000Z\r\nDUE:20260106T000000Z\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
)


def vcard(uid: str, *lines: str) -> str:
    return "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", *lines, "END:VCARD"]) + "\r\n"


CARDS = {
    "helene": vcard(
        "helene",
        "FN:Hélène Lefèvre",
        "N:Lefèvre;Hélène;;;",
        "EMAIL;TYPE=work:helene.lefevre@ac-x.fr",
        "ORG:Rectorat;DSI",
        "TEL:04 67 00 00 01",
    ),
    "marc": vcard(
        "marc",
        "FN:Marc Durand",
        "N:Durand;Marc;;;",
        "EMAIL:marc.durand@ac-x.fr",
        "NICKNAME:Marco",
        "ADR:;;1 rue Haute;Montpellier;;34000;France",
    ),
    "zoe": vcard("zoe", "FN:Zoé Martin", "N:Martin;Zoé;;;", "ORG:Lycée Joffre"),
    "anne": vcard(
        "anne",
        "FN:Anne-Marie Dupont",
        "N:Dupont;Anne-Marie;;;",
        "EMAIL:am.dupont@ac-x.fr",
        "EMAIL:anne@example.org",
        "TEL;TYPE=cell:06 00 00 00 02",
    ),
    "bare": vcard("bare", "FN:Sans Nom"),
}


def time_range(start: str, end: str, component: str = "VEVENT") -> str:
    return (
        f'<C:comp-filter name="VCALENDAR"><C:comp-filter name="{component}">'
        f'<C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter>'
    )


CALENDAR_QUERIES = [
    time_range("20260105T000000Z", "20260112T000000Z"),
    time_range("20260108T000000Z", "20260110T000000Z"),
    time_range("20260301T000000Z", "20260401T000000Z"),
    time_range("20270101T000000Z", "20270201T000000Z"),
    time_range("20260112T090000Z", "20260112T090001Z"),
    time_range("20260106T215959Z", "20260106T220000Z"),
    time_range("20191231T000000Z", "20200102T000000Z"),
    time_range("20260116T000000Z", "20260117T000000Z"),
    time_range("20260101T000000Z", "20260201T000000Z", "VTODO"),
    '<C:comp-filter name="VCALENDAR"><C:time-range start="20260105T000000Z" end="20260106T000000Z"/>'
    "</C:comp-filter>",
    '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter>',
]


def prop(name: str, text: str, **attributes: str) -> str:
    attrs = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attributes.items())
    return f'<CR:prop-filter name="{name}"><CR:text-match{attrs}>{text}</CR:text-match></CR:prop-filter>'


CONTACT_QUERIES = [
    prop("FN", "mar"),
    prop("FN", "MARC"),
    prop("FN", "hélène"),
    prop("N", "dupont"),
    prop("NICKNAME", "marco"),
    prop("EMAIL", "am.", match_type="starts-with"),
    prop("EMAIL", ".org", match_type="ends-with"),
    prop("ORG", "dsi", match_type="equals"),
    prop("ORG", "lycée"),
    prop("TEL", "06"),
    prop("EMAIL", "ac-x", negate_condition="yes"),
    prop("FN", "Marc", collation="i;octet"),
    prop("FN", "marc", collation="i;ascii-casemap"),
    prop("ADR", "montpellier"),
    '<CR:prop-filter name="EMAIL"><CR:is-not-defined/></CR:prop-filter>',
    '<CR:prop-filter name="NICKNAME"/>',
    '<CR:prop-filter name="EMAIL"><CR:param-filter name="TYPE"/></CR:prop-filter>',
    prop("FN", "an") + prop("EMAIL", "example"),
]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, RunningServer]]:
    tmp = tmp_path_factory.mktemp("differential")
    stock = start_with_storage(tmp / "stock.conf", tmp / "stock", type="multifilesystem")
    ours = start_with_storage(tmp / "ours.conf", tmp / "ours")
    for server in (stock, ours):
        for name, text in [*EVENTS.items(), ("todo", TODO)]:
            status = request(
                server, "PUT", f"{CAL}{name}.ics", body=text, headers={"Content-Type": "text/calendar"}
            )
            assert status[0] == 201, (name, status)
        for name, text in CARDS.items():
            status = request(
                server, "PUT", f"{BOOK}{name}.vcf", body=text, headers={"Content-Type": "text/vcard"}
            )
            assert status[0] == 201, (name, status)
    yield stock, ours
    ours.stop()
    stock.stop()


def report(server: RunningServer, path: str, body: str) -> dict[str, str]:
    status, _, answer = request(server, "REPORT", path, body=body, headers={"Depth": "1"})
    assert status == 207, answer
    return {href: (ok_prop(r, f"{DAV}getetag").text or "") for href, r in responses(answer).items()}  # type: ignore[union-attr]


def calendar_query(filter_xml: str) -> str:
    return (
        '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f"<D:prop><D:getetag/></D:prop><C:filter>{filter_xml}</C:filter></C:calendar-query>"
    )


def addressbook_query(filter_xml: str, test: str = "anyof") -> str:
    return (
        '<?xml version="1.0"?><CR:addressbook-query xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">'
        f'<D:prop><D:getetag/></D:prop><CR:filter test="{test}">{filter_xml}</CR:filter>'
        "</CR:addressbook-query>"
    )


@pytest.mark.parametrize("filter_xml", CALENDAR_QUERIES)
def test_calendar_query_equals_radicale(
    servers: tuple[RunningServer, RunningServer], filter_xml: str
) -> None:
    stock, ours = servers
    assert report(ours, CAL, calendar_query(filter_xml)) == report(stock, CAL, calendar_query(filter_xml))


@pytest.mark.parametrize("test", ["anyof", "allof"])
@pytest.mark.parametrize("filter_xml", CONTACT_QUERIES)
def test_addressbook_query_equals_radicale(
    servers: tuple[RunningServer, RunningServer], filter_xml: str, test: str
) -> None:
    stock, ours = servers
    body = addressbook_query(filter_xml, test)
    assert report(ours, BOOK, body) == report(stock, BOOK, body)


def test_the_corpus_is_not_trivial(servers: tuple[RunningServer, RunningServer]) -> None:
    _, ours = servers
    sizes = {len(report(ours, CAL, calendar_query(q))) for q in CALENDAR_QUERIES}
    assert len(sizes) >= 4 and 0 in sizes


def test_accent_insensitive_search_is_our_deliberate_difference(
    servers: tuple[RunningServer, RunningServer],
) -> None:
    stock, ours = servers
    body = addressbook_query(prop("FN", "helene") + prop("ORG", "lycee"))
    assert set(report(ours, BOOK, body)) == {f"{BOOK}helene.vcf", f"{BOOK}zoe.vcf"}
    assert report(stock, BOOK, body) == {}
