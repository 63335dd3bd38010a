# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 4918 §9.2 and §4.3: dead properties of calendar objects and vCards.

Radicale keeps properties for collections only and answers ``403`` to a PROPPATCH of an item. Here the dead
properties of the items of a collection are kept in one property of the collection (:data:`KEY`, a JSON
object: href → property → its XML), written by :class:`ItemPropertyResponder` under the storage's write lock,
and :class:`ItemPropertyRewriter` answers them where a PROPFIND or REPORT asked for them (Radicale answered
``404`` for each) and hides :data:`KEY` from the collection's own answers. The live properties are
:mod:`groupware.dav.rfc4918`'s (refused before); a value's size is bounded by :mod:`groupware.dav.limits`,
and all the properties of one collection's items by :data:`MAX_STORED` characters (``507``, §9.2.1). Items
reached through a share mapped into a home keep Radicale's answer.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from http import client
from typing import Any
from urllib.parse import quote, unquote

import defusedxml
import defusedxml.ElementTree as DefusedET

from groupware.dav.body import parsed_body
from groupware.dav.request import Answer, DavRequest
from groupware.dav.rfc4918 import DAV, parent_of
from groupware.dav.upstream import Internals

__all__ = ["KEY", "MAX_STORED", "ItemPropertyCleaner", "ItemPropertyResponder", "ItemPropertyRewriter"]

#: The collection property holding its items' dead properties.
KEY = "{http://groupware/ns/}item-properties"
#: At most this many characters of dead properties for the items of one collection.
MAX_STORED = 1_000_000


