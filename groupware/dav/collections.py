# SPDX-License-Identifier: GPL-3.0-or-later
"""Fast answers to the requests that return every item of a collection (see :mod:`groupware.dav.fastpath`).

Three responders: a depth-1 PROPFIND (RFC 4918 §9.1), an initial sync-collection (RFC 6578 §3.2, no token),
and an addressbook-query (RFC 6352 §8.6) or calendar-query (RFC 4791 §7.8) whose filters the store's index
decides exactly. Each is used only when the storage's collections can list item facts (``fast_summaries()``,
``fast_query()``), the path is a calendar or address book the user may read (their own, or one shared into
their home), and the request asks nothing that differs per item beyond href, etag, last-modified, content
type, length and (for the queries) the item's text. Radicale renders the first item; the others are filled
into its bytes. Everything else goes to Radicale unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import posixpath
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http import client
from typing import Any

from radicale import httputils, pathutils, storage, xmlutils

from groupware.dav.body import parsed_body
from groupware.dav.encoding import coding_of, stream
from groupware.dav.fastpath import ResponseTemplate, facts_of, split_document, with_data
from groupware.dav.request import Answer, DavRequest
from groupware.dav.streaming import AnswerCache, Body
from groupware.dav.upstream import Internals, item_response

__all__ = ["ListingResponder", "QueryResponder", "SyncResponder"]

log = logging.getLogger("groupware.server")

_CONTENT_PROPERTIES = frozenset(
    {xmlutils.make_clark("C:calendar-data"), xmlutils.make_clark("CR:address-data")}
)
_FILTERS = (xmlutils.make_clark("C:filter"), xmlutils.make_clark("CR:filter"))
_PLAIN_PROPERTIES = (xmlutils.make_clark("D:getetag"), xmlutils.make_clark("D:getcontenttype"))
_EXPAND = xmlutils.make_clark("C:expand")
#: The queries the fast path answers: the collection they search, and the property carrying the item data.
_QUERIES = {
    xmlutils.make_clark("C:calendar-query"): ("VCALENDAR", xmlutils.make_clark("C:calendar-data")),
    xmlutils.make_clark("CR:addressbook-query"): ("VADDRESSBOOK", xmlutils.make_clark("CR:address-data")),
}
#: What a fast listing gives: the items' summaries, and their texts when the answer carries them.
_Listing = tuple[Iterable[Any], list[str] | None]
_Render = Callable[[list[Any]], ET.Element]
#: Seconds a request waits for an identical one compressing the same answer before compressing its own.
CACHE_WAIT = 30.0


@dataclass(frozen=True)
class _Target:
    """The collection a whole-collection request reads, and how Radicale reads it (owner, path, map share)."""

    collection: Any
    owner: str
    path: str
    share: dict[str, Any] | None
    href: str  # the collection's href in the answer: its own path, or the share's path in the user's home


class _WholeCollection:
    """What the three responders share: finding the collection, learning the template, assembling."""

    #: Radicale sends the DAV header with PROPFIND answers, not with REPORT answers.
    dav_header = False

    def __init__(self, internals: Internals, cache: AnswerCache | None = None) -> None:
        self.internals = internals
        self.enabled = True
        self.cache = cache if cache is not None else AnswerCache(0)

    def _target(self, path: str, user: str, user_groups: set[str]) -> _Target | None:
        """The readable leaf collection at ``path`` whose items can be summarized, else None.

        A collection shared into the user's home (a map share) is read as Radicale reads it: at its own path,
        as its owner, within the share's permissions, with hrefs mapped back into the home.
        """
        owner, target_path, permissions = user, path, None
        share = self.internals.resolve_share(path, user, user_groups)
        if share and path != share["PathMapped"]:
            if share.get("Conversion") not in (None, "none") or not str(share["PathMapped"]).endswith("/"):
                return None
            owner, target_path, permissions = share["Owner"], share["PathMapped"], share["Permissions"]
        else:
            share = None
        access = self.internals.access(owner, user_groups, target_path, permissions)
        if "r" not in access.permissions:
            return None
        collection = next(iter(self.internals.storage.discover(target_path, "0")), None)
        if not isinstance(collection, storage.BaseCollection) or collection.tag not in (
            "VCALENDAR",
            "VADDRESSBOOK",
        ):
            return None
        if (
            not hasattr(collection, "fast_summaries")
            or self.internals.encoding.lower().replace("-", "") != "utf8"  # item sizes are counted in UTF-8
            or not access.check("r", collection)
        ):
            return None
        href = str(share["PathOrToken"]) if share else pathutils.unstrip_path(collection.path, True)
        return _Target(collection, owner, target_path, share, href)

    def _template(
        self,
        target: _Target,
        render: _Render,
        listed: tuple[list[Any], list[str] | None],
        request: DavRequest,
    ) -> tuple[str, ResponseTemplate, str] | None:
        """Render the collection and its first item through Radicale; learn the item template from it."""
        summaries, texts = listed
        first = next(iter(target.collection.get_multi([summaries[0][0]])), (None, None))[1]
        if first is None:
            return None
        # With the first item once, then twice: the second copy is the template, and the root element already
        # declares every namespace an item response uses. The head then holds the first item's response.
        encoding = self.internals.encoding
        once = self.internals.xml_response(render([first]), request.request_info).decode(encoding)
        twice = self.internals.xml_response(render([first, first]), request.request_info).decode(encoding)
        split = split_document(once, twice)
        facts = self._facts((summaries[:1], texts[:1] if texts is not None else None), request, target)
        template = ResponseTemplate.learn(split[1], next(iter(facts))) if split else None
        if split is None or template is None:
            log.warning(
                "fast path declined", extra={"event": "fastpath_declined", "path": target.collection.path}
            )
            return None
        return split[0], template, split[2]

    def _facts(
        self, listed: tuple[Iterable[Any], Iterable[str] | None], request: DavRequest, target: _Target
    ) -> Iterable[tuple[str, ...]]:
        summaries, texts = listed
        href = xmlutils.make_href(request.base_prefix, target.href)
        facts = facts_of(summaries, href, self.internals.encoding)
        return facts if texts is None else with_data(facts, texts)

    def renderer(self, target: _Target, request: DavRequest) -> _Render:
        """How Radicale would answer for a few items of ``target``."""
        raise NotImplementedError

    def listing(self, target: _Target) -> _Listing | None:
        """The items to answer for (every item of the collection by default)."""
        return target.collection.fast_summaries(), None

    def whole(
        self, request: DavRequest, listing: Callable[[_Target], _Listing | None] | None = None
    ) -> Answer | None:
        """Answer for the items ``listing`` (default :meth:`listing`) gives, from item facts, :meth:`renderer`
        building the answer for a few items exactly as Radicale does; None when the fast path does not
        apply. The answer is streamed (:mod:`groupware.dav.streaming`); a compressed one is kept in
        :attr:`cache` for the next identical request at the same revision of the collection."""
        if not (self.enabled and request.user):
            return None
        with self.internals.storage.acquire_lock("r", request.user):
            target = self._target(request.path, request.user, request.user_groups)
            if target is None:
                return None
            key = self._cache_key(request, target)
            if key is not None:
                kept = self.cache.claim(key, CACHE_WAIT)
                if kept is not None:
                    return self._streamed(request, [kept], len(kept))
            try:
                built = self._build(request, target, listing)
            except BaseException:
                if key is not None:
                    self.cache.release(key)
                raise
        if built is None:
            if key is not None:
                self.cache.release(key)
            return None
        on_complete = None if key is None else functools.partial(self.cache.put, key)
        on_abort = None if key is None else functools.partial(self.cache.release, key)
        charset, coding = self.internals.encoding, coding_of(request.environ)
        return self._streamed(request, Body(built, charset, coding, on_complete, on_abort), None)

    def _build(
        self, request: DavRequest, target: _Target, listing: Callable[[_Target], _Listing | None] | None
    ) -> Iterator[str] | None:
        """The texts of the answer (head, item responses, tail) as they are made, or None when the fast path
        does not apply. The items' facts are read as the answer goes (see ``fast_summaries``)."""
        render = self.renderer(target, request)  # before the listing: a token never covers more than listed
        listed = (listing or self.listing)(target)
        if listed is None:
            return None
        rows = iter(listed[0])
        first_two = list(itertools.islice(rows, 2))
        learned = None
        if len(first_two) == 2:
            learned = self._template(target, render, (first_two, listed[1]), request)
        if learned is None:
            _close(rows)
            return None
        texts = listed[1]
        facts = self._facts(
            (itertools.chain(first_two[1:], rows), texts[1:] if texts is not None else None), request, target
        )
        return _answer_texts(learned, facts, rows)

    def _cache_key(self, request: DavRequest, target: _Target) -> tuple[Any, ...] | None:
        """What determines a compressed answer: the person and their groups, the request, the share, and the
        collection's generation and revision (which any change of an item or a property raises). None when
        the answer is not compressed (an uncompressed whole collection is too large to keep)."""
        coding = coding_of(request.environ)
        root = parsed_body(request.environ)
        if coding == "identity" or root is None or not self.cache.max_bytes:
            return None
        share = target.share or {}
        return (
            type(self).__name__,
            request.user,
            tuple(sorted(request.user_groups)),
            request.base_prefix,
            request.path,
            request.depth,
            hashlib.sha256(ET.tostring(root)).digest(),
            target.href,
            str(share.get("Permissions", "")),
            target.collection.etag,
            coding,
        )

    def _streamed(self, request: DavRequest, body: Iterable[bytes], length: int | None) -> Answer:
        """The multistatus answer whose body (in the request's coding) is sent after Radicale's headers."""
        request.request_info["status"] = client.MULTI_STATUS
        encoding = self.internals.encoding
        headers = {"Content-Type": f"text/xml; charset={encoding}"}
        if self.dav_header:
            headers = {"DAV": httputils.DAV_HEADERS, **headers}
        stream(request.environ, body, length)
        return client.MULTI_STATUS, headers, None, None


