# SPDX-License-Identifier: GPL-3.0-or-later
"""Whole-collection answers rendered from per-item facts instead of item objects.

A depth-1 PROPFIND (RFC 4918 §9.1) or an initial sync-collection REPORT (RFC 6578 §3.2) of a 52,000-card
address book asks, for every item, the same properties; only the href, the entity tag, the last modification,
the content type and the length differ from one item to the next. Radicale builds each item's response as an
XML tree, after building an item object, which costs tens of microseconds per item. Here the composition root
lets Radicale render the collection and *one* real item as usual, learns from that item's bytes a template
whose holes are exactly those five values, checks that the template gives back the very same bytes, and fills
it for every other item from the facts the store keeps (no item text is read, no object is built). The answer
is therefore Radicale's own, byte for byte; anything the template cannot reproduce falls back to Radicale. A
query REPORT (RFC 4791 §7.8, RFC 6352 §8.6) whose matches the store's index decides exactly is answered the
same way, with one more hole for the item's text (:func:`with_data`).

This module knows nothing of Radicale: it works on the serialized XML and on :class:`ItemFacts`.
"""

from __future__ import annotations

import functools
import operator
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote
from xml.sax.saxutils import escape

__all__ = [
    "ItemFacts",
    "ItemSummary",
    "ResponseTemplate",
    "assemble",
    "content_type",
    "facts_of",
    "http_date",
    "split_document",
    "with_data",
]

#: Media types of stored objects, as Radicale announces them (RFC 4791 §4.1, RFC 6352 §5.1).
OBJECT_MIMETYPES = {"VCARD": "text/vcard", "VLIST": "text/x-vlist", "VCALENDAR": "text/calendar"}
#: The properties whose value differs from item to item, in the order :class:`ItemFacts` holds them.
VARIABLE_PROPERTIES = ("getetag", "getlastmodified", "getcontenttype", "getcontentlength")
#: The properties that carry the item's text (RFC 4791 §9.6, RFC 6352 §10.4): a sixth fact, when asked.
DATA_PROPERTIES = ("calendar-data", "address-data")


class ItemSummary(NamedTuple):
    """What the store knows of one item without reading its text (a plain tuple in this order will do)."""

    href: str
    etag: str
    last_modified: str | int  # the HTTP date, or POSIX seconds to be written as one (RFC 9110 §5.6.7)
    name: str  # VCALENDAR or VCARD
    component: str  # VEVENT, VTODO, VJOURNAL, or "" for contacts
    size: int  # length of the text in the response encoding, in bytes


class ItemFacts(NamedTuple):
    """The texts of an item's response, XML-escaped: href, then :data:`VARIABLE_PROPERTIES` in order, then the
    item's own text where a REPORT asks for it (:data:`DATA_PROPERTIES`; see :func:`with_data`)."""

    href: str
    etag: str
    last_modified: str
    content_type: str
    length: str
    data: str = ""


def content_type(name: str, component: str, encoding: str) -> str:
    """The ``getcontenttype`` of an item as Radicale writes it (``text/calendar;…;component=VEVENT``)."""
    text = f"{OBJECT_MIMETYPES[name]};charset={encoding}"
    return f"{text};component={component}" if component else text


def facts_of(
    summaries: Iterable[tuple[str, str, str | int, str, str, int]], collection_href: str, encoding: str
) -> Iterator[tuple[str, str, str, str, str]]:
    """The facts (as :class:`ItemFacts` tuples, XML-escaped) of each summarized item; ``collection_href`` is
    the collection's href, quoted, ending with ``/``. Kept lean: it runs once per item of a 52,000-card book.
    Quoted hrefs, HTTP dates and lengths never hold a character XML escapes."""
    types: dict[tuple[str, str], str] = {}
    dates: dict[str | int, str] = {}
    safe = _SAFE_HREF
    for href, etag, modified, name, component, size in summaries:
        kind = types.get((name, component))
        if kind is None:
            kind = types[(name, component)] = _escape(content_type(name, component, encoding))
        if "&" in etag or "<" in etag or ">" in etag:
            etag = escape(etag)
        date = dates.get(modified)
        if date is None:
            date = dates[modified] = modified if isinstance(modified, str) else http_date(modified)
        yield (collection_href + (href if safe(href) else quote(href)), etag, date, kind, str(size))


