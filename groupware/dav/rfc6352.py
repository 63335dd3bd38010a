# SPDX-License-Identifier: GPL-3.0-or-later
"""CardDAV (RFC 6352) where Radicale 3.9 falls short, one class per section, each usable on its own.

* :class:`BookProperties` (§8.3, §6.2.3): ``CARDDAV:supported-collation-set`` on every address book, listing
  the collations text-matches are compared with (RFC 4790 §9.2 ``i;octet``, §9.3 ``i;ascii-casemap``, RFC
  5051 ``i;unicode-casemap``, the default of §10.5.4), and ``CARDDAV:max-resource-size``;
* :class:`QueryPreconditions` (§8.6, §8.7, §10.4, §10.5): an addressbook-query or -multiget whose body is
  not XML by its media type (``text/plain``) is refused ``415``: RFC 9110 §15.5.16 names that status for
  content "in a format not supported by this method", where 400 would say the XML is malformed (it may well
  be), and RFC 4918 §8.2 has XML bodies sent as ``application/xml`` or ``text/xml``, as every client does;
  a body without a type still goes on. One asking address data in a media type or version the server does
  not serve, filtering on a property name that is not one, or comparing with a collation of none of the
  above is refused ``403`` with ``CARDDAV:supported-address-data``, ``CARDDAV:supported-filter`` or
  ``CARDDAV:supported-collation`` (RFC 4918 §16). An addressbook-query with ``Depth: 0`` on a collection
  answers no member (§8.6: the Depth header applies, and a collection is not an address object; without a
  Depth header the members still answer, as Radicale always did). Asked vCard 4.0, the cards of any REPORT
  are converted (:func:`groupware.dav.rfc6350.as_vcard4`);
* :class:`PutPreconditions` (§6.3.2.1): a vCard PUT in a media type other than vCard's is refused ``415``
  with ``CARDDAV:supported-address-data``; one over ``[server] max_resource_size`` ``413`` with
  ``CARDDAV:max-resource-size`` (Radicale said 412); one that is not a single readable vCard ``403`` with
  ``CARDDAV:valid-address-data`` (Radicale said 400 with no element);
* :class:`UidConflict` (§6.3.2.1): Radicale's ``409`` with ``CARDDAV:no-uid-conflict`` names, in a
  ``DAV:href``, the resource that already holds the UID;
* :class:`NeedPrivileges` (RFC 3744 §7.1.1): a write refused for want of rights (a read-only academic book,
  another person's agenda) says which privilege is missing, ``DAV:need-privileges``;
* :class:`VCardNegotiation` (§5.1.1, RFC 9110 §12.5.1): a GET whose ``Accept`` prefers ``text/vcard;
  version=4.0`` gets the card in vCard 4.0, with the stored card's entity tag (the one PROPFIND, REPORT and
  ``If-Match`` know, as CardDAV servers such as sabre/dav do) and ``Vary: Accept``; 3.0 stays the default.
  ``CARDDAV:supported-address-data`` lists 4.0 on the academic books only (:mod:`groupware.dav.vcard4`): a
  client that sees 4.0 on a book it writes (DAVx5) uploads 4.0 cards, which the server does not convert back
  to 3.0 for the clients that read 3.0 (iOS).

Radicale's filter test learns grouped names (``item1.EMAIL``, RFC 6350 §3.3) in
:func:`groupware.dav.upstream.patch_radicale`; a plain name (``EMAIL``) already matches every group.
"""

from __future__ import annotations

import logging
import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from http import client
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from radicale import httputils, pathutils, storage

from groupware.dav.body import parsed_body, read_body
from groupware.dav.request import Answer, DavRequest
from groupware.dav.rfc6350 import as_vcard4
from groupware.dav.upstream import Internals, read_components

__all__ = [
    "COLLATIONS",
    "BookProperties",
    "NeedPrivileges",
    "PutPreconditions",
    "QueryPreconditions",
    "UidConflict",
    "VCardNegotiation",
    "dav_error",
    "prefers_vcard4",
]

log = logging.getLogger("groupware.server")