class ListingResponder(_WholeCollection):
    """Depth-1 PROPFIND of a whole collection (RFC 4918 §9.1), Radicale's answer built from item facts."""

    dav_header = True

    def answer(self, request: DavRequest) -> Answer | None:
        """The listing, when the body asks only ``DAV:prop`` and the depth is 1."""
        if request.depth != "1" or not (self.enabled and request.user):
            return None
        xml_request = parsed_body(request.environ)
        if (
            xml_request is None
            or len(xml_request) != 1
            or xml_request[0].tag != xmlutils.make_clark("D:prop")
        ):
            return None
        return self.whole(request)

    def renderer(self, target: _Target, request: DavRequest) -> _Render:
        share = target.share
        conversion = share["Conversion"] if share else None
        shares = {share["PathOrToken"]: share} if share else {}
        xml_request = parsed_body(request.environ)
        assert xml_request is not None

        def render(items: list[Any]) -> ET.Element:  # the arguments Radicale's do_PROPFIND passes
            entries = list(
                self.internals.allowed_items([target.collection, *items], target.owner, request.user_groups)
            )
            document = self.internals.propfind_document(
                request.base_prefix,
                target.path,
                xml_request,
                [(*entry, conversion) for entry in entries],
                target.owner,
                shares,
            )
            assert document is not None  # None only for an anonymous current-user-principal; there is a user
            return document

        return render


