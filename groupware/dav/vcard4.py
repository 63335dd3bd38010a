# SPDX-License-Identifier: GPL-3.0-or-later
"""The academic address books in vCard 4.0 for clients that ask (RFC 6352 §10.4, §6.2.2).

Our books are stored as vCard 3.0 (what Thunderbird and iOS read); Radicale 3.9 returns stored text as is. So:

* :class:`VCard4Responder` notes, for a REPORT whose ``address-data`` asks version 4.0, that the answer's
  cards are to be converted (it never answers itself);
* :class:`VCard4Rewriter` converts every ``CR:address-data`` of such an answer
  (:func:`~groupware.addressbooks.to_vcard4`) and lists vCard 4.0 beside 3.0 in the books'
  ``CR:supported-address-data``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from groupware.addressbooks import to_vcard4
from groupware.dav.body import parsed_body
from groupware.dav.request import Answer, DavRequest

__all__ = ["VCard4Responder", "VCard4Rewriter"]

CARDDAV = "{urn:ietf:params:xml:ns:carddav}"
DAV = "{DAV:}"
_WANTS_VCARD4 = "groupware_vcard4"


class VCard4Responder:
    """REPORT responder that marks requests asking vCard 4.0 ``address-data`` (RFC 6352 §8.6, §8.7)."""

    def answer(self, request: DavRequest) -> Answer | None:
        """Always None: the request goes on to Radicale, marked for :class:`VCard4Rewriter`."""
        root = parsed_body(request.environ)
        if root is not None and any(e.get("version") == "4.0" for e in root.iter(CARDDAV + "address-data")):
            request.request_info[_WANTS_VCARD4] = True
        return None


class VCard4Rewriter:
    """Cards in vCard 4.0 where the request asked for it; 4.0 advertised on the books of ``owner``."""

    def __init__(self, owner: str) -> None:
        self.owner = owner

    def rewrite(self, document: ET.Element, request_info: dict[str, Any]) -> None:
        """Convert the marked answer's cards and advertise 4.0 on the books, in place."""
        if request_info.get(_WANTS_VCARD4):
            for element in document.iter(CARDDAV + "address-data"):
                if element.text:
                    element.text = to_vcard4(element.text)
        for response in document.iter(DAV + "response"):
            href = (response.findtext(DAV + "href") or "").rstrip("/")
            segments = href.split("/")
            if not (
                len(segments) >= 2
                and (segments[-2] == self.owner or segments[-1].startswith(self.owner + "-"))
            ):
                continue
            for supported in response.iter(CARDDAV + "supported-address-data"):
                if not any(t.get("version") == "4.0" for t in supported):
                    attributes = {"content-type": "text/vcard", "version": "4.0"}
                    ET.SubElement(supported, CARDDAV + "address-data-type", attributes)
