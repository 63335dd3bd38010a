# SPDX-License-Identifier: GPL-3.0-or-later
"""Bounds on what one DAV request may ask, checked before any work (``[limits]`` of the configuration).

* :func:`groupware.dav.body.shape_problem`: an XML body nested deeper than ``max_xml_depth`` or holding
  more than ``max_xml_elements`` elements is refused (``400``).
* :class:`PropertyLimitResponder`: a PROPPATCH (RFC 4918 §9.2), MKCOL (RFC 5689 §3) or MKCALENDAR (RFC 4791
  §5.3.1) setting a property over ``max_property_size`` characters, or properties over
  ``max_properties_size`` in all, is answered ``413 Content Too Large`` (RFC 9110 §15.5.14) with the reason:
  a display name is shown in every colleague's home the agenda is shared into.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from http import client

from groupware.config import LimitsConfig
from groupware.dav.body import limits_of, parsed_body
from groupware.dav.request import Answer, DavRequest

__all__ = ["PropertyLimitResponder", "property_problem"]

log = logging.getLogger("groupware.server")

_PROP = "{DAV:}prop"


def property_problem(root: ET.Element, limits: LimitsConfig) -> str | None:
    """Why the properties ``root`` sets (every ``DAV:prop`` child, RFC 4918 §14.18) are too large, or None."""
    total = 0
    for prop in root.iter(_PROP):
        for element in prop:
            size = len(ET.tostring(element, encoding="unicode"))
            if size > limits.max_property_size:
                return f"property {element.tag} has {size} characters, over {limits.max_property_size}"
            total += size
    if total > limits.max_properties_size:
        return f"the properties set have {total} characters, over {limits.max_properties_size}"
    return None


class PropertyLimitResponder:
    """Answers 413 to a PROPPATCH, MKCOL or MKCALENDAR whose properties are over the limits."""

    def answer(self, request: DavRequest) -> Answer | None:
        """The 413 answer, or None when the body is within the limits (or not XML: Radicale judges)."""
        root = parsed_body(request.environ)
        if root is None:
            return None
        problem = property_problem(root, limits_of(request.environ))
        if problem is None:
            return None
        log.info("properties over the limits", extra={"event": "too_large", "reason": problem})
        body = f"{problem}\n".encode()
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        return client.REQUEST_ENTITY_TOO_LARGE, headers, body, None
