# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 6578 §3.6 and §3.7: a sync-collection with ``DAV:limit`` is truncated, with a token that continues.

The storage's tokens name a state of the whole collection. To page through more changes than ``nresults``,
the server hands out a *page token* naming two states and a cursor: the members whose href sorts at or before
the cursor are known to the client as of state ``B``, the others as of state ``A`` (``A`` empty: not known
at all, an initial sync). A request with a page token (or a plain token and a limit) is answered with

* the members at or before the cursor that changed since ``B``;
* then, in href order, the members after the cursor that changed since ``A`` (every current member when
  ``A`` is empty), up to the limit.

When the second list is cut, the answer ends with a response for the collection with ``507`` and
``DAV:number-of-matches-within-limits`` (§3.6) and a page token whose cursor is the last href served and
whose ``B`` is the collection's current state; otherwise with the collection's current token. The answers
themselves are Radicale's (or the fast path's) for the two plain tokens, filtered to the hrefs of the page,
so that every property is rendered as an unlimited sync renders it. A page token is a URI of its own
(``PAGE_PREFIX``) that the storage never sees.
"""

from __future__ import annotations

import copy
import io
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import client
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

import defusedxml.ElementTree as DefusedET

from groupware.dav.body import PARSED_BODY, parsed_body
from groupware.dav.request import Answer, DavRequest
from groupware.dav.rfc4918 import DAV, Dispatch, located

__all__ = ["PAGE_PREFIX", "LimitedSyncResponder", "PageToken"]

#: The URI every page token starts with (RFC 6578 §4: a token is a URI).
PAGE_PREFIX = "http://groupware/ns/sync-page/?"


@dataclass(frozen=True)
class PageToken:
    """Members up to ``cursor`` known as of ``known``, the others as of ``rest`` (empty: none known)."""

    rest: str
    known: str
    cursor: str

    def uri(self) -> str:
        """The token as the client sees it."""
        return PAGE_PREFIX + urlencode({"a": self.rest, "b": self.known, "c": self.cursor})

    @classmethod
    def parse(cls, token: str) -> PageToken:
        """The page token ``token`` names, or a plain token as a page token with an empty cursor."""
        if not token.startswith(PAGE_PREFIX):
            return cls(token, "", "")
        fields = parse_qs(token[len(PAGE_PREFIX) :], keep_blank_values=True)
        rest, known, cursor = (fields.get(key, [""])[0] for key in "abc")
        if not known or not cursor:
            raise ValueError("a page token names a state and a cursor")
        return cls(rest, known, cursor)


def _sync_body(root: ET.Element, token: str) -> bytes:
    """``root`` without its limit, asking the changes since ``token``."""
    body = copy.deepcopy(root)
    for limit in body.findall(DAV + "limit"):
        body.remove(limit)
    element = body.find(DAV + "sync-token")
    if element is None:
        element = ET.SubElement(body, DAV + "sync-token")
    element.text = token
    return bytes(ET.tostring(body, encoding="utf-8", xml_declaration=True))


def _name(href: str) -> str:
    return unquote(href).rstrip("/").rsplit("/", 1)[-1]


class LimitedSyncResponder:
    """A sync-collection with ``DAV:limit`` or a page token (see the module docstring)."""

    def __init__(
        self, internals: Any, dispatch: Dispatch, limit_of: Callable[[ET.Element], int | None]
    ) -> None:
        self.internals = internals
        self.dispatch = dispatch
        self.limit_of = limit_of

    def answer(self, request: DavRequest) -> Answer | None:
        """The page, or None for a sync without a limit or page token (or on no collection)."""
        root = parsed_body(request.environ)
        if root is None or root.tag != DAV + "sync-collection":
            return None
        token = (root.findtext(DAV + "sync-token") or "").strip()
        limit = self.limit_of(root)
        if limit is None and not token.startswith(PAGE_PREFIX):
            return None
        access = self.internals.access(request.user, request.user_groups, request.path, None)
        share = self.internals.resolve_share(request.path, request.user, request.user_groups)
        collection = located(self.internals, request, request.path) if share or access.check("r") else None
        if collection is None or not hasattr(collection, "sync"):
            return None
        try:
            page = PageToken.parse(token)
            return self._page(request, root, collection, page, limit)
        except ValueError as exc:  # the storage's refusal of a token, or a malformed page token
            return _invalid_token(str(exc))

    def _changes(self, collection: Any, token: str) -> tuple[str, list[str]]:
        current, hrefs = collection.sync(token)
        return str(current), sorted(set(map(str, hrefs)))

    def _page(
        self, request: DavRequest, root: ET.Element, collection: Any, page: PageToken, limit: int | None
    ) -> Answer:
        current, later = self._changes(collection, page.rest)
        later = [href for href in later if href > page.cursor]
        earlier: list[str] = []
        if page.cursor:
            current, known = self._changes(collection, page.known)
            earlier = [href for href in known if href <= page.cursor]
        room = len(later) if limit is None else max(limit - len(earlier), 1)
        served, cut = later[:room], len(later) > room
        answers = [] if not earlier else [self._inner(request, root, page.known)]
        answers.append(self._inner(request, root, page.rest))
        refused = next((answer for answer in answers if answer[0] != client.MULTI_STATUS), None)
        if refused is not None:
            return refused
        wanted = set(earlier) | set(served)
        token = PageToken(page.rest, current, served[-1]).uri() if cut else current
        document = _merge([answer[2] for answer in answers], wanted, token)
        if cut:
            _truncated(document, request.base_prefix + request.path)
        request.request_info["status"] = client.MULTI_STATUS
        body = ET.tostring(document, encoding="utf-8", xml_declaration=True)
        return client.MULTI_STATUS, {"Content-Type": "text/xml; charset=utf-8"}, body, None

    def _inner(self, request: DavRequest, root: ET.Element, token: str) -> Answer:
        """The application's unlimited answer to the same sync-collection from ``token``."""
        body = _sync_body(root, token)
        return self.dispatch("REPORT", request, _inner_environ(request, body), request.path)