DAV = "{DAV:}"
CARDDAV = "{urn:ietf:params:xml:ns:carddav}"
#: The collations of text-match (§8.3): Radicale compares ``i;octet`` exactly and folds case for the others.
COLLATIONS = ("i;ascii-casemap", "i;octet", "i;unicode-casemap")
#: vCard versions an address book serves (§6.2.2): stored 3.0, converted 4.0.
VERSIONS = ("3.0", "4.0")
#: Media types a vCard PUT may declare (RFC 6350 §10.1, and the older names clients still send).
VCARD_TYPES = frozenset({"text/vcard", "text/x-vcard", "text/directory", "application/octet-stream"})
_CONTEXT = "groupware.rfc6352"
_WANTS_VCARD4 = "groupware.rfc6352.vcard4"
_PUT_BODY = "groupware.rfc6352.put_body"
_REPORTS = (CARDDAV + "addressbook-query", CARDDAV + "addressbook-multiget")
#: A property name, alone or after its group (RFC 6350 §3.3: ``group "." name``, names are IANA or x-names).
_NAME = re.compile(r"([A-Za-z0-9-]+\.)?[A-Za-z0-9-]+\Z")


def dav_error(status: int, tag: str, text: str | None = None, href: str | None = None) -> Answer:
    """``status`` with a ``DAV:error`` body holding the precondition ``tag`` (RFC 4918 §16), its text the
    reason, and the ``DAV:href`` it names."""
    error = ET.Element(DAV + "error")
    element = ET.SubElement(error, tag)
    if href is not None:
        ET.SubElement(element, DAV + "href").text = href
    elif text:
        element.text = text
    body = ET.tostring(error, encoding="utf-8", xml_declaration=True)
    return status, {"Content-Type": "application/xml; charset=utf-8"}, body, None


def _media_type(value: str) -> tuple[str, dict[str, str]]:
    """A media type (RFC 9110 §8.3.1), lower case, and its parameters."""
    kind, *params = value.split(";")
    pairs = (param.partition("=") for param in params)
    return kind.strip().lower(), {k.strip().lower(): v.strip().strip('"') for k, _, v in pairs}


@dataclass(frozen=True)
class _Context:
    """Who asked, where: what the rewriters need to find the collections of an answer."""

    base_prefix: str
    user: str
    user_groups: frozenset[str]


def _collection(internals: Internals, path: str, user: str, user_groups: set[str]) -> Any:
    """The collection or item at ``path`` as ``user`` reaches it (through a map share into their home)."""
    share = internals.resolve_share(path, user, user_groups)
    if share and path != share["PathMapped"]:
        path = str(share["PathMapped"])
    return next(iter(internals.storage.discover(path, "0")), None)


def _parent(path: str) -> str:
    """The path of the collection holding ``path`` (ending with a slash)."""
    return posixpath.dirname(path.rstrip("/")).rstrip("/") + "/"


def _is_book(found: Any) -> bool:
    return isinstance(found, storage.BaseCollection) and found.tag == "VADDRESSBOOK"


#: The address-book properties Radicale does not serve (§6.2.3, §8.3), that :class:`BookProperties` adds.
BOOK_PROPERTIES = (CARDDAV + "supported-collation-set", CARDDAV + "max-resource-size")


class BookProperties:
    """§6.2.3 ``CARDDAV:max-resource-size`` and §8.3 ``CARDDAV:supported-collation-set``: a PROPFIND
    responder that notes who asks them, and a rewriter that moves them, on every address book, from the 404
    propstat Radicale gives them into the 200 one, with their values."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def answer(self, request: DavRequest) -> Answer | None:
        """Always None: the PROPFIND goes on, noted when it asks one of the properties."""
        root = parsed_body(request.environ)
        prop = root.find(DAV + "prop") if root is not None else None
        if prop is not None and any(prop.find(tag) is not None for tag in BOOK_PROPERTIES):
            context = _Context(request.base_prefix, request.user, frozenset(request.user_groups))
            request.request_info[_CONTEXT] = context
        return None

    def rewrite(self, document: ET.Element, request_info: dict[str, Any]) -> None:
        """Give the properties their values on the address books of a noted answer."""
        context = request_info.get(_CONTEXT)
        if not isinstance(context, _Context):
            return
        for response in document.iter(DAV + "response"):
            href = response.findtext(DAV + "href") or ""
            missing = [found for tag in BOOK_PROPERTIES if (found := _missing(response, tag)) is not None]
            if not missing or not href.endswith("/") or not self._is_book(href, context):
                continue
            for propstat, prop, element in missing:
                prop.remove(element)
                if not len(prop):
                    response.remove(propstat)
                if element.tag == CARDDAV + "max-resource-size":
                    element.text = str(self.internals.max_resource_size)
                for collation in COLLATIONS if element.tag == CARDDAV + "supported-collation-set" else ():
                    ET.SubElement(element, CARDDAV + "supported-collation").text = collation
                _found_prop(response).append(element)

    def _is_book(self, href: str, context: _Context) -> bool:
        path = unquote(href)
        if context.base_prefix and path.startswith(context.base_prefix):
            path = path[len(context.base_prefix) :]
        found = _collection(self.internals, path, context.user, set(context.user_groups))
        return _is_book(found)


def _missing(response: ET.Element, tag: str) -> tuple[ET.Element, ET.Element, ET.Element] | None:
    """The 404 propstat, its prop and the element ``tag`` in it, when the response says it is not found."""
    for propstat in response.iterfind(DAV + "propstat"):
        prop = propstat.find(DAV + "prop")
        element = prop.find(tag) if prop is not None else None
        if prop is not None and element is not None and "404" in (propstat.findtext(DAV + "status") or ""):
            return propstat, prop, element
    return None


def _found_prop(response: ET.Element) -> ET.Element:
    """The ``DAV:prop`` of the response's 200 propstat, made (first) when there is none."""
    for propstat in response.iterfind(DAV + "propstat"):
        prop = propstat.find(DAV + "prop")
        if prop is not None and "200" in (propstat.findtext(DAV + "status") or ""):
            return prop
    propstat = ET.Element(DAV + "propstat")
    prop = ET.SubElement(propstat, DAV + "prop")
    ET.SubElement(propstat, DAV + "status").text = "HTTP/1.1 200 OK"
    href = response.find(DAV + "href")
    response.insert(1 if href is not None else 0, propstat)
    return prop


