# SPDX-License-Identifier: GPL-3.0-or-later
"""Finding colleagues: RFC 3744 §9.4 ``DAV:principal-property-search`` and §9.5
``DAV:principal-search-property-set``, answered from the directory.

Clients (Thunderbird's and iOS's attendee pickers, DAVx5's sharing dialogs) search principals by display name
or e-mail address. Searchable properties: ``DAV:displayname``, ``C:calendar-user-address-set`` (RFC 6638
§2.4.1) and Apple's ``CS:email-address-set``. Several ``property-search`` elements must all match (RFC 3744
§9.4), or any of them with ``test="anyof"`` (as CalendarServer accepts); a match is a case- and accent-
insensitive substring, compared in the one fold of the contact index (:func:`groupware.store.text.fold`,
RFC 4790 ``i;unicode-casemap``). At most :data:`MAX_RESULTS` principals are returned, with ``507`` for the
rest (RFC 4918 §11.4). Works on ElementTree documents; knows nothing of Radicale; the caller authenticates.
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from groupware.directory import Person
from groupware.store.text import fold

__all__ = [
    "MAX_RESULTS",
    "PRINCIPAL_PROPERTIES",
    "PeopleIndex",
    "fold",
    "is_principal_search",
    "search_property_set",
    "search_response",
]

DAV, CALDAV, CS = "{DAV:}", "{urn:ietf:params:xml:ns:caldav}", "{http://calendarserver.org/ns/}"
CARDDAV = "{urn:ietf:params:xml:ns:carddav}"
MAX_RESULTS = 50
#: What a search without properties to return (an empty or absent ``DAV:prop``) returns of each principal,
#: as an ``allprop`` of a principal would: python-caldav sends an empty ``prop`` and reads the homes.
PRINCIPAL_PROPERTIES = (
    DAV + "displayname",
    DAV + "resourcetype",
    DAV + "principal-URL",
    CALDAV + "calendar-home-set",
    CARDDAV + "addressbook-home-set",
    CALDAV + "calendar-user-address-set",
    CALDAV + "calendar-user-type",
)
_SEARCHABLE = {
    DAV + "displayname": "Nom",
    CALDAV + "calendar-user-address-set": "Adresse électronique",
    CS + "email-address-set": "Adresse électronique",
}


@dataclass(frozen=True)
class _Entry:
    user: str
    name: str
    mail: str
    folded_name: str
    folded_mail: str


class PeopleIndex:
    """The directory's people, folded for searching, re-read from the directory after ``ttl`` seconds."""

    def __init__(
        self, people: Callable[[], Iterable[Person]], user_name: Callable[[Person], str], ttl: float = 300.0
    ) -> None:
        self._people, self._user_name, self._ttl = people, user_name, ttl
        self._entries: list[_Entry] = []
        self._loaded = -1.0
        self._lock = threading.Lock()

    def entries(self) -> list[_Entry]:
        """The current list (loaded on first use and after ``ttl``)."""
        with self._lock:
            if self._loaded < 0 or time.monotonic() - self._loaded > self._ttl:
                self._entries = [
                    _Entry(
                        self._user_name(p),
                        p.display_name,
                        p.mail or "",
                        fold(p.display_name),
                        fold(p.mail or ""),
                    )
                    for p in self._people()
                    if p.listed  # a red-listed person is found by no search
                ]
                self._loaded = time.monotonic()
            return self._entries


def is_principal_search(root: ET.Element | None) -> bool:
    """Whether a REPORT body is one of the two principal reports."""
    return root is not None and root.tag in (
        DAV + "principal-property-search",
        DAV + "principal-search-property-set",
    )


def search_property_set() -> ET.Element:
    """RFC 3744 §9.5: the properties a principal search may match, each with a description."""
    root = ET.Element(DAV + "principal-search-property-set")
    for name, description in _SEARCHABLE.items():
        item = ET.SubElement(root, DAV + "principal-search-property")
        ET.SubElement(ET.SubElement(item, DAV + "prop"), name)
        ET.SubElement(item, DAV + "description", {"xml:lang": "fr"}).text = description
    return root


def _criteria(root: ET.Element) -> list[tuple[set[str], str]]:
    criteria = []
    for search in root.iterfind(DAV + "property-search"):
        props = {p.tag for p in search.iterfind(f"{DAV}prop/*")}
        match = fold(search.findtext(DAV + "match") or "")
        if match:
            criteria.append((props, match.removeprefix("mailto:")))
    return criteria


def _matches(entry: _Entry, props: set[str], match: str) -> bool:
    if DAV + "displayname" in props and match in entry.folded_name:
        return True
    mail_props = {CALDAV + "calendar-user-address-set", CS + "email-address-set"}
    return bool(props & mail_props) and match in entry.folded_mail


def _prop_value(name: str, entry: _Entry, base: str) -> ET.Element | None:
    element = ET.Element(name)
    href = f"{base}/{entry.user}/"
    if name == DAV + "displayname":
        element.text = entry.name
    elif name in (CALDAV + "calendar-user-address-set", CS + "email-address-set") and entry.mail:
        tag = DAV + "href" if name.startswith(CALDAV) else CS + "email-address"
        ET.SubElement(element, tag).text = f"mailto:{entry.mail}" if tag == DAV + "href" else entry.mail
        if tag == DAV + "href":
            ET.SubElement(element, DAV + "href").text = href
    elif name in (DAV + "principal-URL", CALDAV + "calendar-home-set", CARDDAV + "addressbook-home-set"):
        ET.SubElement(element, DAV + "href").text = href
    elif name == DAV + "resourcetype":
        ET.SubElement(element, DAV + "principal")
    elif name == CALDAV + "calendar-user-type":
        element.text = "INDIVIDUAL"
    else:
        return None
    return element


def _response(entry: _Entry, wanted: list[str], base: str) -> ET.Element:
    response = ET.Element(DAV + "response")
    ET.SubElement(response, DAV + "href").text = f"{base}/{entry.user}/"
    found: list[ET.Element] = []
    missing: list[ET.Element] = []
    for name in wanted:
        value = _prop_value(name, entry, base)
        (found if value is not None else missing).append(value if value is not None else ET.Element(name))
    for props, status in ((found, "200 OK"), (missing, "404 Not Found")):
        if props:
            propstat = ET.SubElement(response, DAV + "propstat")
            ET.SubElement(propstat, DAV + "prop").extend(props)
            ET.SubElement(propstat, DAV + "status").text = f"HTTP/1.1 {status}"
    return response


def search_response(root: ET.Element, index: PeopleIndex, base: str = "") -> ET.Element:
    """RFC 3744 §9.4: the multistatus of the principals matching ``root``'s property searches."""
    criteria = _criteria(root)
    anyof = root.get("test") == "anyof"
    wanted = [p.tag for p in root.iterfind(f"{DAV}prop/*")] or list(PRINCIPAL_PROPERTIES)
    multistatus = ET.Element(DAV + "multistatus")
    if not criteria:
        return multistatus
    hits = 0
    for entry in index.entries():
        results = (_matches(entry, props, match) for props, match in criteria)
        if any(results) if anyof else all(results):
            hits += 1
            if hits > MAX_RESULTS:
                truncated = ET.SubElement(multistatus, DAV + "response")
                ET.SubElement(truncated, DAV + "href").text = f"{base}/"
                ET.SubElement(truncated, DAV + "status").text = "HTTP/1.1 507 Insufficient Storage"
                break
            multistatus.append(_response(entry, wanted, base))
    return multistatus
