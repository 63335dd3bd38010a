# SPDX-License-Identifier: GPL-3.0-or-later
"""Guards for every use of Radicale's internals (groupware.dav.upstream): they fail when the upstream code we
rely on changes."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import radicale.app
import radicale.app.base
import radicale.app.propfind
import radicale.utils

from groupware.dav import upstream
from groupware.dav.upstream import patch_radicale


def test_upstream_still_reads_versions_through_utils_package_version() -> None:
    source = inspect.getsource(radicale.app.propfind)
    assert "utils.package_version(" in source or "utils.vobject_supports_vcard4()" in source
    assert list(inspect.signature(radicale.utils.package_version).parameters) == ["name"]
    assert "package_version(" in inspect.getsource(radicale.utils.vobject_supports_vcard4)


def test_patch_memoizes_and_returns_the_same_versions() -> None:
    before = radicale.utils.package_version("radicale")
    patch_radicale()
    patch_radicale()  # idempotent: memoized once, not a cache of a cache
    assert radicale.utils.package_version("radicale") == before
    hits = radicale.utils.package_version.cache_info().hits  # type: ignore[attr-defined]
    assert radicale.utils.package_version("radicale") is radicale.utils.package_version("radicale")
    assert radicale.utils.package_version.cache_info().hits == hits + 2  # type: ignore[attr-defined]
    assert not hasattr(radicale.utils.package_version.__wrapped__, "cache_info")  # type: ignore[attr-defined]


def test_trace_patch_skips_disabled_trace_and_keeps_enabled_records() -> None:
    import logging

    import radicale.log

    patch_radicale()
    patch_radicale()
    logger = radicale.log.logger
    assert getattr(logger.trace, "groupware_fast", False)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign,assignment]
    logger.addHandler(handler)
    level = logger.level
    try:
        logger.setLevel(logging.DEBUG)
        logger.trace("hidden %s", 1)
        logger.setLevel(radicale.log.LOG_LEVEL_TRACE)
        logger.trace("shown %s", 2)
    finally:
        logger.setLevel(level)
        logger.removeHandler(handler)
    assert [r.getMessage() for r in records] == ["shown 2"]
    assert records[0].levelno == radicale.log.LOG_LEVEL_TRACE and records[0].funcName != "trace"


def test_every_internal_we_use_is_still_there_with_the_same_parameters() -> None:
    """The names and signatures of upstream.RELIED_ON and the overridden Application methods hold."""
    assert upstream.upstream_drift() == []
    sources = inspect.getsource(radicale.app.base.ApplicationBase.__init__) + inspect.getsource(
        radicale.app.Application.__init__
    )
    for name in upstream.ATTRIBUTES:  # what Internals reads of a running application
        assert f"self.{name} = " in sources, name


def test_drift_is_reported_when_upstream_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a changed signature and a vanished method are both reported."""

    def xml_item_response(base_prefix: str, href: str) -> None: ...

    monkeypatch.setitem(
        upstream.RELIED_ON, "radicale.app.report.xml_item_response", (xml_item_response, ("base_prefix", "x"))
    )
    monkeypatch.setitem(upstream.OVERRIDDEN, "do_SOMETHING", ("self",))
    drift = upstream.upstream_drift()
    assert any("xml_item_response" in line for line in drift)
    assert "radicale.Application.do_SOMETHING is gone" in drift