class SyncResponder(_WholeCollection):
    """Initial sync-collection (RFC 6578 §3.2, no token) of a whole collection, from item facts."""

    def answer(self, request: DavRequest) -> Answer | None:
        """The first sync, when it asks no item data and no filter."""
        root = parsed_body(request.environ)
        if root is None or root.tag != xmlutils.make_clark("D:sync-collection"):
            return None
        token = root.find(xmlutils.make_clark("D:sync-token"))
        props = root.find(xmlutils.make_clark("D:prop"))
        if (
            (token is not None and (token.text or "").strip())
            or props is None
            or any(prop.tag in _CONTENT_PROPERTIES for prop in props)
            or any(root.find(tag) is not None for tag in _FILTERS)  # Radicale filters a sync-collection too
        ):
            return None
        return self.whole(request)

    def renderer(self, target: _Target, request: DavRequest) -> _Render:
        sync_token, _ = target.collection.sync("")
        props = _props(request)

        def render(items: list[Any]) -> ET.Element:  # as Radicale's xml_report builds it
            multistatus = ET.Element(xmlutils.make_clark("D:multistatus"))
            ET.SubElement(multistatus, xmlutils.make_clark("D:sync-token")).text = sync_token
            for item in items:
                multistatus.append(
                    _item_response(request.base_prefix, target, item, props, self.internals.encoding)
                )
            return multistatus

        return render


