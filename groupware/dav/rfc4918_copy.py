# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 4918 §9.8 COPY, which Radicale does not implement (it answered ``405``), and §9.9 MOVE's defaults.

A COPY is carried out with the application's own handlers, so that the rights, the sharing, the checks of
calendar and address data and the storage's hooks apply as to any client's requests:

* a calendar object or vCard (§9.8.1): GET of the source, PUT of its text at the destination. The
  destination's parent must be a collection of the same kind: a calendar for a calendar object (RFC 4791
  §5.3.4, ``CALDAV:calendar-collection-location-ok``), an address book for a vCard (RFC 6352 §6.3.2.1,
  ``CARDDAV:addressbook-collection-location-ok``); a copy into its own collection keeps its UID, so the PUT's
  ``no-uid-conflict`` (RFC 4791 §5.3.2.1, RFC 6352 §6.3.2.1) refuses it, as the RFCs want;
* a collection (§9.8.3): ``Depth: 0`` copies it with its properties, ``Depth: infinity`` (the default)
  with its members; ``Depth: 1`` is ``400``.

Answers (§9.8.5): ``201`` when the destination is new, ``204`` when it replaced one; ``412`` with
``Overwrite: F`` (§10.6) and an existing destination; ``409`` when the destination's parent does not exist;
``403`` when source and destination are the same; ``400`` without a ``Destination`` (§10.3); ``502`` when it
names another server.
"""

from __future__ import annotations

import io
import posixpath
from http import client
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from groupware.dav.body import PARSED_BODY
from groupware.dav.request import Answer, DavRequest
from groupware.dav.rfc4918 import CALDAV, CARDDAV, Dispatch, error_answer, located, parent_of, readable
from groupware.dav.upstream import Internals

__all__ = ["CopyResponder", "MoveResponder", "destination_path"]

_CONDITIONAL = ("HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH", "HTTP_DESTINATION", "HTTP_OVERWRITE", "HTTP_DEPTH")
#: The precondition naming where a member of each kind of collection may be copied.
_LOCATION_OK = {
    "VCALENDAR": CALDAV + "calendar-collection-location-ok",
    "VADDRESSBOOK": CARDDAV + "addressbook-collection-location-ok",
}
_CONTENT_TYPES = {"VCALENDAR": "text/calendar; charset=utf-8", "VADDRESSBOOK": "text/vcard; charset=utf-8"}


def _text(status: int, reason: str) -> Answer:
    return status, {"Content-Type": "text/plain; charset=utf-8"}, f"{reason}\n".encode(), None


def destination_path(request: DavRequest) -> str | Answer:
    """The path the ``Destination`` header names (RFC 4918 §10.3), or the answer refusing it."""
    environ = request.environ
    header = str(environ.get("HTTP_DESTINATION", "")).strip()
    if not header:
        return _text(client.BAD_REQUEST, "COPY needs a Destination header")
    parts = urlsplit(header)
    hosts = {str(environ.get(key, "")).lower() for key in ("HTTP_HOST", "HTTP_X_FORWARDED_HOST")}
    if parts.netloc and parts.netloc.lower() not in hosts:
        return _text(client.BAD_GATEWAY, f"the destination {header} is on another server")
    path = unquote(parts.path)
    if request.base_prefix and path.startswith(request.base_prefix + "/"):
        path = path[len(request.base_prefix) :]
    trailing = path.endswith("/")
    path = posixpath.normpath("/" + path.lstrip("/"))
    if "\x00" in path or "\\" in path:
        return _text(client.BAD_REQUEST, "the destination is not a valid path")
    return path.rstrip("/") + "/" if trailing or path == "/" else path


def _environ(request: DavRequest, method: str, body: bytes = b"", content_type: str = "") -> dict[str, Any]:
    """A copy of the request's environment for one inner request of the COPY."""
    environ = {k: v for k, v in dict(request.environ).items() if k not in _CONDITIONAL and k != PARSED_BODY}
    environ.update(
        REQUEST_METHOD=method,
        CONTENT_LENGTH=str(len(body)),
        CONTENT_TYPE=content_type,
        HTTP_ACCEPT_ENCODING="identity",
    )
    environ["wsgi.input"] = io.BytesIO(body)
    return environ


