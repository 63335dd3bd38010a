# SPDX-License-Identifier: GPL-3.0-or-later
"""Whole-collection fast paths answer byte for byte what Radicale answers, and step aside when they cannot."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    LDIF_DIRECTORY,
    USER,
    RunningServer,
    config_module,
    count_fast_renders,
    request,
    write_config,
)
from support import request as dav_request

from groupware.dav import fastpath

BOOK, CALENDAR = f"/{USER}/contacts/", f"/{USER}/calendar/"

PROPFINDS = {
    "thunderbird-carddav": '<d:propfind xmlns:d="DAV:"><d:prop><d:getcontenttype/><d:getetag/></d:prop>'
    "</d:propfind>",
    "thunderbird-caldav": '<D:propfind xmlns:D="DAV:"><D:prop><D:getcontenttype/><D:resourcetype/>'
    "<D:getetag/>"
    "</D:prop></D:propfind>",
    "every-item-property": '<propfind xmlns="DAV:"><prop><getetag/><getlastmodified/><getcontentlength/>'
    "<getcontenttype/><resourcetype/><displayname/><owner/><current-user-privilege-set/>"
    "<supported-report-set/><current-user-principal/></prop></propfind>",
    "foreign-namespaces": '<propfind xmlns="DAV:" xmlns:CS="http://calendarserver.org/ns/" '
    'xmlns:X="urn:x-test">'
    "<prop><getetag/><CS:getctag/><X:colour/><sync-token/></prop></propfind>",
}
SYNCS = {
    "davx5": '<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/>'
    "<getcontenttype/></prop></sync-collection>",
    "etag-only": '<d:sync-collection xmlns:d="DAV:"><d:sync-level>1</d:sync-level><d:prop><d:getetag/>'
    "</d:prop></d:sync-collection>",
    "with-404": '<sync-collection xmlns="DAV:" xmlns:CS="http://calendarserver.org/ns/"><sync-token>'
    "</sync-token>"
    "<sync-level>1</sync-level><prop><getetag/><resourcetype/><CS:getctag/></prop></sync-collection>",
}

_CARDDAV_QUERY = (
    '<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop>{props}'
    '</D:prop><C:filter><C:prop-filter name="{name}"><C:text-match collation="i;unicode-casemap" '
    'match-type="{match}">{text}</C:text-match></C:prop-filter></C:filter></C:addressbook-query>'
)
_CALDAV_QUERY = (
    '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop>{props}</D:prop>'
    '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="{component}"><C:time-range '
    'start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>'
)
QUERIES = {  # (collection, body, items in the answer)
    "card-data-escaped": (
        BOOK,
        _CARDDAV_QUERY.format(props="<D:getetag/><C:address-data/>", name="FN", match="contains", text="zoé"),
        3,
    ),
    "card-etag-type": (
        BOOK,
        _CARDDAV_QUERY.format(
            props="<D:getcontenttype/><D:getetag/>", name="EMAIL", match="starts-with", text="PERSON1"
        ),
        2,
    ),
    "card-accents": (
        BOOK,
        _CARDDAV_QUERY.format(
            props="<C:address-data/><D:getetag/>", name="FN", match="contains", text="MARIE"
        ),
        3,
    ),
    "week-of-events": (
        CALENDAR,
        _CALDAV_QUERY.format(
            props="<D:getetag/><C:calendar-data/>",
            component="VEVENT",
            start="20260901T000000Z",
            end="20260910T000000Z",
        ),
        3,
    ),
    "month-of-tasks": (
        CALENDAR,
        _CALDAV_QUERY.format(
            props="<C:calendar-data/><D:getetag/><D:getcontenttype/>",
            component="VTODO",
            start="20260901T000000Z",
            end="20261001T000000Z",
        ),
        2,
    ),
}


def _vcard(index: int) -> str:
    names = ["Hélène Lefèvre", "Zoé <Nguyen> & co", "Loïc Le Goff", "Marie Martin"]
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-{index}\r\nFN:{names[index % 4]} {index}\r\n"
        f"N:{names[index % 4].split()[-1]};{names[index % 4].split()[0]};;;\r\n"
        f"EMAIL:person{index}@ac-montpellier.fr\r\nEND:VCARD\r\n"
    )


def _calendar_object(index: int) -> str:
    component = "VTODO" if index % 3 == 0 else "VEVENT"
    when = "DUE" if component == "VTODO" else "DTSTART"
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:{component}\r\nUID:object-{index}\r\n"
        f"DTSTAMP:20260901T080000Z\r\n{when}:202609{index % 28 + 1:02d}T090000Z\r\n"
        f"SUMMARY:Conseil de classe n°{index}\r\nEND:{component}\r\nEND:VCALENDAR\r\n"
    )


@pytest.fixture(params=["groupware.plugins.storage", "fastpath_storage"])
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """A server on groupware's storage engine, or on Radicale's own storage extended with item facts."""
    path = write_config(tmp_path / "fast.conf", LDIF_DIRECTORY)
    path.write_text(path.read_text().replace("[storage]\n", f"[storage]\ntype = {request.param}\n"))
    running = RunningServer(config_module.load(path))
    assert dav_request(running, "PROPFIND", f"/{USER}/", headers={"Depth": "1"})[0] == 207  # provisions
    for index in range(12):
        names = ("vcf", "text/vcard", _vcard) if index % 2 else ("ics", "text/calendar", _calendar_object)
        folder = BOOK if index % 2 else CALENDAR
        href = f"{folder}item {index} é+{uuid.UUID(int=index)}.{names[0]}"  # spaces and accents get quoted
        status = dav_request(
            running,
            "PUT",
            href.replace(" ", "%20").replace("é", "%C3%A9"),
            body=names[2](index),
            headers={"Content-Type": names[1]},
        )[0]
        assert status == 201
    yield running
    running.stop()


def _both(server: RunningServer, method: str, path: str, body: str, depth: str | None) -> tuple[bytes, bytes]:
    app = server.server.app
    headers = {"Depth": depth} if depth else {}
    results = []
    for fast in (False, True):
        app.fast_paths = fast
        status, answer_headers, answer = request(server, method, path, body=body, headers=headers)
        assert status == 207, answer
        results.append((answer_headers.get("dav"), answer_headers["content-type"], answer))
    assert results[0][:2] == results[1][:2]
    return results[0][2], results[1][2]


def _both_any(
    server: RunningServer, method: str, path: str, body: str, depth: str | None
) -> tuple[bytes, bytes]:
    """:func:`_both` for answers of any status (the status and headers must agree too)."""
    app = server.server.app
    results = []
    for fast in (False, True):
        app.fast_paths = fast
        results.append(request(server, method, path, body=body, headers={"Depth": depth} if depth else {}))
    assert results[0][0] == results[1][0] and results[0][1].get("content-type") == results[1][1].get(
        "content-type"
    )
    return results[0][2], results[1][2]


@pytest.mark.parametrize("collection", [BOOK, CALENDAR])
@pytest.mark.parametrize("body", PROPFINDS.values(), ids=PROPFINDS.keys())
def test_depth_1_propfind_equals_radicale(
    server: RunningServer, collection: str, body: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = count_fast_renders(monkeypatch)
    stock, fast = _both(server, "PROPFIND", collection, body, "1")
    assert fast == stock
    assert rendered() == 5, "5 of the 6 items rendered from facts, the first one through Radicale"


@pytest.mark.parametrize("collection", [BOOK, CALENDAR])
@pytest.mark.parametrize("body", SYNCS.values(), ids=SYNCS.keys())
def test_initial_sync_collection_equals_radicale(
    server: RunningServer, collection: str, body: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = count_fast_renders(monkeypatch)
    stock, fast = _both(server, "REPORT", collection, body, None)
    assert fast == stock
    assert rendered() == 5


@pytest.mark.parametrize(("collection", "body", "items"), QUERIES.values(), ids=QUERIES.keys())
def test_queries_the_index_decides_equal_radicale(
    server: RunningServer, collection: str, body: str, items: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """addressbook-query and calendar-query answered from stored texts when every match is exact."""
    rendered = count_fast_renders(monkeypatch)
    stock, fast = _both(server, "REPORT", collection, body, "1")
    assert fast == stock
    assert stock.count(b"<response>") == items
    engine = type(server.server.app._storage).__module__ == "groupware.plugins.storage"
    assert rendered() == (items - 1 if engine else 0), (
        "the first item through Radicale, the others from the store"
    )


def test_queries_the_index_does_not_decide_go_to_radicale(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = [
        (
            BOOK,
            _CARDDAV_QUERY.format(props="<D:getetag/>", name="NOTE", match="contains", text="x"),
        ),  # no index
        (
            BOOK,
            _CARDDAV_QUERY.format(
                props='<D:getetag/><C:address-data content-type="text/vcard" version="4.0"/>',
                name="FN",
                match="contains",
                text="zoé",
            ),
        ),  # vCard 4.0 asked
        (
            BOOK,
            _CARDDAV_QUERY.format(
                props="<D:getetag/><D:displayname/>", name="FN", match="contains", text="zoé"
            ),
        ),  # a property the fast path does not render
        (
            BOOK,
            _CARDDAV_QUERY.format(props="<D:getetag/>", name="FN", match="contains", text="zoé").replace(
                "</C:addressbook-query>",
                "<C:limit><C:nresults>1</C:nresults></C:limit></C:addressbook-query>",
            ),
        ),
        (
            CALENDAR,
            _CALDAV_QUERY.format(
                props='<D:getetag/><C:calendar-data><C:expand start="20260901T000000Z" '
                'end="20261001T000000Z"/></C:calendar-data>',
                component="VEVENT",
                start="20260901T000000Z",
                end="20261001T000000Z",
            ),
        ),
        (
            CALENDAR,
            _CALDAV_QUERY.format(
                props="<D:getetag/>", component="VEVENT", start="20260901T000000Z", end="20261001T000000Z"
            ).replace(
                "<C:time-range",
                '<C:prop-filter name="SUMMARY"><C:text-match>n°2</C:text-match></C:prop-filter><C:time-range',
            ),
        ),  # a text-match in a calendar: Radicale checks it
        (
            BOOK,
            _CALDAV_QUERY.format(
                props="<D:getetag/>", component="VEVENT", start="20260901T000000Z", end="20261001T000000Z"
            ),
        ),  # a calendar-query on an address book
        (
            CALENDAR,
            _CALDAV_QUERY.format(
                props="<D:getetag/>", component="VEVENT", start="garbage", end="20261001T000000Z"
            ),
        ),  # a malformed time range: 400 from Radicale
        (
            CALENDAR,
            _CALDAV_QUERY.format(
                props="<D:getetag/><C:calendar-data/>",
                component="VEVENT",
                start="20260901T000000Z",
                end="20261001T000000Z",
            ).replace(
                "</D:prop>",
                '</D:prop><D:prop><C:calendar-data><C:expand start="20260901T000000Z" '
                'end="20261001T000000Z"/></C:calendar-data></D:prop>',
            ),
        ),  # an expansion in a second prop
        (
            CALENDAR,
            _CALDAV_QUERY.format(
                props="<D:getetag/><C:calendar-data/>",
                component="VEVENT",
                start="20260901T000000Z",
                end="20261001T000000Z",
            ).replace(
                "/></C:comp-filter>",
                '><C:expand start="20260901T000000Z" end="20261001T000000Z"/></C:time-range></C:comp-filter>',
            ),
        ),  # an expansion anywhere counts
        (
            BOOK,
            _CARDDAV_QUERY.format(
                props="<D:getetag/><C:address-data/>", name="FN", match="contains", text="zoé"
            ).replace("</D:prop>", '</D:prop><D:prop><C:address-data version="4.0"/></D:prop>'),
        ),  # vCard 4.0
        (
            BOOK,
            _CARDDAV_QUERY.format(props="<D:getetag/>", name="FN", match="contains", text="personne"),
        ),  # none
    ]
    rendered = count_fast_renders(monkeypatch)
    for collection, body in cases:
        stock, fast = _both_any(server, "REPORT", collection, body, "1")
        assert fast == stock, body
    assert rendered() == 0


def test_requests_it_cannot_answer_go_to_radicale(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = b"".join(_both(server, "REPORT", BOOK, SYNCS["davx5"], None)[0].partition(b"<sync-token>")[1:])
    token_text = token.split(b"</sync-token>")[0].removeprefix(b"<sync-token>").decode()
    cases = [
        ("PROPFIND", f"/{USER}/", PROPFINDS["thunderbird-caldav"], "1"),  # the home: not a leaf collection
        ("PROPFIND", BOOK, '<propfind xmlns="DAV:"><allprop/></propfind>', "1"),
        (
            "REPORT",
            BOOK,
            SYNCS["davx5"].replace("<sync-token/>", f"<sync-token>{token_text}</sync-token>"),
            None,
        ),
        (
            "REPORT",
            BOOK,
            (
                '<sync-collection xmlns="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><sync-token/>'
                "<prop><getetag/><CR:address-data/></prop></sync-collection>"
            ),
            None,
        ),
        (
            "REPORT",
            BOOK,
            (
                '<sync-collection xmlns="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><sync-token/>'
                '<prop><getetag/></prop><CR:filter><CR:prop-filter name="FN"><CR:text-match>Loïc'
                "</CR:text-match></CR:prop-filter></CR:filter></sync-collection>"
            ),
            None,
        ),
    ]
    rendered = count_fast_renders(monkeypatch)
    for method, path, body, depth in cases:
        stock, fast = _both(server, method, path, body, depth)
        assert fast == stock
    assert rendered() == 0


def test_other_users_collections_stay_closed(server: RunningServer) -> None:
    for fast in (False, True):
        server.server.app.fast_paths = fast
        status, _, _ = request(
            server,
            "PROPFIND",
            BOOK,
            login="marie.martin",
            password="marie.martin-demo",
            body=PROPFINDS["thunderbird-carddav"],
            headers={"Depth": "1"},
        )
        assert status == 403
        status, _, _ = request(
            server, "REPORT", BOOK, login="marie.martin", password="marie.martin-demo", body=SYNCS["davx5"]
        )
        assert status == 403


def test_template_refuses_what_it_cannot_reproduce() -> None:
    facts = fastpath.ItemFacts(
        "/a/b/x.vcf", '"e1"', "Thu, 26 Nov 2026 04:00:00 GMT", "text/vcard;charset=utf-8", "12"
    )
    good = (
        '<response><href>/a/b/x.vcf</href><propstat><prop><getetag>"e1"</getetag><getcontentlength>12'
        "</getcontentlength></prop><status>HTTP/1.1 200 OK</status></propstat></response>"
    )
    template = fastpath.ResponseTemplate.learn(good, facts)
    assert template is not None
    other = facts._replace(href="/a/b/y&amp;z.vcf", etag='"e2"', length="7")  # facts come XML-escaped
    assert template.render(other) == good.replace("x.vcf", "y&amp;z.vcf").replace("e1", "e2").replace(
        ">12<", ">7<"
    )
    assert (
        fastpath.ResponseTemplate.learn(good.replace('"e1"', '"e9"'), facts) is None
    )  # the value is not there
    assert fastpath.ResponseTemplate.learn(good.replace("<href>/a/b/x.vcf</href>", ""), facts) is None
    assert fastpath.split_document("<m><r/></m>", "<m xmlns:x='y'><r/><r/></m>") is None


SHARED = "/marie.martin/helene.lefevre-calendar/"


@pytest.mark.parametrize("level", ["r", "rw"])
def test_a_calendar_shared_into_a_home_equals_radicale(
    server: RunningServer, level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through a map share (RFC 4918 hrefs in the member's home), at read or read-write."""
    status, _, body = request(
        server,
        "POST",
        "/.sharing/v1/map/create",
        body=json.dumps({"PathMapped": CALENDAR, "User": "marie.martin", "Permissions": level}),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    assert status == 200, body
    rendered = count_fast_renders(monkeypatch)
    app = server.server.app
    for method, query, depth in [
        ("PROPFIND", PROPFINDS["every-item-property"], "1"),
        ("PROPFIND", PROPFINDS["thunderbird-caldav"], "1"),
        ("REPORT", SYNCS["davx5"], None),
        ("REPORT", QUERIES["week-of-events"][1], "1"),
    ]:
        answers = []
        for fast in (False, True):
            app.fast_paths = fast
            status, _, answer = request(
                server,
                method,
                SHARED,
                login="marie.martin",
                password="marie.martin-demo",
                body=query,
                headers={"Depth": depth} if depth else {},
            )
            assert status == 207
            answers.append(answer)
        assert answers[1] == answers[0]
        assert SHARED.encode() in answers[0] and CALENDAR.encode() not in answers[0].replace(
            b"<href>" + CALENDAR.encode() + b"</href>", b""
        )  # every href mapped into the member's home
    engine = type(server.server.app._storage).__module__ == "groupware.plugins.storage"
    assert rendered() == 3 * 5 + (QUERIES["week-of-events"][2] - 1 if engine else 0)
