# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 4918 (WebDAV) and RFC 7232 (conditional requests) where Radicale's own answers differ from the RFCs.

Each class or function is the fix of one section, in front of Radicale (a responder) or after it (a finisher
of the answer), so that it can be offered upstream as it is:

* §9.1: a PROPFIND with ``Depth: infinity`` is refused with ``403`` and ``DAV:propfind-finite-depth``
  (:class:`FiniteDepthResponder`), wherever it is sent (Radicale served it as a partial depth 1);
* §9.2.1: a PROPPATCH of a protected live property answers ``207`` with ``403`` and
  ``DAV:cannot-modify-protected-property`` for it, ``424`` for the others, and changes nothing
  (:class:`ProtectedPropertyResponder`; Radicale stored ``DAV:sync-token`` as a dead property);
* §9.3.1: a MKCOL or MKCALENDAR whose parent does not exist answers ``409`` (:class:`MissingParentResponder`;
  Radicale answered ``403`` because nobody has rights on a path that does not exist);
* §9.6: a successful DELETE answers ``204`` without a body (:func:`finish_delete`);
* §9.7.2: a PUT onto an existing collection answers ``405`` (:class:`CollectionPutResponder`; Radicale
  replaced the whole calendar with the body);
* RFC 7232 §3.1, §3.2 (RFC 4918 §12.1): ``If-Match`` that matches no current entity tag answers ``412`` on
  every method, ``If-None-Match`` that matches answers ``304`` to GET and HEAD and ``412`` to the others, and
  an ``If`` header (§10.4, :mod:`groupware.dav.rfc4918_if`) that evaluates to false ``412``
  (:class:`ConditionalResponder`; Radicale looked at If-Match and If-None-Match on PUT and DELETE only);
* RFC 3744 §7.2: the ``DAV`` header names ``access-control``, since the ACL properties of RFC 3744 are served
  (:func:`announce_access_control`).

COPY (§9.8) is :mod:`groupware.dav.rfc4918_copy`.
"""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from http import client
from typing import Any, cast
from urllib.parse import quote, unquote, urlsplit

from groupware.dav.body import parsed_body
from groupware.dav.request import Answer, DavRequest
from groupware.dav.rfc4918_if import if_header_holds
from groupware.dav.upstream import Internals

__all__ = [
    "PROTECTED",
    "Dispatch",
    "CollectionPutResponder",
    "ConditionalResponder",
    "FiniteDepthResponder",
    "MissingParentResponder",
    "ProtectedPropertyResponder",
    "announce_access_control",
    "error_answer",
    "finish_delete",
    "located",
    "parent_of",
    "readable",
]

#: Runs one method of the application: (method, request, WSGI environment, path) → its answer (the inner
#: requests of a COPY, of a paged sync-collection).
Dispatch = Callable[[str, DavRequest, dict[str, Any], str], Answer]

DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
CARDDAV = "{urn:ietf:params:xml:ns:carddav}"
CS = "{http://calendarserver.org/ns/}"

#: Live properties a client cannot set or remove (RFC 4918 §15, RFC 3744 §5, RFC 5397 §3, RFC 6578 §4,
#: RFC 4791 §6.2.1, RFC 6352 §7.1.1, CalendarServer's ``getctag``).
PROTECTED = frozenset(
    {
        DAV + "getetag",
        DAV + "getlastmodified",
        DAV + "getcontentlength",
        DAV + "creationdate",
        DAV + "lockdiscovery",
        DAV + "supportedlock",
        DAV + "sync-token",
        DAV + "supported-report-set",
        DAV + "current-user-principal",
        DAV + "current-user-privilege-set",
        DAV + "principal-URL",
        DAV + "principal-collection-set",
        DAV + "owner",
        DAV + "acl",
        CALDAV + "calendar-home-set",
        CARDDAV + "addressbook-home-set",
        CS + "getctag",
    }
)


def error_answer(status: int, condition: str, text: str | None = None) -> Answer:
    """An answer whose body is ``DAV:error`` holding the pre- or postcondition ``condition`` (RFC 4918 §16),
    given in Clark notation; its text, if any, says why."""
    error = ET.Element(DAV + "error")
    ET.SubElement(error, condition).text = text
    body = ET.tostring(error, encoding="utf-8", xml_declaration=True)
    return status, {"Content-Type": "application/xml; charset=utf-8"}, body, None


def located(internals: Internals, request: DavRequest, path: str) -> Any | None:
    """The collection or item at ``path`` as ``request``'s user reaches it (through a share mapped into their
    home, if any), or None when there is none."""
    user = request.user
    share = internals.resolve_share(path, user, request.user_groups)
    if share and path != share["PathMapped"]:
        path, user = str(share["PathMapped"]), str(share["Owner"])
    storage = internals.storage
    with storage.acquire_lock("r", user):
        return next(iter(storage.discover(path)), None)


def readable(internals: Internals, request: DavRequest, path: str) -> bool:
    """Whether ``request``'s user may read ``path``: through a share mapped into their home, as its owner
    within the share's permissions (a free-busy share reads nothing, RFC 4791 §6.1.1), else by their own
    rights."""
    share = internals.resolve_share(path, request.user, request.user_groups)
    if share and path != share["PathMapped"]:
        mapped, owner, permissions = str(share["PathMapped"]), str(share["Owner"]), str(share["Permissions"])
        return internals.access(owner, request.user_groups, mapped, permissions).check("r")
    return internals.access(request.user, request.user_groups, path, None).check("r")


def parent_of(path: str) -> str:
    """The path of the collection holding ``path`` (``/`` for a top-level one), with its trailing slash."""
    return posixpath.dirname(path.rstrip("/")).rstrip("/") + "/"


def _is_collection(item: Any) -> bool:
    return hasattr(item, "get_meta")


def _method(request: DavRequest) -> str:
    return str(request.environ.get("REQUEST_METHOD", "")).upper()


class FiniteDepthResponder:
    """RFC 4918 §9.1: ``Depth: infinity`` on a collection is refused with ``403`` and
    ``DAV:propfind-finite-depth`` (on a calendar object or vCard, which has no members, it is served as
    ``Depth: 0``)."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def answer(self, request: DavRequest) -> Answer | None:
        """The 403 answer, or None for a finite depth or a resource that is not a collection."""
        if request.depth.strip().lower() != "infinity":
            return None
        if not request.path.endswith("/"):
            target = located(self.internals, request, request.path)
            if target is not None and not _is_collection(target):
                cast(dict[str, Any], request.environ)["HTTP_DEPTH"] = "0"
                return None
        return error_answer(client.FORBIDDEN, DAV + "propfind-finite-depth", "use Depth: 0 or Depth: 1")