class QueryResponder(_WholeCollection):
    """addressbook-query (RFC 6352 §8.6) or calendar-query (RFC 4791 §7.8) asking getetag, getcontenttype and
    the plain item data, whose filters the store's index decides exactly for every item."""

    def answer(self, request: DavRequest) -> Answer | None:
        """The query's answer, when its shape and filters are ones the index decides."""
        root = parsed_body(request.environ)
        if root is None or root.tag not in _QUERIES or not _plain_query(root):
            return None
        tag, data_tag = _QUERIES[root.tag]
        with_text = any(prop.tag == data_tag for prop in _props(request))
        filters = [child for child in root if child.tag in _FILTERS]
        limit = self.internals.max_expand_occurrence

        def listing(target: _Target) -> _Listing | None:
            collection = target.collection
            if collection.tag != tag or not hasattr(collection, "fast_query"):
                return None
            try:
                found = collection.fast_query(filters)
            except ValueError:  # a malformed filter: Radicale answers 400
                return None
            if found is None:
                return None
            texts = [text for _, text in found]
            if with_text and limit and _events(texts) > limit:  # Radicale's limit on the events it serves
                return None
            return [summary for summary, _ in found], texts if with_text else None

        return self.whole(request, listing)

    def renderer(self, target: _Target, request: DavRequest) -> _Render:
        props = _props(request)

        def render(items: list[Any]) -> ET.Element:  # as Radicale's xml_report builds it
            multistatus = ET.Element(xmlutils.make_clark("D:multistatus"))
            for item in items:
                multistatus.append(
                    _item_response(request.base_prefix, target, item, props, self.internals.encoding)
                )
            return multistatus

        return render


def _answer_texts(
    learned: tuple[str, ResponseTemplate, str], facts: Iterable[tuple[str, ...]], rows: Iterator[Any]
) -> Iterator[str]:
    """The answer's texts; closing this generator early (the client left) ends the reading of ``rows``."""
    head, template, tail = learned
    try:
        yield head
        yield from template.render_all(facts)
        yield tail
    finally:
        _close(rows)


def _close(rows: Iterator[Any]) -> None:
    close = getattr(rows, "close", None)
    if close is not None:
        close()


def _props(request: DavRequest) -> ET.Element:
    root = parsed_body(request.environ)
    props = root.find(xmlutils.make_clark("D:prop")) if root is not None else None
    assert props is not None
    return props


def _events(texts: list[str]) -> int:
    """The events of ``texts`` counted as Radicale counts them against ``max_expand_occurrence``."""
    return sum(1 for text in texts for line in text.splitlines() if line.upper() == "BEGIN:VEVENT")


def _plain_query(root: ET.Element) -> bool:
    """Whether a query asks only getetag, getcontenttype and plain item data, once each, with filters."""
    _, data_tag = _QUERIES[root.tag]
    props = root.find(xmlutils.make_clark("D:prop"))
    filters = [child for child in root if child.tag in _FILTERS]
    return not (
        props is None
        or not len(props)
        or not filters
        or len({prop.tag for prop in props}) != len(props)
        or any(prop.tag not in (*_PLAIN_PROPERTIES, data_tag) or len(prop) or prop.attrib for prop in props)
        or any(child.tag not in (props.tag, *_FILTERS) for child in root)
        or len(root.findall(props.tag)) != 1
        or _asks_more(root, props)
    )


def _asks_more(root: ET.Element, props: ET.Element) -> bool:
    """Whether a query asks what Radicale or the address-book responder look for anywhere in the body (an
    expansion, a data element with a version or parts: RFC 4791 §9.6, RFC 6352 §10.4) beyond ``props``' plain
    ones."""
    return any(
        element.tag == _EXPAND
        or (
            element.tag in _CONTENT_PROPERTIES
            and (len(element) or element.attrib or not any(element is prop for prop in props))
        )
        for element in root.iter()
    )


def _item_response(
    base_prefix: str, target: _Target, item: Any, props: ET.Element, encoding: str
) -> ET.Element:
    """One item of a REPORT answer (sync-collection, queries), as Radicale's ``xml_report`` builds it."""
    found, not_found = [], []
    for prop in props:
        element = ET.Element(prop.tag)
        if prop.tag == xmlutils.make_clark("D:getcontenttype"):
            element.text = xmlutils.get_content_type(item, encoding)
            found.append(element)
        elif prop.tag == xmlutils.make_clark("D:getetag"):
            element.text = item.etag
            found.append(element)
        elif prop.tag in _CONTENT_PROPERTIES:
            element.text = item.serialize()
            found.append(element)
        else:
            not_found.append(element)
    uri = pathutils.unstrip_path(posixpath.join(target.collection.path, item.href))
    return item_response(base_prefix, uri, found, not_found, target.share)