def _report_problem(root: ET.Element) -> tuple[str, str] | None:
    """The §8.6/§8.7 precondition a CardDAV REPORT body breaks, and why; or None."""
    for data in root.iter(CARDDAV + "address-data"):
        kind = data.get("content-type", "text/vcard").lower()
        version = data.get("version", "3.0")
        if kind != "text/vcard" or version not in VERSIONS:
            return (
                "supported-address-data",
                f"address data is served as text/vcard 3.0 or 4.0, not {kind} {version}",
            )
    for prop_filter in root.iter(CARDDAV + "prop-filter"):
        name = prop_filter.get("name", "")
        if not _NAME.match(name):
            return "supported-filter", f"prop-filter name {name!r} is not a vCard property name"
    for param_filter in root.iter(CARDDAV + "param-filter"):
        name = param_filter.get("name", "")
        if not _NAME.match(name) or "." in name:
            return "supported-filter", f"param-filter name {name!r} is not a vCard parameter name"
    for match in root.iter(CARDDAV + "text-match"):
        collation = match.get("collation", "i;unicode-casemap")
        if collation not in COLLATIONS:
            return "supported-collation", f"collation {collation!r} is not one of {', '.join(COLLATIONS)}"
    return None


class QueryPreconditions:
    """§8.6, §8.7: a REPORT responder for addressbook-query and -multiget (see the module docstring), and the
    rewriter converting the answer's cards when vCard 4.0 was asked (§10.4)."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def answer(self, request: DavRequest) -> Answer | None:
        """The refusal or the empty answer, else None (the REPORT goes on, noted when it asks 4.0)."""
        root = parsed_body(request.environ)
        if root is not None and any(e.get("version") == "4.0" for e in root.iter(CARDDAV + "address-data")):
            request.request_info[_WANTS_VCARD4] = True  # a sync-collection's cards too (RFC 6578 §3.2)
        if root is None or root.tag not in _REPORTS:
            return None
        kind, _ = _media_type(str(request.environ.get("CONTENT_TYPE") or ""))
        if kind and not (kind.endswith("/xml") or kind.endswith("+xml")):
            log.info("REPORT body refused", extra={"event": "unsupported_media_type", "reason": kind})
            headers = {"Content-Type": "text/plain; charset=utf-8", "Accept": "application/xml, text/xml"}
            body = f"a REPORT body is XML (application/xml or text/xml), not {kind}\n".encode()
            return client.UNSUPPORTED_MEDIA_TYPE, headers, body, None
        problem = _report_problem(root)
        if problem is not None:
            log.info("CardDAV REPORT refused", extra={"event": "unsupported_report", "reason": problem[1]})
            return dav_error(client.FORBIDDEN, CARDDAV + problem[0], problem[1])
        if root.tag == CARDDAV + "addressbook-query" and request.depth == "0" and self._on_book(request):
            request.request_info["status"] = client.MULTI_STATUS
            body = ET.tostring(ET.Element(DAV + "multistatus"), encoding="utf-8", xml_declaration=True)
            return client.MULTI_STATUS, {"Content-Type": "text/xml; charset=utf-8"}, body, None
        return None

    def _on_book(self, request: DavRequest) -> bool:
        with self.internals.storage.acquire_lock("r", request.user):
            found = _collection(self.internals, request.path, request.user, request.user_groups)
        return isinstance(found, storage.BaseCollection)

    def rewrite(self, document: ET.Element, request_info: dict[str, Any]) -> None:
        """The cards of a REPORT that asked vCard 4.0, converted."""
        if request_info.get(_WANTS_VCARD4):
            for element in document.iter(CARDDAV + "address-data"):
                if element.text:
                    element.text = as_vcard4(element.text)


def _body(request: DavRequest) -> bytes | None:
    """The PUT body, kept for :class:`UidConflict` and put back for Radicale; None when absent or encoded."""
    raw = read_body(request.environ)
    if raw is not None:
        request.request_info[_PUT_BODY] = raw
    return raw


class PutPreconditions:
    """§6.3.2.1 for a vCard PUT: ``supported-address-data`` (415) and ``max-resource-size`` (413) checked
    before Radicale's PUT (a responder); ``valid-address-data`` (403) where Radicale refuses a vCard it cannot
    read or store as one address object into an address book (a finisher of its 400: the card is parsed a
    second time only then)."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def answer(self, request: DavRequest) -> Answer | None:
        """The refusal, or None to let the PUT go on."""
        limit = self.internals.max_resource_size
        raw = _body(request)
        if raw is None or raw.lstrip()[:11].upper() != b"BEGIN:VCARD":
            return None
        kind, params = _media_type(str(request.environ.get("CONTENT_TYPE") or ""))
        if (kind and kind not in VCARD_TYPES) or params.get("version", "3.0") not in VERSIONS:
            reason = f"an address object is text/vcard (version 3.0 or 4.0), not {kind} {params}"
            return self._refuse(request, client.UNSUPPORTED_MEDIA_TYPE, "supported-address-data", reason)
        if len(raw) > limit:
            reason = f"the vCard has {len(raw)} octets, over the {limit} of CARDDAV:max-resource-size"
            return self._refuse(request, client.REQUEST_ENTITY_TOO_LARGE, "max-resource-size", reason)
        return None

    def __call__(self, request: DavRequest, answer: Answer) -> Answer:
        """Radicale's 400 to a vCard PUT into an address book, as ``valid-address-data`` with the reason."""
        raw = request.request_info.get(_PUT_BODY)
        if answer[0] != client.BAD_REQUEST or not isinstance(raw, bytes):
            return answer
        if raw.lstrip()[:11].upper() != b"BEGIN:VCARD" or not self._into_book(request):
            return answer
        reason = "an address object resource holds exactly one vCard (RFC 6352 §5.1)"
        try:
            objects = read_components(self.internals.decode_body(request.environ, raw))
            if len(objects) == 1 and objects[0].name.upper() == "VCARD":
                reason = "the server cannot store this vCard as an address object"
        except Exception as exc:  # whatever the parser raises: the text is not a vCard
            reason = "not a vCard: " + (str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)
        return self._refuse(request, client.FORBIDDEN, "valid-address-data", reason)

    def _into_book(self, request: DavRequest) -> bool:
        parent = _parent(request.path)
        with self.internals.storage.acquire_lock("r", request.user):
            return _is_book(_collection(self.internals, parent, request.user, request.user_groups))

    @staticmethod
    def _refuse(request: DavRequest, status: int, precondition: str, reason: str) -> Answer:
        log.info("refused vCard", extra={"event": "invalid_data", "path": request.path, "reason": reason})
        return dav_error(status, CARDDAV + precondition, reason)


