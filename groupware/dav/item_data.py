# SPDX-License-Identifier: GPL-3.0-or-later
"""Calendar and address data on the way in: what a PUT stores, the server can read back and expand within
bounds (RFC 4791 §5.3.2.1, RFC 6352 §6.3.2.1).

:class:`ItemDataResponder` runs in front of Radicale's PUT. It parses the body as Radicale will, and refuses
with ``403`` and the precondition ``CALDAV:valid-calendar-data`` (``CARDDAV:valid-address-data`` for a vCard),
its text the reason, an object that

* holds more than ``max_components`` components, a component where iCalendar does not nest one (RFC 5545
  §3.6: VALARM in VEVENT and VTODO, STANDARD and DAYLIGHT in VTIMEZONE) or any component in a vCard (RFC 6350
  §3.3) — a prop-filter naming it made every query of the collection fail;
* holds a text property value over ``max_item_property_size`` characters or a parameter value over
  ``max_parameter_size`` (binary values, PHOTO and the like, are bounded by ``max_resource_size`` only);
* recurs beyond the bounds of :mod:`groupware.dav.recurrence`;
* cannot be read back: the text the server would store is parsed again and walked as the queries walk it
  (every instance of its events, to-dos and journals, RFC 4791 §9.9; every property value as a text-match
  reads it; the contact fields the store indexes). A VTIMEZONE whose DTSTART is a date, for example, is
  accepted by the parser but written back with ``VALUE=DATE``, which the parser then refuses: stored, it made
  free-busy, expansion and text-match of its whole calendar fail. The walk has the time bound of a query
  (``max_query_seconds``).

Anything else (not iCalendar or vCard, not parseable) goes to Radicale, which answers as it always did.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from http import client
from typing import Any

import vobject

from groupware.config import LimitsConfig
from groupware.dav.body import limits_of, read_body
from groupware.dav.recurrence import iter_components, recurrence_problem
from groupware.dav.request import Answer, DavRequest
from groupware.dav.upstream import Internals, expand_item, make_item, read_components, visit_time_ranges
from groupware.dav.validity import CHILDREN
from groupware.store import contact_values

__all__ = [
    "ItemDataResponder",
    "content_problem",
    "readback_problem",
    "stored_item_problem",
    "walk_instances",
]

log = logging.getLogger("groupware.server")

CALDAV = "{urn:ietf:params:xml:ns:caldav}"
CARDDAV = "{urn:ietf:params:xml:ns:carddav}"
#: Properties whose values are binary data (RFC 6350 §6.2.4, §6.6.3, §6.7.5, §6.8.1; RFC 5545 §3.8.1.1).
BINARY = frozenset({"PHOTO", "LOGO", "SOUND", "KEY", "ATTACH"})
#: Instances of one object the read-back walks: enough for every kind of instance (first, recurring, rule
#: beyond rule, overridden), and as far as free-busy walks an infinite rule (it does not stop at infinity).
READBACK_INSTANCES = 1000
#: Instances of one stored recurring item a free-busy or expanding query walks before reading it.
SCREEN_INSTANCES = 50
#: Components whose instances the queries walk (RFC 4791 §9.9).
RECURRING = ("VEVENT", "VTODO", "VJOURNAL")


def _nesting_problem(parent: Any) -> str | None:
    """Why a component sits where iCalendar or vCard does not nest one, or None (experimental ``X-``
    components may hold anything)."""
    name = parent.name.upper()
    if name.startswith("X-"):
        return None
    for child in parent.components():
        child_name = child.name.upper()
        if name == "VCARD":
            return f"a vCard holds no component (RFC 6350 §3.3), found {child_name}"
        if name == "VCALENDAR" and child_name.startswith("X-"):
            continue
        if child_name not in CHILDREN.get(name, frozenset()):
            return f"{name} cannot hold {child_name} (RFC 5545 §3.6)"
    return None


def _binary(line: Any) -> bool:
    params = {key.upper(): [str(v).upper() for v in values] for key, values in line.params.items()}
    return (
        line.name.upper() in BINARY
        or any(value in ("B", "BASE64") for value in params.get("ENCODING", ()))
        or "BINARY" in params.get("VALUE", ())
    )


def _line_problem(component: Any, limits: LimitsConfig) -> str | None:
    """Why a property of ``component`` (its value or a parameter) is over the limits, or None."""
    for line in component.lines():
        for values in line.params.values():
            for value in values:
                if len(str(value)) > limits.max_parameter_size:
                    return (
                        f"a parameter of {line.name} has {len(str(value))} characters, "
                        f"over {limits.max_parameter_size}"
                    )
        if _binary(line):
            continue
        size = len(line.value) if isinstance(line.value, str) else len(str(line.value))
        if size > limits.max_item_property_size:
            return f"{line.name} has {size} characters, over {limits.max_item_property_size}"
    return None


def _object_key(top: Any, component: Any) -> str:
    """The calendar object (RFC 4791 §4.1: the components of one UID) a component counts toward; a whole
    calendar PUT at a collection holds many."""
    if component is top or top.name.upper() != "VCALENDAR":
        return ""
    uid = component.contents.get("uid")
    return str(uid[0].value) if uid else component.name.upper()


def _kind(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return "floating date-time" if value.tzinfo is None else "date-time"
    return "date" if isinstance(value, dt.date) else "text"


def _value_type_problem(component: Any) -> str | None:
    """Why DTEND or DUE is not of DTSTART's value type, or is floating where DTSTART is not (or the other way
    round), against RFC 5545 §3.8.2.2 and §3.8.2.3; or None. Radicale's expansion fails on such a mix."""
    starts = component.contents.get("dtstart")
    if not starts:
        return None
    start = _kind(starts[0].value)
    for name in ("dtend", "due"):
        for line in component.contents.get(name, []):
            if _kind(line.value) != start:
                return f"{component.name} has a {_kind(line.value)} {name.upper()} and a {start} DTSTART"
    return None