class ProtectedPropertyResponder:
    """RFC 4918 §9.2.1: a PROPPATCH touching a protected property changes nothing (§9.2: all or none)."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def answer(self, request: DavRequest) -> Answer | None:
        """The 207 answer naming the protected properties, or None to let the update through (or Radicale
        refuse a user who may not write there)."""
        root = parsed_body(request.environ)
        if root is None or root.tag != DAV + "propertyupdate":
            return None
        touched = [prop for action in root for prop in action.iterfind(f"{DAV}prop/*")]
        protected = [prop.tag for prop in touched if prop.tag in PROTECTED]
        if not protected:
            return None
        share = self.internals.resolve_share(request.path, request.user, request.user_groups)
        if not share and not self.internals.access(
            request.user, request.user_groups, request.path, None
        ).check("w"):
            return None
        others = [prop.tag for prop in touched if prop.tag not in PROTECTED]
        multistatus = ET.Element(DAV + "multistatus")
        response = ET.SubElement(multistatus, DAV + "response")
        ET.SubElement(response, DAV + "href").text = quote(request.base_prefix + request.path)
        _propstat(response, protected, "403 Forbidden", DAV + "cannot-modify-protected-property")
        if others:
            _propstat(response, others, "424 Failed Dependency", None)
        body = ET.tostring(multistatus, encoding="utf-8", xml_declaration=True)
        request.request_info["status"] = client.MULTI_STATUS
        return client.MULTI_STATUS, {"Content-Type": "application/xml; charset=utf-8"}, body, None


def _propstat(response: ET.Element, names: Iterable[str], status: str, condition: str | None) -> None:
    propstat = ET.SubElement(response, DAV + "propstat")
    prop = ET.SubElement(propstat, DAV + "prop")
    for name in names:
        ET.SubElement(prop, name)
    ET.SubElement(propstat, DAV + "status").text = f"HTTP/1.1 {status}"
    if condition is not None:
        ET.SubElement(ET.SubElement(propstat, DAV + "error"), condition)


class MissingParentResponder:
    """RFC 4918 §9.3.1 (and RFC 4791 §5.3.1): a collection cannot be made under a parent that does not exist:
    ``409 Conflict``. Only where the user would have rights on the parent, so that nothing is learnt about
    the paths of others."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def answer(self, request: DavRequest) -> Answer | None:
        """The 409 answer, or None when the parent exists (or is not the user's to know about)."""
        parent = parent_of(request.path)
        if parent == "/":
            return None
        rights = self.internals.access(request.user, request.user_groups, parent, None)
        if not rights.permissions or located(self.internals, request, parent) is not None:
            return None
        body = f"the parent collection {parent} does not exist\n".encode()
        return client.CONFLICT, {"Content-Type": "text/plain; charset=utf-8"}, body, None


