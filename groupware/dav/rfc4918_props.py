# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 4918 §4.3 and §9.2: dead properties keep their XML value.

Radicale stores the text of a property set by PROPPATCH (or an extended MKCOL, RFC 5689), so a dead property
whose value is XML (child elements, or an ``xml:lang`` or other attribute) lost it; one with child elements
and no text was even removed, with ``200`` for the client. §4.3 says the server MUST keep the value's
elements, attributes, text and namespaces. :class:`DeadPropertyResponder` turns such a value, in the parsed
body Radicale reads, into a text that holds its XML (:data:`MARK` then the serialized property), and
:class:`DeadPropertyRewriter` puts the XML back in every answer that carries it. Only properties of other
namespaces than those of WebDAV, CalDAV, CardDAV, Apple, CalendarServer and Radicale are dead properties
here: Radicale reads or shows the others (a display name is text wherever it is shown). The size of a value
is bounded before (:mod:`groupware.dav.limits`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import defusedxml
import defusedxml.ElementTree as DefusedET

from groupware.dav.body import parsed_body
from groupware.dav.request import Answer, DavRequest
from groupware.dav.rfc4918 import CALDAV, DAV

__all__ = ["MARK", "DeadPropertyResponder", "DeadPropertyRewriter"]

#: How a stored text that holds a property's XML starts.
MARK = "<!--groupware:xml-->"
#: Namespaces of the properties Radicale and the clients know (their values stay Radicale's: a display name
#: is text wherever it is shown).
_KNOWN = (
    DAV,
    CALDAV,
    "{urn:ietf:params:xml:ns:carddav}",
    "{http://apple.com/ns/ical/}",
    "{http://calendarserver.org/ns/}",
    "{http://radicale.org/ns/}",
)
_ACTIONS = (DAV + "set", DAV + "remove")


def _structured(prop: ET.Element) -> bool:
    return not prop.tag.startswith(_KNOWN) and (len(prop) > 0 or bool(prop.attrib))


class DeadPropertyResponder:
    """In a PROPPATCH, MKCOL or MKCALENDAR body, a property value that is XML becomes a text holding it."""

    def answer(self, request: DavRequest) -> Answer | None:
        """Always None: the body is changed in place for Radicale to store."""
        root = parsed_body(request.environ)
        if root is None:
            return None
        for action in root.iter():
            if action.tag not in _ACTIONS or action.tag == DAV + "remove":
                continue
            for prop in action.iterfind(f"{DAV}prop/*"):
                if _structured(prop):
                    text = MARK + ET.tostring(prop, encoding="unicode")
                    prop.clear()
                    prop.text = text
        return None


def _restore(element: ET.Element) -> None:
    """``element``'s value from the XML its text holds (left as it is when that is not XML)."""
    assert element.text is not None
    try:
        stored = DefusedET.fromstring(element.text[len(MARK) :])
    except (ET.ParseError, defusedxml.DefusedXmlException, ValueError):
        return
    element.clear()
    element.attrib.update(stored.attrib)
    element.text = stored.text
    element.extend(list(stored))


class DeadPropertyRewriter:
    """Every property of a collection whose text holds XML is answered as that XML."""

    def rewrite(self, document: ET.Element, request_info: dict[str, Any]) -> None:
        """Restore the XML values in the collections' responses of ``document``."""
        if document.tag != DAV + "multistatus":
            return
        for response in document.iterfind(DAV + "response"):
            if not (response.findtext(DAV + "href") or "").endswith("/"):
                continue  # items have no dead properties
            for element in response.iterfind(f"{DAV}propstat/{DAV}prop/*"):
                if element.text is not None and element.text.startswith(MARK):
                    _restore(element)