def _is_collection(item: Any) -> bool:
    return hasattr(item, "get_meta")


class MoveResponder:
    """§9.9 in front of Radicale's MOVE of an item: without ``Overwrite`` the request is one with
    ``Overwrite: T`` (§10.6; Radicale took it for ``F``), and a destination in a collection of another kind
    is refused with the precondition RFC 4791 §5.3.4 (RFC 6352 §6.3.2.1) names."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def answer(self, request: DavRequest) -> Answer | None:
        """The 403 answer, or None to let Radicale move the item."""
        environ = cast(dict[str, Any], request.environ)
        environ.setdefault("HTTP_OVERWRITE", "T")
        target = destination_path(request)
        if not isinstance(target, str) or request.path.endswith("/"):
            return None
        if not self.internals.access(request.user, request.user_groups, request.path, None).check("r"):
            return None
        source = located(self.internals, request, request.path)
        parent = located(self.internals, request, parent_of(target))
        if source is None or parent is None or _is_collection(source) or not _is_collection(parent):
            return None
        return _location_problem(source, parent)


def _location_problem(source: Any, parent: Any) -> Answer | None:
    """403 with the precondition of the source's kind when ``parent`` is a collection of another kind."""
    kind = str(getattr(source.collection, "tag", "") or "")
    if str(parent.tag or "") != kind and kind in _LOCATION_OK:
        return error_answer(
            client.FORBIDDEN, _LOCATION_OK[kind], "move or copy it into a collection of its kind"
        )
    return None