class UidConflict:
    """§6.3.2.1 ``CARDDAV:no-uid-conflict``: Radicale's 409 to a PUT or MOVE into an address book completed
    with the ``DAV:href`` of the resource that holds the UID."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def __call__(self, request: DavRequest, answer: Answer) -> Answer:
        """The answer, with the href when it is a no-uid-conflict of a vCard."""
        status, _, body, _ = answer
        if status != client.CONFLICT or not isinstance(body, bytes) or b"no-uid-conflict" not in body:
            return answer
        if b"urn:ietf:params:xml:ns:carddav" not in body:
            return answer
        with self.internals.storage.acquire_lock("r", request.user):
            href = self._holder(request)
        return dav_error(client.CONFLICT, CARDDAV + "no-uid-conflict", href=href) if href else answer

    def _holder(self, request: DavRequest) -> str | None:
        """The href (as the client addresses it) of the item of the target book that has the UID."""
        target, uid = self._target(request)
        if uid is None:
            return None
        parent = _parent(target)
        book = _collection(self.internals, parent, request.user, request.user_groups)
        if not _is_book(book):
            return None
        holder = next((item.href for item in _items_with_uid(book, uid)), None)
        return f"{request.base_prefix}{quote(parent)}{quote(holder)}" if holder else None

    def _target(self, request: DavRequest) -> tuple[str, str | None]:
        """Where the card goes (the PUT's path, the MOVE's destination) and its UID (None: unknown)."""
        if str(request.environ.get("REQUEST_METHOD", "")) == "MOVE":
            destination = pathutils.sanitize_path(
                urlsplit(unquote(request.environ.get("HTTP_DESTINATION", ""))).path
            )
            target = destination.removeprefix(request.base_prefix) if request.base_prefix else destination
            item = _collection(self.internals, request.path, request.user, request.user_groups)
            return target, getattr(item, "uid", None) if item is not None else None
        raw = request.request_info.get(_PUT_BODY)
        if not isinstance(raw, bytes):
            return request.path, None
        try:
            [card] = read_components(self.internals.decode_body(request.environ, raw))
            return request.path, str(card.uid.value)
        except Exception:  # no single card with a UID: nothing to name
            return request.path, None


def _items_with_uid(book: Any, uid: str) -> Iterator[Any]:
    """The items of ``book`` whose UID is ``uid``: through the UID index when the storage has one."""
    finder = getattr(book, "href_of_uid", None)
    if finder is not None:
        href = finder(uid)
        yield from (item for _, item in book.get_multi([href]) if item is not None) if href else ()
        return
    yield from (item for item in book.get_all() if item.uid == uid)


#: The privilege each write lacks when Radicale refuses it (RFC 3744 §3.1 to §3.10).
PRIVILEGES = {"PUT": "write-content", "DELETE": "unbind", "PROPPATCH": "write-properties", "MKCOL": "bind"}


class NeedPrivileges:
    """RFC 3744 §7.1.1 (as RFC 6352 §9 asks of an address-book server): Radicale's bare 403 to a write the
    user's rights do not allow becomes a ``DAV:need-privileges`` error naming the resource and privilege."""

    def __call__(self, request: DavRequest, answer: Answer) -> Answer:
        """The answer, with the missing privilege when it is Radicale's refusal for rights."""
        status, _, body, _ = answer
        method = str(request.environ.get("REQUEST_METHOD", ""))
        if status != client.FORBIDDEN or body != httputils.NOT_ALLOWED[2] or method not in PRIVILEGES:
            return answer
        if not request.user:  # Radicale asks an anonymous client to log in (401) on seeing its own refusal
            return answer
        privilege = PRIVILEGES[method]
        href = request.base_prefix + request.path
        if method in ("DELETE", "MKCOL"):  # unbind and bind are privileges of the parent collection
            href = request.base_prefix + _parent(request.path)
        error = ET.Element(DAV + "error")
        resource = ET.SubElement(ET.SubElement(error, DAV + "need-privileges"), DAV + "resource")
        ET.SubElement(resource, DAV + "href").text = href
        ET.SubElement(ET.SubElement(resource, DAV + "privilege"), DAV + privilege)
        body = ET.tostring(error, encoding="utf-8", xml_declaration=True)
        return status, {"Content-Type": "application/xml; charset=utf-8"}, body, None