def _merge(bodies: Iterable[Any], wanted: set[str], token: str) -> ET.Element:
    """One multistatus of the responses of ``bodies`` whose member is in ``wanted``, each once."""
    document = ET.Element(DAV + "multistatus")
    ET.SubElement(document, DAV + "sync-token").text = token
    seen: set[str] = set()
    names = {_name(href) for href in wanted}
    for body in bodies:
        for response in DefusedET.fromstring(body).iterfind(DAV + "response"):
            name = _name(response.findtext(DAV + "href") or "")
            if name in names and name not in seen:
                seen.add(name)
                document.append(response)
    return document


def _truncated(document: ET.Element, href: str) -> None:
    """§3.6: the response for the collection saying that more changes remain."""
    response = ET.SubElement(document, DAV + "response")
    ET.SubElement(response, DAV + "href").text = quote(href)
    ET.SubElement(response, DAV + "status").text = "HTTP/1.1 507 Insufficient Storage"
    ET.SubElement(ET.SubElement(response, DAV + "error"), DAV + "number-of-matches-within-limits")


def _invalid_token(reason: str) -> Answer:
    """400 with ``DAV:valid-sync-token``, as the application answers any unknown token (for Thunderbird)."""
    error = ET.Element(DAV + "error")
    ET.SubElement(error, DAV + "valid-sync-token").text = reason
    body = ET.tostring(error, encoding="utf-8", xml_declaration=True)
    return client.BAD_REQUEST, {"Content-Type": "application/xml; charset=utf-8"}, body, None


def _inner_environ(request: DavRequest, body: bytes) -> dict[str, Any]:
    """The environment of an inner REPORT with ``body`` (uncompressed answer, no conditions)."""
    skipped = {"HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH", PARSED_BODY}
    environ = {k: v for k, v in dict(request.environ).items() if k not in skipped}
    environ.update(CONTENT_LENGTH=str(len(body)), HTTP_ACCEPT_ENCODING="identity")
    environ["wsgi.input"] = io.BytesIO(body)
    return environ