def expansion_problem(calendar: Any) -> str | None:
    """Why Radicale's expansion (RFC 4791 §9.6.5) of a recurring event fails, or None; run on an object of
    its own (the expansion changes it)."""
    events = calendar.contents.get("vevent", [])
    base = next((e for e in events if "rrule" in e.contents and "recurrence-id" not in e.contents), None)
    if base is None or "dtstart" not in base.contents:
        return None
    value = base.dtstart.value
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    start = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    try:
        # Its first minute: the instances there go through every step of the expansion, and are few.
        expand_item(make_item(calendar), start, start + dt.timedelta(minutes=1), 0)
    except Exception as exc:  # whatever the expansion raises
        return f"it cannot be expanded: {_first_line(exc)}"
    return None


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def content_problem(objects: list[Any], limits: LimitsConfig) -> str | None:
    """Why the parsed objects of a PUT are beyond the limits (components per object, nesting, sizes,
    recurrence)."""
    for top in objects:
        counts: dict[str, int] = {}
        for child in top.components():
            key = _object_key(top, child)
            for _component in iter_components(child):
                counts[key] = counts.get(key, 0) + 1
                if counts[key] > limits.max_components:
                    return f"more than {limits.max_components} components in one object"
        for component in iter_components(top):
            problem = (
                _nesting_problem(component)
                or _line_problem(component, limits)
                or _value_type_problem(component)
            )
            if problem is not None:
                return problem
        problem = recurrence_problem(top, limits)
        if problem is not None:
            return problem
    return None


def walk_instances(calendar: Any, instances: int, seconds: float) -> None:
    """Walk the instances of every event, to-do and journal as a time-range query and free-busy do (RFC 4791
    §9.9), at most ``instances`` of them per object and for at most ``seconds``; raises what the walk raises.
    """
    deadline = time.monotonic() + seconds
    seen = 0

    def range_fn(start: datetime, end: datetime, is_recurrence: bool) -> bool:
        nonlocal seen
        seen += 1
        _ = start.timestamp(), end.timestamp()  # what the index and free-busy compute of each instance
        if time.monotonic() > deadline:
            raise ValueError(f"its instances take more than {seconds:g} s to walk")
        return seen > instances

    for one in _calendar_objects(calendar):
        for name in RECURRING:
            if name.lower() in one.contents:
                seen = 0
                visit_time_ranges(one, name, range_fn, lambda start: False)


