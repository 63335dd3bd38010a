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

__all__ = [
    "MAX_XML_DEPTH",
    "MAX_XML_ELEMENTS",
    "PARSED_BODY",
    "already_parsed",
    "parsed_body",
    "shape_problem",
]

#: The deepest element nesting a request body may have (DAV bodies nest a dozen levels at most).
MAX_XML_DEPTH = 100
#: The most elements a request body may hold (a multiget of 20,000 hrefs stays under it).
MAX_XML_ELEMENTS = 100_000

#: The WSGI environment key holding the parsed body (or None).
PARSED_BODY = "groupware.parsed_body"


def parsed_body(environ: Mapping[str, Any]) -> ET.Element | None:
    """The request body as XML, read and parsed once per request (and put back for Radicale to read again).

    None when there is no body, it is compressed, it is not XML, or it declares a DTD or entities (defusedxml
    refuses them; Radicale's own reader then answers 400).
    """
    environ = cast(dict[str, Any], environ)  # WSGI hands a dict (PEP 3333); Radicale types it as a Mapping
    if PARSED_BODY in environ:
        return environ[PARSED_BODY]  # type: ignore[no-any-return]
    parsed = None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > 0 and not environ.get("HTTP_CONTENT_ENCODING"):
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            parsed = DefusedET.fromstring(body)
        except (ET.ParseError, defusedxml.DefusedXmlException, ValueError):
            parsed = None
        if parsed is not None and shape_problem(parsed) is not None:
            parsed = None  # Radicale's reader, through the application's, refuses it with 400
    environ[PARSED_BODY] = parsed
    return parsed


def already_parsed(environ: Mapping[str, Any]) -> ET.Element | None:
    """The body :func:`parsed_body` parsed for this request, without reading it (None if it did not)."""
    parsed: ET.Element | None = environ.get(PARSED_BODY)
    return parsed


def shape_problem(root: ET.Element) -> str | None:
    """Why ``root`` is too deep or too large to be a request body, or None.

    Walked without recursion: the documents it refuses are those a recursive walk (Radicale's debug
    pretty-printer, ElementTree's serializer) would overflow on.
    """
    count, stack = 0, [(root, 1)]
    while stack:
        element, depth = stack.pop()
        count += 1
        if depth > MAX_XML_DEPTH:
            return f"XML nested deeper than {MAX_XML_DEPTH} elements"
        if count > MAX_XML_ELEMENTS:
            return f"XML with more than {MAX_XML_ELEMENTS} elements"
        stack.extend((child, depth + 1) for child in element)
    return None