class CopyResponder:
    """Answers every COPY (RFC 4918 §9.8); see the module docstring."""

    def __init__(self, internals: Internals, dispatch: Dispatch) -> None:
        self.internals = internals
        self.dispatch = dispatch

    def answer(self, request: DavRequest) -> Answer | None:
        """The COPY's answer."""
        target = destination_path(request)
        if not isinstance(target, str):
            return target
        source_path = request.path if request.path.endswith("/") else request.path.rstrip("/")
        if (target.rstrip("/") + "/").startswith(source_path.rstrip("/") + "/"):
            return _text(client.FORBIDDEN, "the destination of a COPY is its source or inside it")
        if not readable(self.internals, request, request.path):
            return _text(client.FORBIDDEN, "the source cannot be read")
        if not self._may_write(request, target):
            return _text(client.FORBIDDEN, "the destination cannot be written")
        source = located(self.internals, request, request.path)
        if source is None:
            return _text(client.NOT_FOUND, "the source does not exist")
        overwrite = str(request.environ.get("HTTP_OVERWRITE", "T")).strip().upper() != "F"
        existing = located(self.internals, request, target)
        if existing is not None and not overwrite:
            return _text(client.PRECONDITION_FAILED, "the destination exists and Overwrite is F")
        parent = located(self.internals, request, parent_of(target))
        if parent is None or not _is_collection(parent):
            return _text(client.CONFLICT, "the parent collection of the destination does not exist")
        if _is_collection(source):
            return self._copy_collection(request, source, target, existing)
        return self._copy_item(request, source, target, parent, existing)

    def _may_write(self, request: DavRequest, target: str) -> bool:
        """Whether the user may write at ``target`` (a share mapped into their home: its PUT judges)."""
        if self.internals.resolve_share(target, request.user, request.user_groups):
            return True
        return self.internals.access(request.user, request.user_groups, target, None).check("w")

    def _copy_item(self, request: DavRequest, source: Any, target: str, parent: Any, existing: Any) -> Answer:
        """§9.8.1 and RFC 4791 §5.3.4: the source's text PUT at the destination."""
        refused = _location_problem(source, parent)
        if refused is not None:
            return refused
        kind = str(getattr(source.collection, "tag", "") or "")
        got = self.dispatch("GET", request, _environ(request, "GET"), request.path)
        status, _headers, body, _xml = got
        if status != client.OK:
            return got
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
        environ = _environ(request, "PUT", data, _CONTENT_TYPES.get(kind, "text/plain; charset=utf-8"))
        if existing is not None and _is_collection(existing):
            return _text(client.CONFLICT, "a collection cannot be replaced by a calendar object or vCard")
        put = self.dispatch("PUT", request, environ, target)
        if put[0] not in (client.CREATED, client.NO_CONTENT):
            return put
        return self._done(request, existing is None)

    def _copy_collection(self, request: DavRequest, source: Any, target: str, existing: Any) -> Answer:
        """§9.8.3: the collection and its properties, with its members unless ``Depth: 0``."""
        depth = str(request.environ.get("HTTP_DEPTH", "infinity")).strip().lower()
        if depth not in ("0", "infinity"):
            return _text(client.BAD_REQUEST, "COPY of a collection takes Depth: 0 or Depth: infinity")
        target = target.rstrip("/") + "/"
        if existing is not None:  # §9.8.4: the destination is deleted first
            deleted = self.dispatch("DELETE", request, _environ(request, "DELETE"), target)
            if deleted[0] not in (client.OK, client.NO_CONTENT):
                return deleted
        problem = self._copy_tree(request, source, target, depth == "infinity")
        if problem is not None:
            return problem
        return self._done(request, existing is None)

    def _copy_tree(self, request: DavRequest, source: Any, target: str, members: bool) -> Answer | None:
        """The collection at ``target``, and with ``members`` its items or, in a plain collection, its
        collections copied the same way; None when done, else the answer that refused a part."""
        problem = self._make_collection(request, source, target)
        if problem is not None or not members:
            return problem
        if source.get_meta("tag"):
            for member in list(source.get_all()):
                problem = self._copy_member(request, source, member, target)
                if problem is not None:
                    return problem
            return None
        storage = self.internals.storage
        with storage.acquire_lock("r", request.user):
            children = [c for c in storage.discover(f"/{source.path}/", "1") if _is_collection(c)][1:]
        for child in children:
            name = str(child.path).rstrip("/").rsplit("/", 1)[-1]
            problem = self._copy_tree(request, child, f"{target}{name}/", members)
            if problem is not None:
                return problem
        return None

    def _make_collection(self, request: DavRequest, source: Any, target: str) -> Answer | None:
        """The destination collection, with the source's properties, if the user may make it (as MKCOL)."""
        props = dict(source.get_meta())
        needed = "w" if props.get("tag") else "W"
        permissions = self.internals.access(request.user, request.user_groups, target, None).permissions
        if needed not in permissions:
            return _text(client.FORBIDDEN, "the destination collection cannot be made here")
        storage = self.internals.storage
        with storage.acquire_lock("w", request.user):
            storage.create_collection(target, props=props)
        return None

    def _copy_member(self, request: DavRequest, source: Any, member: Any, target: str) -> Answer | None:
        """One member PUT into the copy; None when it was, else the answer that refused it."""
        kind = str(source.get_meta("tag") or "")
        data = member.serialize().encode("utf-8")
        environ = _environ(request, "PUT", data, _CONTENT_TYPES.get(kind, "text/plain; charset=utf-8"))
        put = self.dispatch("PUT", request, environ, target + str(member.href))
        return None if put[0] in (client.CREATED, client.NO_CONTENT) else put

    @staticmethod
    def _done(request: DavRequest, created: bool) -> Answer:
        status = client.CREATED if created else client.NO_CONTENT
        request.request_info["status"] = status
        return status, {}, None, None