def _calendar_objects(calendar: Any) -> list[Any]:
    """The calendar objects of a calendar (RFC 4791 §4.1: one UID each, with the calendar's time zones), as
    Radicale stores a whole calendar PUT at a collection."""
    groups: dict[str, list[Any]] = {}
    for child in calendar.components():
        if child.name.upper() in RECURRING:
            uid = child.contents.get("uid")
            groups.setdefault(str(uid[0].value) if uid else "", []).append(child)
    if len(groups) <= 1:
        return [calendar]
    objects = []
    for components in groups.values():
        one = vobject.iCalendar()
        for component in [*calendar.contents.get("vtimezone", []), *components]:
            one.add(component)
        objects.append(one)
    return objects


def _read_values(component: Any) -> None:
    """Read every property value as a text-match does (RFC 4791 §9.7.5, RFC 6352 §10.5.4)."""
    for current in iter_components(component):
        for line in current.lines():
            _ = str(line.value)
            for values in line.params.values():
                _ = [str(value) for value in values]


def readback_problem(objects: list[Any], limits: LimitsConfig) -> str | None:
    """Why the text the server would store of ``objects`` cannot be read back as the queries read it."""
    for top in objects:
        try:
            text = top.serialize()
            for again in read_components(text):
                _read_values(again)
                if again.name.upper() == "VCALENDAR":
                    walk_instances(again, READBACK_INSTANCES, limits.max_query_seconds)
                    problem = next(filter(None, map(expansion_problem, _calendar_objects(again))), None)
                    if problem is not None:
                        return f"the server cannot read this object back as it would store it: {problem}"
                elif again.name.upper() == "VCARD":
                    list(contact_values(again))
        except Exception as exc:  # whatever the readers raise is why the object cannot be stored
            return f"the server cannot read this object back as it would store it: {_first_line(exc)}"
    return None


def stored_item_problem(vobject_item: Any, limits: LimitsConfig, walk: bool = False) -> str | None:
    """Why an item already stored is beyond the bounds a query can afford to evaluate, or None; ``walk``:
    whether its recurrences must also be computable (free-busy and expansion compute them). Raises what the
    walk raises."""
    problem = content_problem([vobject_item], limits)
    if problem is None and walk and vobject_item.name.upper() == "VCALENDAR" and _recurs(vobject_item):
        walk_instances(vobject_item, SCREEN_INSTANCES, limits.max_query_seconds)
    return problem


def _recurs(calendar: Any) -> bool:
    return any("rrule" in c.contents or "rdate" in c.contents for c in calendar.components())


def _refusal(problem: str, address: bool) -> Answer:
    """403 with ``CALDAV:valid-calendar-data`` or ``CARDDAV:valid-address-data`` whose text is the reason."""
    error = ET.Element("{DAV:}error")
    tag = CARDDAV + "valid-address-data" if address else CALDAV + "valid-calendar-data"
    ET.SubElement(error, tag).text = problem
    body = ET.tostring(error, encoding="utf-8", xml_declaration=True)
    return client.FORBIDDEN, {"Content-Type": "application/xml; charset=utf-8"}, body, None


class ItemDataResponder:
    """Refuses a PUT whose calendar object or vCard is beyond the limits or cannot be read back."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def _body(self, request: DavRequest) -> str | None:
        """The body, decoded as Radicale will decode it, and put back for Radicale to read."""
        if int(request.environ.get("CONTENT_LENGTH") or 0) > self.internals.max_resource_size:
            return None
        raw = read_body(request.environ)
        if raw is None:
            return None
        try:
            return self.internals.decode_body(request.environ, raw)
        except UnicodeDecodeError:
            return None

    def answer(self, request: DavRequest) -> Answer | None:
        """The 403 answer, or None to let Radicale store (or refuse) the object."""
        text = self._body(request)
        if text is None:
            return None
        try:
            objects = read_components(text)
        except Exception:  # Radicale's PUT answers 400 to what it cannot parse
            return None
        limits = limits_of(request.environ)
        problem = content_problem(objects, limits) or readback_problem(objects, limits)
        if problem is None:
            return None
        address = any(obj.name.upper() == "VCARD" for obj in objects)
        log.info("refused object", extra={"event": "invalid_data", "path": request.path, "reason": problem})
        return _refusal(problem, address)