class CollectionPutResponder:
    """RFC 4918 §9.7.2: PUT onto an existing collection is ``405 Method Not Allowed``."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def answer(self, request: DavRequest) -> Answer | None:
        """The 405 answer, or None when the target is not an existing collection."""
        if not request.path.endswith("/"):
            return None
        if not self.internals.access(request.user, request.user_groups, request.path, None).check("r"):
            return None  # Radicale refuses it as it refuses anything there
        target = located(self.internals, request, request.path)
        if target is None or not _is_collection(target):
            return None
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "Allow": "DELETE, GET, HEAD, MKCALENDAR, MKCOL, MOVE, COPY, OPTIONS, PROPFIND, PROPPATCH, REPORT",
        }
        body = b"PUT cannot replace a collection; PUT each calendar object or vCard into it\n"
        return client.METHOD_NOT_ALLOWED, headers, body, None


_TAG = re.compile(r'\s*(W/)?("[^"]*")\s*(?:,|$)')


def _entity_tags(header: str) -> list[tuple[bool, str]] | None:
    """The entity tags of an ``If-Match`` or ``If-None-Match`` value, as (weak, tag); None for ``*``."""
    if header.strip() == "*":
        return None
    return [(bool(weak), tag) for weak, tag in _TAG.findall(header)]


def _matches(header: str, etag: str | None, strong: bool) -> bool:
    """Whether ``header`` matches the current ``etag`` (RFC 7232 §2.3.2: strong or weak comparison)."""
    if etag is None:
        return False
    tags = _entity_tags(header)
    if tags is None:
        return True
    current = etag.removeprefix("W/")
    return any(tag == current and not (strong and (weak or etag.startswith("W/"))) for weak, tag in tags)


class ConditionalResponder:
    """RFC 7232 §3.1 ``If-Match`` and §3.2 ``If-None-Match`` on every method (a PUT's usual conditions are
    left to Radicale, which judges them, creation included, RFC 4918 §9.7)."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def answer(self, request: DavRequest) -> Answer | None:
        """``412``, ``304`` or ``400``, or None when the conditions hold (or the user may not read the
        target)."""
        environ = request.environ
        if_match, if_none_match = environ.get("HTTP_IF_MATCH"), environ.get("HTTP_IF_NONE_MATCH")
        if_header, method = environ.get("HTTP_IF"), _method(request)
        if if_match is None and if_none_match is None and if_header is None:
            return None
        if method == "PUT" and if_header is None and _radicale_judges(environ):
            return None
        etag = self._etag(request, request.path)
        if if_header is not None:
            try:
                holds = if_header_holds(str(if_header), lambda url: self._etag(request, url))
            except ValueError as exc:
                return (
                    client.BAD_REQUEST,
                    {"Content-Type": "text/plain; charset=utf-8"},
                    f"{exc}\n".encode(),
                    None,
                )
            if not holds:
                return _precondition_failed("the If header evaluates to false (RFC 4918 §10.4)")
        if if_match is not None and not _matches(str(if_match), etag, strong=True):
            return _precondition_failed("If-Match matches no current entity tag")
        if if_match is not None and str(if_match).strip() != "*":
            # Radicale's PUT and DELETE compare the header with the tag as one string: the tag that matched
            cast(dict[str, Any], environ)["HTTP_IF_MATCH"] = etag
        if if_none_match is not None and _matches(str(if_none_match), etag, strong=False):
            if method in ("GET", "HEAD"):
                return client.NOT_MODIFIED, {"ETag": str(etag)}, None, None
            return _precondition_failed("If-None-Match matches the current entity tag")
        return None

    def _etag(self, request: DavRequest, url: str | None) -> str | None:
        """The current entity tag of the resource at ``url`` (a path or an absolute URL; None: the request
        URI), None when it does not exist or the user may not read it."""
        path = request.path if url is None else _path_of(url, request.base_prefix)
        if not readable(self.internals, request, path):
            return None
        target = located(self.internals, request, path)
        return None if target is None else str(target.etag)


def _path_of(url: str, base_prefix: str) -> str:
    """The path of the resource ``url`` names on this server."""
    path = unquote(urlsplit(url).path) or "/"
    if base_prefix and path.startswith(base_prefix + "/"):
        path = path[len(base_prefix) :]
    return posixpath.normpath(path) + ("/" if path.endswith("/") and path != "/" else "")


def _radicale_judges(environ: Any) -> bool:
    """Whether Radicale's PUT judges the conditions itself: one strong ``If-Match`` tag or ``*``, and
    ``If-None-Match: *`` (what clients send to update and to create), without a second lookup here."""
    if_match, if_none_match = environ.get("HTTP_IF_MATCH"), environ.get("HTTP_IF_NONE_MATCH")
    simple_match = if_match is None or ("," not in if_match and "W/" not in if_match)
    return simple_match and if_none_match in (None, "*")


def _precondition_failed(reason: str) -> Answer:
    return (
        client.PRECONDITION_FAILED,
        {"Content-Type": "text/plain; charset=utf-8"},
        f"{reason}\n".encode(),
        None,
    )


def finish_delete(request: DavRequest, answer: Answer) -> Answer:
    """RFC 4918 §9.6: a DELETE that succeeded answers ``204 No Content`` (Radicale: ``200`` with a body)."""
    status, _headers, _body, xml_request = answer
    if status != client.OK:
        return answer
    request.request_info["status"] = client.NO_CONTENT
    return client.NO_CONTENT, {}, None, xml_request


def announce_access_control(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """RFC 3744 §7.2: ``access-control`` in every ``DAV`` header (RFC 4918 §10.1) the application sends."""
    announced = []
    for name, value in headers:
        if name.lower() == "dav" and "access-control" not in value:
            value = f"{value}, access-control"
        announced.append((name, value))
    return announced
