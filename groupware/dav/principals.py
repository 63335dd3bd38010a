# SPDX-License-Identifier: GPL-3.0-or-later
"""Principal properties from the directory, for clients that discover people by themselves.

* ``C:calendar-user-address-set`` (RFC 6638 §2.4.1) carries the person's ``mailto:`` address first, so
  Thunderbird, DAVx5 and iOS know which attendee is "me";
* ``D:displayname`` (RFC 4918 §15.2) of a principal is the person's name.

Works on a DAV multistatus tree (RFC 4918 §14.16) before it is serialized; knows nothing of Radicale.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import unquote

from groupware.directory import Person

__all__ = ["enrich_multistatus", "principal_name"]

DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
_ADDRESS_SET = CALDAV + "calendar-user-address-set"
_DISPLAYNAME = DAV + "displayname"


def principal_name(href: str, base_prefix: str = "") -> str | None:
    """The user name if ``href`` is a principal URL ``<base>/<user>/``, else ``None``."""
    path = unquote(href)
    if base_prefix and path.startswith(base_prefix):
        path = path[len(base_prefix) :]
    parts = [part for part in path.split("/") if part]
    return parts[0] if len(parts) == 1 and path.endswith("/") else None


def _propstat(response: ET.Element, status_code: str) -> ET.Element | None:
    for propstat in response.iterfind(DAV + "propstat"):
        status = propstat.findtext(DAV + "status") or ""
        if f" {status_code} " in f"{status} ":
            return propstat
    return None


def _ok_prop(response: ET.Element) -> ET.Element:
    propstat = _propstat(response, "200")
    if propstat is None:
        propstat = ET.Element(DAV + "propstat")
        ET.SubElement(propstat, DAV + "prop")
        ET.SubElement(propstat, DAV + "status").text = "HTTP/1.1 200 OK"
        response.insert(1, propstat)
    prop = propstat.find(DAV + "prop")
    assert prop is not None
    return prop


def _enrich_response(response: ET.Element, person: Person) -> None:
    ok = _propstat(response, "200")
    address_set = ok.find(f"{DAV}prop/{_ADDRESS_SET}") if ok is not None else None
    mailto = f"mailto:{person.mail}".casefold()
    if (
        address_set is not None
        and person.mail
        and not any(
            (known.text or "").strip().casefold() == mailto for known in address_set.iterfind(DAV + "href")
        )
    ):
        href = ET.Element(DAV + "href")
        href.text = f"mailto:{person.mail}"
        address_set.insert(0, href)
    missing = _propstat(response, "404")
    name = missing.find(f"{DAV}prop/{_DISPLAYNAME}") if missing is not None else None
    if missing is not None and name is not None:
        missing_prop = missing.find(DAV + "prop")
        assert missing_prop is not None
        missing_prop.remove(name)
        if len(missing_prop) == 0:
            response.remove(missing)
        name.text = person.display_name
        _ok_prop(response).append(name)


def enrich_multistatus(
    tree: ET.Element, lookup: Callable[[str], Person | None], base_prefix: str = ""
) -> None:
    """Add directory facts to every principal ``D:response`` of ``tree``, in place."""
    if tree.tag != DAV + "multistatus":
        return
    for response in tree.iterfind(DAV + "response"):
        user = principal_name(response.findtext(DAV + "href") or "", base_prefix)
        if user is None:
            continue
        person = lookup(user)
        if person is not None:
            _enrich_response(response, person)