def prefers_vcard4(accept: str) -> bool:
    """Whether an ``Accept`` header (RFC 9110 §12.5.1) prefers ``text/vcard; version=4.0`` to vCard 3.0."""
    best4, best3 = 0.0, 0.0
    for item in accept.split(","):
        kind, params = _media_type(item)
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            quality = 0.0
        if kind == "text/vcard" and params.get("version") == "4.0":
            best4 = max(best4, quality)
        elif kind in ("text/vcard", "text/x-vcard", "text/*", "*/*"):
            best3 = max(best3, quality)
    return best4 > 0 and best4 >= best3


class VCardNegotiation:
    """§5.1.1: a GET of a card or a book whose ``Accept`` prefers vCard 4.0 gets it (see the docstring)."""

    def __call__(self, request: DavRequest, answer: Answer) -> Answer:
        """The answer in vCard 4.0 when asked and it is vCard 3.0 text; else unchanged."""
        status, headers, body, xml_request = answer
        fields = dict(headers)
        kind, _ = _media_type(str(fields.get("Content-Type", "")))
        if status != client.OK or kind != "text/vcard":
            return answer
        fields["Vary"] = "Accept"
        if prefers_vcard4(str(request.environ.get("HTTP_ACCEPT") or "")):
            text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
            body = as_vcard4(text)
            # Radicale adds the charset to the type of a text answer.
            fields["Content-Type"] = "text/vcard; version=4.0"
        return status, fields, body, xml_request
