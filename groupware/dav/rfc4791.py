# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 4791 (CalDAV) §4.1 and §5.3.2.1: what a calendar object resource is, checked on PUT.

Radicale stores whatever iCalendar it can parse. :class:`CalendarObjectResponder`, in front of its PUT (and of
:class:`groupware.dav.item_data.ItemDataResponder`), answers ``403`` with the precondition the RFC names, its
text the reason, to a PUT of a calendar object (a ``VCALENDAR`` body at an item's path)

* sent as ``text/plain`` or any other text type than ``text/calendar``: ``CALDAV:supported-calendar-data``
  (§5.3.2.1; a body without a Content-Type, or an ``application/`` type, is judged by its text);
* holding a ``METHOD`` property: ``CALDAV:valid-calendar-object-resource`` (§4.1: a calendar object resource
  is not an iTIP message; it belongs in a scheduling inbox, RFC 6638 §4);
* without ``VERSION:2.0`` or ``PRODID`` (RFC 5545 §3.6, §3.7.3, §3.7.4), or with an event, to-do or journal
  without ``DTSTAMP`` or ``UID`` (§3.6.1–§3.6.3): ``CALDAV:valid-calendar-data`` (§5.3.2.1);
* holding a component the calendar does not take (its ``supported-calendar-component-set``, §5.2.3): a to-do
  in an agenda of events, say: ``CALDAV:supported-calendar-component`` (§5.3.2.1). Clients read that set and
  offer only what it names.

Thunderbird, DAVx5, iOS, vdirsyncer and python caldav send ``text/calendar`` objects with ``VERSION``,
``PRODID`` and ``DTSTAMP`` and without ``METHOD`` (the client tests and the conformance replay show it), so
none of them meets these refusals. Kept lenient on purpose: a whole calendar PUT at a new collection's path
(Radicale's import, not a calendar object resource). The checks scan the content lines (RFC 5545 §3.1) without
parsing values; what does not parse is left to :mod:`groupware.dav.item_data` and Radicale.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from http import client

from groupware.dav.body import read_body
from groupware.dav.request import Answer, DavRequest
from groupware.dav.rfc4918 import CALDAV, error_answer, located, parent_of
from groupware.dav.upstream import Internals

__all__ = ["CalendarObjectResponder", "calendar_object_problem", "component_problem"]

log = logging.getLogger("groupware.server")

#: Components that RFC 5545 §3.6.1–§3.6.3 require a DTSTAMP and a UID of.
_STAMPED = frozenset({"VEVENT", "VTODO", "VJOURNAL"})
#: Components a calendar's supported-calendar-component-set may leave out (RFC 4791 §5.2.3).
_OBJECTS = _STAMPED | {"VFREEBUSY", "VAVAILABILITY"}


def _content_lines(text: str) -> Iterator[tuple[str, str]]:
    """(upper-cased name, value) of each unfolded content line (RFC 5545 §3.1), without parsing values: a
    scan, cheap on the largest bodies, before the parse of :mod:`groupware.dav.item_data`."""
    for line in text.replace("\r\n", "\n").replace("\n ", "").replace("\n\t", "").split("\n"):
        name, _, value = line.partition(":")
        yield name.split(";", 1)[0].strip().upper(), value.strip()


def _properties(text: str) -> tuple[list[tuple[str, str]], list[tuple[str, set[str]]]]:
    """The properties of the (first) VCALENDAR, and each of its components with its property names."""
    calendar: list[tuple[str, str]] = []
    components: list[tuple[str, set[str]]] = []
    stack: list[str] = []
    for name, value in _content_lines(text):
        if name == "BEGIN":
            stack.append(value.upper())
            if len(stack) == 2:
                components.append((value.upper(), set()))
        elif name == "END":
            if stack:
                stack.pop()
            if not stack:
                break
        elif len(stack) == 1:
            calendar.append((name, value))
        elif len(stack) == 2:
            components[-1][1].add(name)
    return calendar, components


def calendar_object_problem(text: str) -> tuple[str, str] | None:
    """(precondition, reason) when the ``VCALENDAR`` of ``text`` is not a valid calendar object resource."""
    calendar, components = _properties(text)
    names = [name for name, _ in calendar]
    if "METHOD" in names:
        return "valid-calendar-object-resource", "a calendar object resource has no METHOD (RFC 4791 §4.1)"
    if [value for name, value in calendar if name == "VERSION"] != ["2.0"]:
        return "valid-calendar-data", "VCALENDAR needs one VERSION:2.0 (RFC 5545 §3.7.4)"
    if names.count("PRODID") != 1:
        return "valid-calendar-data", "VCALENDAR needs one PRODID (RFC 5545 §3.7.3)"
    for component, properties in components:
        for required in ("DTSTAMP", "UID"):
            if component in _STAMPED and required not in properties:
                return "valid-calendar-data", f"{component} needs a {required} (RFC 5545 §3.6)"
    return None


def component_problem(text: str, supported: str) -> tuple[str, str] | None:
    """(precondition, reason) when the calendar object ``text`` holds a component that a calendar supporting
    ``supported`` (its ``C:supported-calendar-component-set``, names separated by commas) does not."""
    allowed = {name.strip().upper() for name in supported.split(",") if name.strip()}
    for component, _properties_of in _properties(text)[1]:
        if allowed and component in _OBJECTS and component not in allowed:
            reason = f"this calendar holds {', '.join(sorted(allowed))}, not {component} (RFC 4791 §5.3.2.1)"
            return "supported-calendar-component", reason
    return None


def _media_type(request: DavRequest) -> str:
    return str(request.environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()


class CalendarObjectResponder:
    """Refuses a PUT of a calendar object that RFC 4791 §4.1 and §5.3.2.1 do not allow (see the module)."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def _text(self, request: DavRequest) -> str | None:
        """The body as Radicale will decode it (put back for the next reader); None if it is not text."""
        if int(request.environ.get("CONTENT_LENGTH") or 0) > self.internals.max_resource_size:
            return None
        data = read_body(request.environ)
        if data is None:
            return None
        try:
            return self.internals.decode_body(request.environ, data)
        except UnicodeDecodeError:
            return None

    def _component_problem(self, request: DavRequest, text: str) -> tuple[str, str] | None:
        """Why the calendar the PUT targets does not take the object's components, or None."""
        calendar = located(self.internals, request, parent_of(request.path))
        if calendar is None or not hasattr(calendar, "get_meta") or calendar.get_meta("tag") != "VCALENDAR":
            return None
        return component_problem(text, str(calendar.get_meta("C:supported-calendar-component-set") or ""))

    def answer(self, request: DavRequest) -> Answer | None:
        """The 403 answer, or None to hand the PUT on."""
        if request.path.endswith("/"):
            return None  # a whole calendar at a new collection: not one calendar object resource
        text = self._text(request)
        if text is None or not text.lstrip("\ufeff \t\r\n").upper().startswith("BEGIN:VCALENDAR"):
            return None
        media_type = _media_type(request)
        if media_type.startswith("text/") and media_type != "text/calendar":
            found: tuple[str, str] | None = (
                "supported-calendar-data",
                f"calendar data is text/calendar, not {media_type} (RFC 4791 §5.3.2.1)",
            )
        else:
            found = calendar_object_problem(text) or self._component_problem(request, text)
        if found is None:
            return None
        condition, reason = found
        log.info(
            "refused calendar object", extra={"event": "invalid_data", "path": request.path, "reason": reason}
        )
        return error_answer(client.FORBIDDEN, CALDAV + condition, reason)
