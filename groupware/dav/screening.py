# SPDX-License-Identifier: GPL-3.0-or-later
"""One bad item never makes a query on its collection fail, and no query runs without a time bound (RFC 4791
§7.8, §9.7; RFC 6352 §8.6, §10.5).

Radicale's REPORT tests every item the storage did not decide against the filter, and turns the first item
whose test raises ("Failed to filter item") into a 500 for the whole collection: an item stored before the
checks of :mod:`groupware.dav.item_data` existed, or one they missed, broke every query of a shared agenda.
The storage (:meth:`groupware.plugins.storage.Collection.get_filtered`) hands each such item to
:meth:`QueryScreen.verdict` first, which runs the same test (Radicale's own, through
:func:`groupware.dav.upstream.filter_item`) and says:

* ``True``: the item matches; the storage yields it as decided, so Radicale does not test it again;
* ``False``: it does not match;
* ``None``: it cannot be evaluated (its test raised, or it recurs beyond the ``[limits]`` bounds a query can
  afford): it is left out of the answer and logged with the reason.

The screen also bounds the time a query spends testing items (``max_query_seconds``): beyond it,
:class:`QueryTooLong` ends the request, answered ``507`` with the reason by the application.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextvars import ContextVar
from http import client
from typing import Any

from groupware.config import LimitsConfig
from groupware.dav.budget import spend
from groupware.dav.item_data import expansion_problem, stored_item_problem
from groupware.dav.request import Answer
from groupware.dav.upstream import filter_item

__all__ = ["QueryScreen", "QueryTooLong", "beyond_bounds", "every_item_read", "reads_every_item"]

log = logging.getLogger("groupware.server")

#: The filter element each collection type evaluates (RFC 4791 §9.7, RFC 6352 §10.5).
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
FILTER_OF = {
    "VCALENDAR": "{urn:ietf:params:xml:ns:caldav}filter",
    "VADDRESSBOOK": "{urn:ietf:params:xml:ns:carddav}filter",
}


def _well_formed(tag: str, filter_: ET.Element) -> bool:
    """Whether Radicale's test accepts the shape of ``filter_`` (else it answers 400 itself, and no item is
    to blame)."""
    if filter_.tag != FILTER_OF.get(tag):
        return False
    if tag == "VCALENDAR":
        return len(filter_) == 0 or (len(filter_) == 1 and filter_[0].tag.endswith("}comp-filter"))
    return filter_.get("test", "anyof") in ("anyof", "allof") and all(
        child.tag.endswith("}prop-filter") for child in filter_
    )


FREE_BUSY, EXPAND = "free-busy", "expand"
#: How the REPORT being answered in this thread reads every item it returns ("": it does not).
_READS_EVERY_ITEM: ContextVar[str] = ContextVar("groupware_reads_every_item", default="")


def reads_every_item(root: ET.Element | None) -> str:
    """How a REPORT body makes Radicale read (parse, walk or expand) every item its filter selects, even those
    the index decided: a free-busy-query (RFC 4791 §7.10), a calendar-data with expand (§9.6.5); else ""."""
    if root is None:
        return ""
    if root.tag == CALDAV + "free-busy-query":
        return FREE_BUSY
    return EXPAND if root.find(f".//{CALDAV}expand") is not None else ""


@contextlib.contextmanager
def every_item_read(kind: str) -> Iterator[None]:
    """While answering one REPORT: how the items the index decided are screened too ("": they are not)."""
    token = _READS_EVERY_ITEM.set(kind)
    try:
        yield
    finally:
        _READS_EVERY_ITEM.reset(token)


class QueryTooLong(RuntimeError):
    """A REPORT spent more than ``max_query_seconds`` testing items against its filter."""


class QueryScreen:
    """Tests the items of one query against its filters, skipping those that cannot be evaluated."""

    def __init__(self, path: str, tag: str, filters: list[ET.Element], limits: LimitsConfig) -> None:
        self.path = path
        self.tag = tag
        self.filters = filters
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_query_seconds

    @property
    def applies(self) -> bool:
        """Whether the filters are the collection's own kind (a birthday share asks CalDAV of contacts: the
        items are converted first and Radicale tests them itself)."""
        return bool(self.filters) and all(_well_formed(self.tag, f) for f in self.filters)

    @property
    def every_item(self) -> bool:
        """Whether the items the index decided are screened too (the REPORT reads each of them)."""
        return self.tag == "VCALENDAR" and bool(_READS_EVERY_ITEM.get())

    def verdict(self, item: Any, decided: bool = False) -> bool | None:
        """Whether ``item`` matches every filter (``decided``: the index says it does); None when it cannot
        be evaluated (logged)."""
        spend()
        if time.monotonic() > self.deadline:
            seconds = self.limits.max_query_seconds
            raise QueryTooLong(f"the query took more than {seconds:g} s to test the items of {self.path}")
        # A copy is parsed, not the item handed on: Radicale expands shallow copies of the item it is given,
        # once per property asked, and an expansion changes the parsed object in place (a second one on a
        # shared parse then fails); each copy of an item not yet parsed parses its own.
        probe = copy.copy(item)
        try:
            problem = stored_item_problem(probe.vobject_item, self.limits, walk=decided or self.every_item)
            if problem is None and _READS_EVERY_ITEM.get() == EXPAND and self.tag == "VCALENDAR":
                problem = expansion_problem(copy.copy(item).vobject_item)
            if problem is None:
                return decided or all(filter_item(self.tag, probe, filter_) for filter_ in self.filters)
        except Exception as exc:  # whatever the test raises: this item cannot be evaluated
            problem = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        log.warning(
            "item left out of a query: %s",
            problem,
            extra={"event": "item_skipped", "path": f"{self.path}/{item.href}", "reason": problem},
        )
        return None


def beyond_bounds(exc: QueryTooLong | OverflowError, request_info: dict[str, Any]) -> Answer:
    """The answer to a REPORT stopped by its time bound (``507``, RFC 4791 §7.8: the server limits what it
    returns) or whose range reaches dates the server cannot compute (``403`` with ``CALDAV:valid-filter``,
    §7.8, e.g. an expansion over the years 0001 to 9999)."""
    if isinstance(exc, QueryTooLong):
        status, reason = client.INSUFFICIENT_STORAGE, str(exc)
        error = ET.Element("{DAV:}error")
        ET.SubElement(error, "{DAV:}number-of-matches-within-limits").text = reason
    else:
        status, reason = client.FORBIDDEN, f"the time range reaches dates the server cannot compute ({exc})"
        error = ET.Element("{DAV:}error")
        ET.SubElement(error, "{urn:ietf:params:xml:ns:caldav}valid-filter").text = reason
    log.info("query beyond bounds: %s", reason, extra={"event": "query_bounds", "reason": reason})
    request_info["status"] = status
    body = ET.tostring(error, encoding="utf-8", xml_declaration=True)
    return status, {"Content-Type": "application/xml; charset=utf-8"}, body, None
