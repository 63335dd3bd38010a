# SPDX-License-Identifier: GPL-3.0-or-later
"""The XML body of a DAV request, read and parsed once per request (RFC 4918 §8.2, §14).

Responders in front of Radicale look at the body to decide whether they answer; Radicale reads it again when
they do not. :func:`parsed_body` keeps the parsed element in the WSGI environment and puts the bytes back.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any, cast

import defusedxml
import defusedxml.ElementTree as DefusedET

from groupware.config import LimitsConfig

__all__ = [
    "LIMITS",
    "PARSED_BODY",
    "already_parsed",
    "limits_of",
    "parsed_body",
    "read_body",
    "shape_problem",
]

#: The WSGI environment key under which the application puts its limits for this request.
LIMITS = "groupware.limits"

#: The WSGI environment key holding the parsed body (or None).
PARSED_BODY = "groupware.parsed_body"


def read_body(environ: Mapping[str, Any]) -> bytes | None:
    """The request body's bytes, put back for the next reader (a responder, Radicale); None when there is
    none or it is content-encoded."""
    environ = cast(dict[str, Any], environ)  # WSGI hands a dict (PEP 3333); Radicale types it as a Mapping
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length <= 0 or environ.get("HTTP_CONTENT_ENCODING"):
        return None
    body: bytes = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def parsed_body(environ: Mapping[str, Any]) -> ET.Element | None:
    """The request body as XML, read and parsed once per request (and put back for Radicale to read again).

    None when there is no body, it is compressed, it is not XML, or it declares a DTD or entities (defusedxml
    refuses them; Radicale's own reader then answers 400).
    """
    environ = cast(dict[str, Any], environ)  # WSGI hands a dict (PEP 3333); Radicale types it as a Mapping
    if PARSED_BODY in environ:
        return environ[PARSED_BODY]  # type: ignore[no-any-return]
    parsed = None
    body = read_body(environ)
    if body is not None:
        try:
            parsed = DefusedET.fromstring(body)
        except (ET.ParseError, defusedxml.DefusedXmlException, ValueError):
            parsed = None
        if parsed is not None and shape_problem(parsed, limits_of(environ)) is not None:
            parsed = None  # Radicale's reader, through the application's, refuses it with 400
    environ[PARSED_BODY] = parsed
    return parsed


def already_parsed(environ: Mapping[str, Any]) -> ET.Element | None:
    """The body :func:`parsed_body` parsed for this request, without reading it (None if it did not)."""
    parsed: ET.Element | None = environ.get(PARSED_BODY)
    return parsed


def limits_of(environ: Mapping[str, Any]) -> LimitsConfig:
    """The limits the application set for this request (the defaults when it set none)."""
    limits = environ.get(LIMITS)
    return limits if isinstance(limits, LimitsConfig) else LimitsConfig()


def shape_problem(root: ET.Element, limits: LimitsConfig) -> str | None:
    """Why ``root`` is too deep or too large to be a request body, or None.

    Walked without recursion: the documents it refuses (beyond ``max_xml_depth`` or ``max_xml_elements``)
    are those Radicale's debug printer and ElementTree's serializer, which recurse, would overflow on.
    """
    count, stack = 0, [(root, 1)]
    while stack:
        element, depth = stack.pop()
        count += 1
        if depth > limits.max_xml_depth:
            return f"XML nested deeper than {limits.max_xml_depth} elements"
        if count > limits.max_xml_elements:
            return f"XML with more than {limits.max_xml_elements} elements"
        stack.extend((child, depth + 1) for child in element)
    return None