def _stored(collection: Any) -> dict[str, dict[str, str]]:
    try:
        value = json.loads(collection.get_meta(KEY) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _updated(props: dict[str, str], root: ET.Element) -> list[str]:
    """Apply the ``set`` and ``remove`` of a propertyupdate in order (§9.2); the names it touched."""
    names = []
    for action in root:
        for prop in action.iterfind(f"{DAV}prop/*"):
            names.append(prop.tag)
            if action.tag == DAV + "set":
                props[prop.tag] = ET.tostring(prop, encoding="unicode")
            elif action.tag == DAV + "remove":
                props.pop(prop.tag, None)
    return names


class ItemPropertyResponder:
    """A PROPPATCH of a calendar object or vCard sets and removes its dead properties."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def answer(self, request: DavRequest) -> Answer | None:
        """The 207 (or 507) answer, or None for a collection, a share, or a user who may not write there."""
        root = parsed_body(request.environ)
        if root is None or root.tag != DAV + "propertyupdate" or request.path.endswith("/"):
            return None
        if self.internals.resolve_share(request.path, request.user, request.user_groups):
            return None
        access = self.internals.access(request.user, request.user_groups, request.path, None)
        storage = self.internals.storage
        with storage.acquire_lock("w", request.user):
            item = next(iter(storage.discover(request.path)), None)
            if item is None or hasattr(item, "get_meta") or not access.check("w", item):
                return None
            collection = item.collection
            stored = _stored(collection)
            names = _updated(stored.setdefault(str(item.href), {}), root)
            if not stored[str(item.href)]:
                del stored[str(item.href)]
            text = json.dumps(stored, ensure_ascii=False)
            if len(text) > MAX_STORED:
                body = f"the dead properties of this collection's items are over {MAX_STORED} characters\n"
                return (
                    client.INSUFFICIENT_STORAGE,
                    {"Content-Type": "text/plain; charset=utf-8"},
                    body.encode(),
                    None,
                )
            meta = dict(collection.get_meta())
            meta[KEY] = text
            collection.set_meta(meta)
        return _multistatus(request, names)


class ItemPropertyCleaner:
    """After a DELETE of an item, its dead properties go too (an item PUT later at its href has none)."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def __call__(self, request: DavRequest, answer: Answer) -> Answer:
        """``answer`` unchanged, once the deleted item's properties are forgotten."""
        if answer[0] not in (client.OK, client.NO_CONTENT) or request.path.endswith("/"):
            return answer
        if self.internals.resolve_share(request.path, request.user, request.user_groups):
            return answer  # items of a mapped share have no dead properties here
        storage, href = self.internals.storage, request.path.rsplit("/", 1)[-1]
        with storage.acquire_lock("r", request.user):  # most collections have no item properties at all
            collection = next(iter(storage.discover(parent_of(request.path))), None)
            if collection is None or not hasattr(collection, "get_meta") or not collection.get_meta(KEY):
                return answer
        with storage.acquire_lock("w", request.user):
            collection = next(iter(storage.discover(parent_of(request.path))), None)
            if collection is None or not hasattr(collection, "get_meta") or href not in _stored(collection):
                return answer
            stored = _stored(collection)
            del stored[href]
            meta = dict(collection.get_meta())
            meta[KEY] = json.dumps(stored, ensure_ascii=False)
            collection.set_meta(meta)
        return answer


def _multistatus(request: DavRequest, names: list[str]) -> Answer:
    multistatus = ET.Element(DAV + "multistatus")
    response = ET.SubElement(multistatus, DAV + "response")
    ET.SubElement(response, DAV + "href").text = quote(request.base_prefix + request.path)
    propstat = ET.SubElement(response, DAV + "propstat")
    prop = ET.SubElement(propstat, DAV + "prop")
    for name in names:
        ET.SubElement(prop, name)
    ET.SubElement(propstat, DAV + "status").text = "HTTP/1.1 200 OK"
    request.request_info["status"] = client.MULTI_STATUS
    body = ET.tostring(multistatus, encoding="utf-8", xml_declaration=True)
    return client.MULTI_STATUS, {"Content-Type": "application/xml; charset=utf-8"}, body, None


class ItemPropertyRewriter:
    """Items' dead properties in PROPFIND and REPORT answers; :data:`KEY` hidden from collections'."""

    def __init__(self, internals: Internals) -> None:
        self.internals = internals

    def rewrite(self, document: ET.Element, request_info: dict[str, Any]) -> None:
        """Answer the dead properties the items' responses of ``document`` miss (404), in place."""
        if document.tag != DAV + "multistatus" or request_info.get("method") not in ("PROPFIND", "REPORT"):
            return
        wanting = []
        for response in document.iterfind(DAV + "response"):
            if (response.findtext(DAV + "href") or "").endswith("/"):
                for prop in response.iterfind(f"{DAV}propstat/{DAV}prop"):
                    for hidden in prop.findall(KEY):
                        prop.remove(hidden)
            elif any(
                "404" in (p.findtext(DAV + "status") or "") for p in response.iterfind(DAV + "propstat")
            ):
                wanting.append(response)
        if wanting:
            self._answer(wanting, str(request_info.get("path", "/")))

    def _answer(self, responses: list[ET.Element], path: str) -> None:
        collection_path = path if path.endswith("/") else parent_of(path)
        storage = self.internals.storage
        with storage.acquire_lock("r"):
            collection = next(iter(storage.discover(collection_path)), None)
        if collection is None or not hasattr(collection, "get_meta"):
            return
        stored = _stored(collection)
        for response in responses:
            name = unquote(response.findtext(DAV + "href") or "").rsplit("/", 1)[-1]
            if name in stored:
                _move_found(response, stored[name])


def _move_found(response: ET.Element, props: dict[str, str]) -> None:
    """Move the properties of ``props`` from the 404 propstat of ``response`` to a 200 one."""
    for propstat in list(response.iterfind(DAV + "propstat")):
        if "404" not in (propstat.findtext(DAV + "status") or ""):
            continue
        missing = propstat.find(DAV + "prop")
        if missing is None:
            continue
        found = []
        for element in list(missing):
            if element.tag in props:
                try:
                    found.append(DefusedET.fromstring(props[element.tag]))
                except (ET.ParseError, defusedxml.DefusedXmlException, ValueError):
                    continue
                missing.remove(element)
        if len(missing) == 0:
            response.remove(propstat)
        if found:
            ok = ET.SubElement(response, DAV + "propstat")
            ET.SubElement(ok, DAV + "prop").extend(found)
            ET.SubElement(ok, DAV + "status").text = "HTTP/1.1 200 OK"