def test_no_other_module_uses_radicale_internals() -> None:
    """An application's private attributes and ``radicale.app`` are reached only through dav/upstream.py (the
    plugins subclass Radicale's plugin bases, whose attributes are theirs)."""
    root = Path(__file__).resolve().parents[2]
    private = re.compile(
        r"(?<!self)\._(storage|rights|sharing|encoding|max_resource_size|collect_allowed_items)\b|radicale\.app\b"
    )
    offenders = [
        f"{path.relative_to(root)}: {match.group(0)}"
        for path in (root / "groupware").rglob("*.py")
        if path.name != "upstream.py"
        for match in private.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_report_loop_still_skips_the_test_of_items_the_storage_decided() -> None:
    """groupware.dav.screening runs Radicale's filter test in the storage and hands matching items on as
    decided; that keeps one bad item from failing a query only while Radicale's REPORT loops test just the
    undecided items, with ``test_filter``, and read every item of a free-busy query through get_filtered."""
    import radicale.app.report

    source = inspect.getsource(radicale.app.report.xml_report)
    assert "if filters and not filters_matched:" in source
    assert "test_filter(collection_tag, item, filter_)" in source
    assert "Failed to filter item" in source
    assert "item=copy.copy(item)" in source  # expansion works on copies: the screen parses a copy too
    freebusy = inspect.getsource(radicale.app.report.freebusy_collection_text)
    assert "collection.get_filtered(filters)" in freebusy and "if not filter_matched:" in freebusy
    assert "retrieve_items(" in source and "collection.get_filtered(filters)" in inspect.getsource(
        radicale.app.report.retrieve_items
    )


def test_every_instance_walk_goes_through_the_module_and_spends_the_request_budget() -> None:
    """Radicale's callers of ``visit_time_ranges`` (free-busy, time-range filters, the index) look it up on
    the module at each call; the patched walk stops with its request."""
    import radicale.app.report
    import radicale.item
    import radicale.item.filter
    import vobject

    from groupware.dav.budget import RequestCancelled, request_budget

    for module in (radicale.app.report, radicale.item):
        assert "radicale_filter.visit_time_ranges(" in inspect.getsource(module)
    assert "visit_time_ranges(vobject_item, child_name" in inspect.getsource(radicale.item.filter)
    patch_radicale()
    assert getattr(radicale.item.filter.visit_time_ranges, "groupware_budgeted", False)
    endless = vobject.readOne(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20260105T100000Z\r\n"
        "RRULE:FREQ=HOURLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    seen: list[object] = []

    def range_fn(start: object, end: object, recurrence: bool) -> bool:
        seen.append(start)
        return False

    with pytest.raises(RequestCancelled), request_budget({}, 0.0):
        radicale.item.filter.visit_time_ranges(endless, "VEVENT", range_fn, lambda start: False)
    assert 0 < len(seen) < 1000


def test_expansion_gets_its_recurrence_set_from_vobject_and_it_spends_the_request_budget() -> None:
    """Radicale's calendar-query expansion (RFC 4791 §9.6.5) asks vobject for the event's recurrence set;
    the patched set stops with its request instead of walking from the year 1 to the asked range."""
    import datetime

    import radicale.app.report
    import vobject

    from groupware.dav.budget import RequestCancelled, request_budget

    assert "base_vevent.getrruleset()" in inspect.getsource(radicale.app.report._expand)
    patch_radicale()
    event = vobject.readOne(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:00010101T000000Z\r\n"
        "RRULE:FREQ=MONTHLY\r\nRRULE:FREQ=MONTHLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).vevent
    ruleset = event.getrruleset()
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    with pytest.raises(RequestCancelled), request_budget({}, 0.0):
        ruleset.between(start, start + datetime.timedelta(days=31), inc=True)
    assert len(event.getrruleset().between(start, start + datetime.timedelta(days=31), inc=True)) == 2


def test_carddav_filters_reach_prop_match_through_the_module_and_grouped_names_match_their_group() -> None:
    """Radicale's CardDAV filter test looks ``prop_match`` up on the module at each call; the patched one
    reads ``item1.EMAIL`` as the EMAIL properties of group item1 (RFC 6350 §3.3), a plain name as before."""
    import xml.etree.ElementTree as ET

    import radicale.app.report
    import radicale.item.filter
    import vobject

    assert 'radicale_filter.prop_match(item.vobject_item, f, "CR")' in inspect.getsource(
        radicale.app.report.test_filter
    )
    patch_radicale()
    assert getattr(radicale.item.filter.prop_match, "groupware_grouped", False)
    card = vobject.readOne(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:A\r\nN:A;;;;\r\nITEM1.EMAIL:a@example.org\r\n"
        "item2.TEL:+33 1\r\nEND:VCARD\r\n"
    )

    def matches(name: str, text: str | None = None, absent: bool = False) -> bool:
        cr = "urn:ietf:params:xml:ns:carddav"
        element = ET.Element(f"{{{cr}}}prop-filter", {"name": name})
        if text is not None:
            ET.SubElement(element, f"{{{cr}}}text-match").text = text
        if absent:
            ET.SubElement(element, f"{{{cr}}}is-not-defined")
        return bool(radicale.item.filter.prop_match(card, element, "CR"))

    assert matches("EMAIL", "example") and matches("item1.email", "example") and matches("ITEM2.TEL")
    assert (
        not matches("item2.EMAIL") and not matches("ITEM1.TEL", "33") and matches("item3.EMAIL", absent=True)
    )
    assert not matches("ITEM1.EMAIL", absent=True) and not matches("EMAIL", "nowhere")
