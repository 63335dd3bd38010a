# SPDX-License-Identifier: GPL-3.0-or-later
"""The CALDAV:valid-filter precondition of a calendar-query, checked before anyone evaluates the filter.

RFC 4791 §7.8 makes a calendar-query whose ``CALDAV:filter`` (§9.7) is not valid fail with the
``CALDAV:valid-filter`` precondition. Radicale evaluates what it is given, and some invalid filters (a
``prop-filter`` naming a component, a time-range that is not a UTC date-time) raise inside its evaluation: a
500 for the whole collection. :class:`FilterCheckResponder` answers ``403`` with ``<C:valid-filter/>`` (RFC
4918 §16) and the reason instead, and lets every valid query through.

Checked: one ``comp-filter`` named VCALENDAR at the top (§9.7.1); components nested as iCalendar nests them
(RFC 5545 §3.6: VALARM in VEVENT or VTODO, STANDARD and DAYLIGHT in VTIMEZONE; ``X-`` names anywhere);
``prop-filter`` names that are properties, not components (§9.7.2); ``time-range``, ``expand`` and
``limit-recurrence-set`` bounds that are UTC date-times (§9.9, §9.6.5, §9.6.6), with start before end.
"""

from __future__ import annotations

import datetime as dt
import logging
import xml.etree.ElementTree as ET
from http import client

from groupware.dav.body import parsed_body
from groupware.dav.request import Answer, DavRequest

__all__ = ["FilterCheckResponder", "filter_problem"]

log = logging.getLogger("groupware.server")

CALDAV = "{urn:ietf:params:xml:ns:caldav}"
#: Which components may appear inside which (RFC 5545 §3.6, RFC 7953 §3.1); None is the filter itself.
CHILDREN: dict[str | None, frozenset[str]] = {
    None: frozenset({"VCALENDAR"}),
    "VCALENDAR": frozenset({"VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VTIMEZONE", "VAVAILABILITY"}),
    "VEVENT": frozenset({"VALARM"}),
    "VTODO": frozenset({"VALARM"}),
    "VTIMEZONE": frozenset({"STANDARD", "DAYLIGHT"}),
    "VAVAILABILITY": frozenset({"AVAILABLE"}),
}
COMPONENTS = frozenset().union(*CHILDREN.values())
_BOUNDED = (CALDAV + "time-range", CALDAV + "expand", CALDAV + "limit-recurrence-set")


def _utc(value: str) -> dt.datetime | None:
    """A ``YYYYMMDDTHHMMSSZ`` date-time (RFC 4791 §9.9: UTC), or None."""
    if len(value) != 16 or not value.endswith("Z"):
        return None
    try:
        return dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return None


def _bounds_problem(element: ET.Element) -> str | None:
    """Why the start and end of a time-range, expand or limit-recurrence-set are not valid, or None."""
    name = element.tag.removeprefix(CALDAV)
    texts = {key: element.get(key) for key in ("start", "end")}
    given = {key: text for key, text in texts.items() if text is not None}
    if not given or (name != "time-range" and len(given) < 2):
        return "time-range needs start or end" if name == "time-range" else f"{name} needs start and end"
    times: dict[str, dt.datetime] = {}
    for key, text in given.items():
        when = _utc(text)
        if when is None:
            return f"{name} {key} is not a UTC date-time such as 20260105T000000Z"
        times[key] = when
    if len(times) == 2 and times["start"] >= times["end"]:
        return f"{name} start is not before its end"
    return None


def _component_problem(element: ET.Element, parent: str | None) -> str | None:
    """Why a comp-filter (and everything in it) is not valid under ``parent``, or None."""
    name = (element.get("name") or "").upper()
    if not name:
        return "comp-filter without a name"
    if not name.startswith("X-") and name not in CHILDREN.get(parent, frozenset()):
        return f"comp-filter {name} cannot be inside {parent or 'the filter'}"
    for child in element:
        if child.tag == CALDAV + "comp-filter":
            problem = _component_problem(child, name)
        elif child.tag == CALDAV + "prop-filter":
            prop = (child.get("name") or "").upper()
            problem = "prop-filter without a name" if not prop else None
            if prop in COMPONENTS or prop == "VCALENDAR":
                problem = f"prop-filter {prop} names a component, not a property"
        else:
            continue
        if problem is not None:
            return problem
    return None


def filter_problem(root: ET.Element) -> str | None:
    """Why a calendar-query body breaks CALDAV:valid-filter (RFC 4791 §9.7), or None when it does not."""
    for element in root.iter():
        if element.tag in _BOUNDED:
            problem = _bounds_problem(element)
            if problem is not None:
                return problem
    filters = root.findall(CALDAV + "filter")
    if len(filters) != 1:
        return "a calendar-query has exactly one filter"
    tops = filters[0].findall(CALDAV + "comp-filter")
    if len(tops) != 1:
        return "the filter has exactly one comp-filter, VCALENDAR"
    return _component_problem(tops[0], None)


class FilterCheckResponder:
    """Answers a calendar-query whose filter is not valid: 403 with ``CALDAV:valid-filter``."""

    def answer(self, request: DavRequest) -> Answer | None:
        """The 403 answer, or None for any other REPORT and for a valid filter."""
        root = parsed_body(request.environ)
        if root is None or root.tag != CALDAV + "calendar-query":
            return None
        problem = filter_problem(root)
        if problem is None:
            return None
        log.info("invalid calendar-query filter", extra={"event": "invalid_filter", "reason": problem})
        error = ET.Element("{DAV:}error")
        ET.SubElement(error, CALDAV + "valid-filter").text = problem
        body = ET.tostring(error, encoding="utf-8", xml_declaration=True)
        return client.FORBIDDEN, {"Content-Type": "application/xml; charset=utf-8"}, body, None
