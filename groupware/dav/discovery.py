# SPDX-License-Identifier: GPL-3.0-or-later
"""The server root as clients discover from it (RFC 4918 §9.1 Depth 1, RFC 6764 §6 discovery).

A depth-1 PROPFIND lists a collection and its members, nothing deeper. At ``/``, Radicale's sharing adds the
collections shared into the user's home (``/<user>/<shared>/``) to the root's listing, as if they were members
of the root: a sync client started at the server root (vdirsyncer) then took the root for a home holding only
the shared agendas, and missed the person's own calendar and address book. :class:`RootListingRewriter`
removes every response deeper than one level from a PROPFIND of ``/``; the shared collections are listed where
they live, in the home.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import unquote

__all__ = ["RootListingRewriter"]

DAV = "{DAV:}"


def _depth_below(href: str, root: str) -> int:
    """How many path segments ``href`` has below ``root``."""
    return len([part for part in unquote(href).removeprefix(root).split("/") if part])


class RootListingRewriter:
    """A PROPFIND of ``/`` lists the root and its direct members only."""

    def rewrite(self, document: ET.Element, request_info: dict[str, Any]) -> None:
        """Remove the responses deeper than one level from a multistatus answering a PROPFIND of ``/``."""
        if request_info.get("method") != "PROPFIND" or request_info.get("path") != "/":
            return
        if document.tag != DAV + "multistatus":
            return
        responses = document.findall(DAV + "response")
        hrefs = [unquote(response.findtext(DAV + "href") or "") for response in responses]
        if not hrefs:
            return
        root = min(hrefs, key=len)
        for response, href in zip(responses, hrefs, strict=True):
            if _depth_below(href, root) > 1:
                document.remove(response)