def with_data(facts: Iterable[tuple[str, ...]], texts: Iterable[str]) -> Iterator[tuple[str, ...]]:
    """Each item's facts followed by its text, XML-escaped as ElementTree escapes text (``&<>``)."""
    for fact, text in zip(facts, texts, strict=True):
        yield (*fact, _escape(text))


@functools.lru_cache(maxsize=8192)
def http_date(timestamp: int) -> str:
    """RFC 9110 §5.6.7 IMF-fixdate of POSIX seconds."""
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(timestamp))


# Characters that urllib's quote() leaves alone (with "/" safe): an href made only of them is its own quoting.
_SAFE_HREF = re.compile(r"[A-Za-z0-9_.\-~/]*\Z").match


def _escape(text: str) -> str:
    return escape(text) if ("&" in text or "<" in text or ">" in text) else text


def _element(name: str) -> re.Pattern[str]:
    return re.compile(rf"<((?:[A-Za-z][\w.-]*:)?{name})>(.*?)</\1>", re.DOTALL)


_HREF = _element("href")
_VARIABLES = tuple(_element(name) for name in VARIABLE_PROPERTIES)
_DATA = re.compile(rf"<((?:[A-Za-z][\w.-]*:)?(?:{'|'.join(DATA_PROPERTIES)}))>(.*?)</\1>", re.DOTALL)


@dataclass(frozen=True)
class ResponseTemplate:
    """One item's ``D:response`` with holes for the values that differ between items."""

    parts: tuple[str, ...]
    fields: tuple[int, ...]  # for each hole, the index of the value in ItemFacts

    @classmethod
    def learn(cls, fragment: str, facts: tuple[str, ...]) -> ResponseTemplate | None:
        """Find ``facts`` in ``fragment`` (one item's serialized response); None unless it can be exact."""
        holes: list[tuple[int, int, int]] = []
        for index, pattern in enumerate((_HREF, *_VARIABLES, _DATA)[: len(facts)]):
            match = pattern.search(fragment)
            if match is None:
                if index == 0:
                    return None
                continue
            if match.group(2) != facts[index]:
                return None
            holes.append((match.start(2), match.end(2), index))
        holes.sort()
        parts: list[str] = []
        position = 0
        for start, end, _ in holes:
            if start < position:
                return None
            parts.append(fragment[position:start])
            position = end
        parts.append(fragment[position:])
        template = cls(tuple(parts), tuple(index for _, _, index in holes))
        return template if template.render(facts) == fragment else None

    def render(self, facts: tuple[str, ...]) -> str:
        """The response of the item described by ``facts`` (XML-escaped texts)."""
        return self._format() % tuple(facts[field] for field in self.fields)

    def _format(self) -> str:
        return "%s".join(part.replace("%", "%%") for part in self.parts)

    def render_all(self, facts: Iterable[tuple[str, ...]]) -> Iterator[str]:
        """:meth:`render` for many items: one C-level formatting per item."""
        form = self._format()
        if len(self.fields) == 1:
            field = self.fields[0]
            return (form % (item[field],) for item in facts)
        pick = operator.itemgetter(*self.fields)
        return (form % pick(item) for item in facts)


def split_document(without: str, with_one: str) -> tuple[str, str, str] | None:
    """Split a multistatus that has one more item response than ``without`` into (head, that response, tail).

    Both documents must agree outside the extra response (same namespace declarations on the root), and the
    extra response must come last, just before the root's closing tag; otherwise None.
    """
    closing = without.rfind("</")
    extra = len(with_one) - len(without)
    if closing < 0 or extra <= 0:
        return None
    head, tail = without[:closing], without[closing:]
    if not (with_one.startswith(head) and with_one.endswith(tail)):
        return None
    return head, with_one[closing : closing + extra], tail


def assemble(head: str, responses: Sequence[str] | Iterable[str], tail: str, encoding: str) -> bytes:
    """The full document, encoded."""
    return "".join((head, "".join(responses), tail)).encode(encoding)
