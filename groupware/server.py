# SPDX-License-Identifier: GPL-3.0-or-later
"""Composition root of the DAV door: Radicale configured with our plugins, our services, and the answers we give
before Radicale (whole-collection listings from stored facts). :mod:`groupware.serving` serves it over HTTP.
"""

from __future__ import annotations

import io
import json
import logging
import os
import posixpath
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import client
from typing import Any, cast

import radicale
import radicale.config
from radicale import httputils, pathutils, storage, xmlutils
from radicale import types as radicale_types
from radicale.app.base import Access
from radicale.app.propfind import xml_propfind
from radicale.app.report import xml_item_response

from groupware import registry
from groupware.accounts import Accounts
from groupware.accounts.lockouts import DatabaseThrottle
from groupware.addressbooks_door import AddressBookAnswers
from groupware.config import Config
from groupware.directory.factory import open_directory
from groupware.errors import ConfigProblem, DirectoryUnavailable
from groupware.fastpath import ResponseTemplate, assemble, facts_of, split_document, with_data
from groupware.principals import enrich_multistatus
from groupware.sharing_door import SharingAnswers, build_sharing, sharing_database_path
from groupware.store.database import SYNCHRONOUS, Database
from groupware.workers import worker_count

__all__ = [
    "GroupwareApplication",
    "build_services",
    "check_radicale_sections",
    "make_app",
    "radicale_configuration",
]

log = logging.getLogger("groupware.server")

PREDEFINED_COLLECTIONS = {
    "calendar": {
        "tag": "VCALENDAR",
        "D:displayname": "Agenda",
        "C:supported-calendar-component-set": "VEVENT,VTODO",
    },
    "contacts": {"tag": "VADDRESSBOOK", "D:displayname": "Contacts"},
}

# What groupware sets in Radicale's sections unless the configuration file says otherwise.
RADICALE_DEFAULTS: dict[str, dict[str, str]] = {
    "server": {"hosts": "127.0.0.1:5232", "max_connections": "64"},
    "auth": {"type": "groupware.plugins.auth", "delay": "0"},
    "rights": {"type": "groupware.plugins.rights"},
    "storage": {
        "type": "groupware.plugins.storage",
        "filesystem_folder": os.path.abspath("var/collections"),
        "predefined_collections": json.dumps(PREDEFINED_COLLECTIONS),
    },
    "web": {"type": "none"},
    "sharing": {
        "type": "groupware.plugins.sharing",
        "collection_by_map": "True",
        "collection_by_token": "False",
    },
    "logging": {"level": "info", "mask_passwords": "True"},
}
# Options of our storage plugin that Radicale's schema does not know (Radicale hands them to the plugin):
# each maps to the reason a value is refused, or None when it is fine.
STORAGE_OPTIONS: dict[str, Callable[[str], str | None]] = {
    "database": lambda value: None if value.strip() else "empty path",
    "synchronous": lambda value: None if value.upper() in SYNCHRONOUS else "one of OFF, NORMAL, FULL, EXTRA",
}
# Options of [server] that are ours (kept from Radicale), with the reason a value is refused.
SERVER_OPTIONS: dict[str, Callable[[str], str | None]] = {
    "workers": lambda value: _refusal(worker_count, value)
}
# Options we decide ourselves: a file setting them is told why.
FORCED = {
    ("auth", "type"): "groupware authenticates through [directory] and [accounts]",
    ("rights", "type"): "groupware decides rights itself (admin group in [accounts])",
    ("server", "ssl"): "terminate TLS at a reverse proxy (see README); the server speaks plain HTTP",
}


def patch_radicale() -> None:
    """The one place where Radicale is patched (``tests/unit/test_radicale_patches.py`` guards it).

    Two patches: memoized package versions (below) and a cheap ``logger.trace`` when tracing is off
    (:func:`_fast_trace`).

    ``radicale.utils.package_version`` reads package metadata from disk on every call, and Radicale calls it for
    every ``RADICALE:version`` property and every address book's ``supported-address-data``: about a fifth of the
    CPU time of a small PROPFIND. Installed versions do not change while the process runs, so it is memoized.
    """
    import functools

    import radicale.utils

    if not hasattr(radicale.utils.package_version, "cache_info"):
        radicale.utils.package_version = functools.cache(radicale.utils.package_version)
    _fast_trace()


def _fast_trace() -> None:
    """Radicale's ``logger.trace`` goes through a ``partialmethod`` and ``Logger.log`` even when tracing is off;
    its sharing code calls it for every (item, share) pair of a home listing, half the time of listing 200 shared
    agendas. The replacement asks ``isEnabledFor`` first, as ``Logger.debug`` does, and logs the same records."""
    import radicale.log

    logger = radicale.log.logger
    if getattr(logger.__dict__.get("trace"), "groupware_fast", False):
        return

    def trace(msg: object, *args: object, **kwargs: Any) -> None:
        if logger.isEnabledFor(radicale.log.LOG_LEVEL_TRACE):
            kwargs.setdefault("stacklevel", 2)  # the record names Radicale's caller, not this wrapper
            logger._log(radicale.log.LOG_LEVEL_TRACE, msg, args, **kwargs)

    trace.groupware_fast = True  # type: ignore[attr-defined]
    logger.trace = trace  # type: ignore[method-assign]


def _refusal(parse: Callable[[str], object], value: str) -> str | None:
    try:
        parse(value)
    except ValueError as exc:
        return str(exc)
    return None


def server_workers(config: Config) -> int:
    """``[server] workers``: how many processes serve HTTP (``auto``, the default: one per processor core)."""
    return worker_count(config.radicale_sections.get("server", {}).get("workers", "auto"))


def check_radicale_sections(path: str, sections: Mapping[str, Mapping[str, str]]) -> list[ConfigProblem]:
    """Check every option of Radicale's sections against Radicale's schema, one problem per key."""
    problems: list[ConfigProblem] = []
    probe = radicale.config.load()
    storage_type = sections.get("storage", {}).get("type", RADICALE_DEFAULTS["storage"]["type"])
    for section, options in sections.items():
        if section not in radicale.config.DEFAULT_CONFIG_SCHEMA or section.startswith("_"):
            problems.append(ConfigProblem(path, section, "", "unknown section"))
            continue
        for key, value in options.items():
            if (section, key) in FORCED and not (
                section == "server" and key == "ssl" and value.lower() in ("false", "0", "no", "off")
            ):
                problems.append(
                    ConfigProblem(path, section, key, f"not configurable: {FORCED[section, key]}")
                )
                continue
            ours = (
                STORAGE_OPTIONS
                if section == "storage" and storage_type == RADICALE_DEFAULTS["storage"]["type"]
                else SERVER_OPTIONS
                if section == "server"
                else {}
            )
            if key in ours:
                reason = ours[key](value)
                if reason:
                    problems.append(ConfigProblem(path, section, key, f"invalid value {value!r}: {reason}"))
                continue
            try:
                probe.update({section: {key: value}}, path)
            except (RuntimeError, ValueError) as exc:
                reason = str(exc.__cause__ or str(exc).split(" in section")[0].split(" in config file")[0])
                problems.append(ConfigProblem(path, section, key, f"invalid value {value!r}: {reason}"))
    return problems


def radicale_configuration(config: Config) -> radicale.config.Configuration:
    """Radicale's configuration: its defaults, then ours, then the file's own Radicale sections."""
    configuration = radicale.config.load()
    configuration.update(RADICALE_DEFAULTS, "groupware defaults")
    sections = {name: dict(options) for name, options in config.radicale_sections.items()}
    for key in SERVER_OPTIONS:
        sections.get("server", {}).pop(key, None)
    if sections:
        configuration.update(sections, config.path)
    return configuration


def build_services(config: Config) -> registry.Services:
    """Open the directory, create the accounts and sharing services and install them in the registry.

    Lockouts are counted in the groupware database (the sharing tables' file), so that every worker process of
    ``groupware serve`` and the ManageSieve door count the same failures."""
    directory = open_directory(config.directory)
    database = Database(sharing_database_path(config))
    throttle = DatabaseThrottle(database, config.accounts.failure_window, config.accounts.lockout)
    accounts = Accounts(directory, config.accounts, throttle=throttle)
    services = registry.Services(
        config, directory, accounts, build_sharing(config, directory, accounts, database)
    )
    registry.install(services)
    return services


@dataclass(frozen=True)
class _Target:
    """The collection a whole-collection request reads, and how Radicale reads it (owner, path, map share)."""

    collection: Any
    owner: str
    path: str
    share: dict[str, Any] | None
    href: str  # the collection's href in the answer: its own path, or the share's path in the user's home


class _WholeCollectionAnswers:
    """Fast answers to the requests that return every item of a collection (see :mod:`groupware.fastpath`).

    Used only when the storage's collections can list item facts (``fast_summaries()``, ``fast_query()``), the
    path is a calendar or address book the user may read (their own, or one shared into their home), and the
    request asks nothing that differs per item beyond href, etag, last-modified, content type, length and (for
    queries the index decides exactly) the item's text. Everything else goes to Radicale unchanged.
    """

    _storage: Any
    _rights: Any
    _sharing: Any
    _encoding: str
    _max_resource_size: int

    def _fast_collection(self, path: str, user: str, user_groups: set[str]) -> _Target | None:
        """The readable leaf collection at ``path`` whose items can be summarized, else None.

        A collection shared into the user's home (a map share) is read as Radicale reads it: at its own path, as
        its owner, within the share's permissions, with hrefs mapped back into the home.
        """
        share, owner, target_path, permissions = None, user, path, None
        if self._sharing._enabled:
            share = self._sharing.sharing_collection_resolver(path, user, user_groups)
            if share and path != share["PathMapped"]:
                if share.get("Conversion") not in (None, "none") or not str(share["PathMapped"]).endswith(
                    "/"
                ):
                    return None
                owner, target_path, permissions = share["Owner"], share["PathMapped"], share["Permissions"]
            else:
                share = None
        access = Access(self._rights, owner, user_groups, target_path, permissions)
        if "r" not in access.permissions:
            return None
        collection = next(iter(self._storage.discover(target_path, "0")), None)
        if not isinstance(collection, storage.BaseCollection) or collection.tag not in (
            "VCALENDAR",
            "VADDRESSBOOK",
        ):
            return None
        if (
            not hasattr(collection, "fast_summaries")
            or self._encoding.lower().replace("-", "") != "utf8"
            or not access.check("r", collection)
        ):  # item sizes are counted in UTF-8
            return None
        href = str(share["PathOrToken"]) if share else pathutils.unstrip_path(collection.path, True)
        return _Target(collection, owner, target_path, share, href)

    def _fast_template(
        self,
        target: _Target,
        render: Callable[[list[Any]], ET.Element],
        summaries: list[Any],
        texts: list[str] | None,
        base_prefix: str,
        request_info: dict[str, Any],
    ) -> tuple[str, ResponseTemplate, str] | None:
        """Render the collection and its first item through Radicale; learn the item template from it."""
        collection = target.collection
        first = next(iter(collection.get_multi([summaries[0][0]])), (None, None))[1]
        if first is None:
            return None
        # With the first item once, then twice: the second copy is the template, and the root element already
        # declares every namespace an item response uses. The head then holds the first item's response.
        once = self._xml_response(render([first]), request_info).decode(self._encoding)  # type: ignore[attr-defined]
        twice = self._xml_response(render([first, first]), request_info).decode(  # type: ignore[attr-defined]
            self._encoding
        )
        split = split_document(once, twice)
        facts = self._facts(summaries[:1], texts[:1] if texts is not None else None, base_prefix, target)
        template = ResponseTemplate.learn(split[1], next(iter(facts))) if split else None
        if split is None or template is None:
            log.warning("fast path declined", extra={"event": "fastpath_declined", "path": collection.path})
            return None
        return split[0], template, split[2]

    def _facts(
        self, summaries: list[Any], texts: list[str] | None, base_prefix: str, target: _Target
    ) -> Iterable[tuple[str, ...]]:
        facts = facts_of(summaries, xmlutils.make_href(base_prefix, target.href), self._encoding)
        return facts if texts is None else with_data(facts, texts)

    def _fast_answer(
        self,
        head: str,
        template: ResponseTemplate,
        tail: str,
        facts: Iterable[tuple[str, ...]],
        request_info: dict[str, Any],
        dav_header: bool,
    ) -> radicale_types.WSGIResponse:
        request_info["status"] = client.MULTI_STATUS
        headers = {"Content-Type": f"text/xml; charset={self._encoding}"}
        if dav_header:  # Radicale sends it with PROPFIND answers, not with REPORT answers
            headers = {"DAV": httputils.DAV_HEADERS, **headers}
        body = assemble(head, template.render_all(facts), tail, self._encoding)
        return client.MULTI_STATUS, headers, body, None

    def _fast_whole(
        self,
        path: str,
        user: str,
        user_groups: set[str],
        base_prefix: str,
        request_info: dict[str, Any],
        renderer: Callable[[_Target], Callable[[list[Any]], ET.Element]],
        dav_header: bool,
        listing: Callable[[_Target], _Listing | None] | None = None,
    ) -> radicale_types.WSGIResponse | None:
        """Answer for every item of the collection at ``path`` (or those ``listing(target)`` gives, with their
        texts) from item facts, ``renderer(target)`` building the answer for a few items exactly as Radicale does;
        None when the fast path does not apply."""
        with self._storage.acquire_lock("r", user):
            target = self._fast_collection(path, user, user_groups)
            if target is None:
                return None
            render = renderer(
                target
            )  # before the listing: a sync token never covers more than what is listed
            listed = (list(target.collection.fast_summaries()), None) if listing is None else listing(target)
            if listed is None or len(listed[0]) < 2:
                return None
            summaries, texts = listed
            learned = self._fast_template(target, render, summaries, texts, base_prefix, request_info)
        if learned is None:
            return None
        facts = self._facts(summaries[1:], texts[1:] if texts is not None else None, base_prefix, target)
        return self._fast_answer(learned[0], learned[1], learned[2], facts, request_info, dav_header)

    def _fast_propfind(
        self,
        environ: radicale_types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> radicale_types.WSGIResponse | None:
        """Depth-1 PROPFIND of a whole collection (RFC 4918 §9.1), Radicale's answer built from item facts."""
        xml_request = _parsed_body(environ)
        if (
            xml_request is None
            or len(xml_request) != 1
            or xml_request[0].tag != xmlutils.make_clark("D:prop")
        ):
            return None

        def renderer(target: _Target) -> Callable[[list[Any]], ET.Element]:
            share = target.share
            conversion = share["Conversion"] if share else None
            shares = {share["PathOrToken"]: share} if share else {}

            def render(items: list[Any]) -> ET.Element:  # the arguments Radicale's do_PROPFIND passes
                entries = list(
                    self._collect_allowed_items(  # type: ignore[attr-defined]
                        [target.collection, *items], target.owner, user_groups
                    )
                )
                answer = xml_propfind(
                    self,
                    base_prefix,
                    target.path,
                    xml_request,
                    [(*entry, conversion) for entry in entries],
                    target.owner,
                    self._encoding,
                    max_resource_size=self._max_resource_size,
                    shares=shares,
                )
                assert (
                    answer is not None
                )  # None only for an anonymous current-user-principal; there is a user
                return answer

            return render

        return self._fast_whole(path, user, user_groups, base_prefix, request_info, renderer, dav_header=True)

    def _fast_sync(
        self,
        environ: radicale_types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> radicale_types.WSGIResponse | None:
        """Initial sync-collection (RFC 6578 §3.2, no token) of a whole collection, from item facts."""
        root = _parsed_body(environ)
        if root is None or root.tag != xmlutils.make_clark("D:sync-collection"):
            return None
        token = root.find(xmlutils.make_clark("D:sync-token"))
        props = root.find(xmlutils.make_clark("D:prop"))
        if (
            (token is not None and (token.text or "").strip())
            or props is None
            or any(prop.tag in _CONTENT_PROPERTIES for prop in props)
            or any(root.find(tag) is not None for tag in _FILTERS)
        ):  # Radicale filters a sync-collection too
            return None

        def renderer(target: _Target) -> Callable[[list[Any]], ET.Element]:
            sync_token, _ = target.collection.sync("")

            def render(items: list[Any]) -> ET.Element:  # as Radicale's xml_report builds it
                multistatus = ET.Element(xmlutils.make_clark("D:multistatus"))
                ET.SubElement(multistatus, xmlutils.make_clark("D:sync-token")).text = sync_token
                for item in items:
                    multistatus.append(_item_response(base_prefix, target, item, props, self._encoding))
                return multistatus

            return render

        return self._fast_whole(
            path, user, user_groups, base_prefix, request_info, renderer, dav_header=False
        )

    def _fast_query(
        self,
        environ: radicale_types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> radicale_types.WSGIResponse | None:
        """addressbook-query (RFC 6352 §8.6) or calendar-query (RFC 4791 §7.8) asking getetag, getcontenttype
        and the plain item data, whose filters the store's index decides exactly for every item."""
        root = _parsed_body(environ)
        if root is None or root.tag not in _QUERIES:
            return None
        tag, data_tag = _QUERIES[root.tag]
        props = root.find(xmlutils.make_clark("D:prop"))
        filters = [child for child in root if child.tag in _FILTERS]
        if (
            props is None
            or not len(props)
            or not filters
            or len({prop.tag for prop in props}) != len(props)
            or any(
                prop.tag not in (*_PLAIN_PROPERTIES, data_tag) or len(prop) or prop.attrib for prop in props
            )
            or any(child.tag not in (props.tag, *_FILTERS) for child in root)
            or len(root.findall(props.tag)) != 1
            or _asks_more(root, props)
        ):
            return None
        with_text = any(prop.tag == data_tag for prop in props)
        limit = self.configuration.get("reporting", "max_expand_occurrence")  # type: ignore[attr-defined]

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
            if (
                with_text
                and limit
                and sum(  # Radicale's limit on the events it serves, counted as it counts
                    1 for text in texts for line in text.splitlines() if line.upper() == "BEGIN:VEVENT"
                )
                > limit
            ):
                return None
            return [summary for summary, _ in found], texts if with_text else None

        def renderer(target: _Target) -> Callable[[list[Any]], ET.Element]:
            def render(items: list[Any]) -> ET.Element:  # as Radicale's xml_report builds it
                multistatus = ET.Element(xmlutils.make_clark("D:multistatus"))
                for item in items:
                    multistatus.append(_item_response(base_prefix, target, item, props, self._encoding))
                return multistatus

            return render

        return self._fast_whole(
            path, user, user_groups, base_prefix, request_info, renderer, dav_header=False, listing=listing
        )


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
_Listing = tuple[list[Any], list[str] | None]


def _asks_more(root: ET.Element, props: ET.Element) -> bool:
    """Whether a query asks what Radicale or the address-book door look for anywhere in the body (an expansion,
    a data element with a version or parts: RFC 4791 §9.6, RFC 6352 §10.4) beyond ``props``' plain ones."""
    return any(
        element.tag == _EXPAND
        or (
            element.tag in _CONTENT_PROPERTIES
            and (len(element) or element.attrib or not any(element is prop for prop in props))
        )
        for element in root.iter()
    )


_PARSED_BODY = "groupware.parsed_body"


def _parsed_body(environ: radicale_types.WSGIEnviron) -> ET.Element | None:
    """The request body as XML, read and parsed once per request (and put back for Radicale to read again).

    None when there is no body, it is compressed, it is not XML, or it declares a DTD or entities (defusedxml
    refuses them; Radicale's own reader then answers 400, see ``_read_xml_request_body``).
    """
    import defusedxml
    import defusedxml.ElementTree as DefusedET

    environ = cast(dict[str, Any], environ)  # WSGI hands a dict (PEP 3333); Radicale types it as a Mapping
    if _PARSED_BODY in environ:
        return environ[_PARSED_BODY]  # type: ignore[no-any-return]
    parsed = None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > 0 and not environ.get("HTTP_CONTENT_ENCODING"):
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            parsed = DefusedET.fromstring(body)
        except (ET.ParseError, defusedxml.DefusedXmlException, ValueError):
            parsed = None
    environ[_PARSED_BODY] = parsed
    return parsed


def _item_response(
    base_prefix: str, target: _Target, item: Any, props: ET.Element, encoding: str
) -> ET.Element:
    """One item of a REPORT answer (sync-collection, queries), built the way Radicale's ``xml_report`` builds it."""
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
    return xml_item_response(
        base_prefix, uri, found_props=found, not_found_props=not_found, found_item=True, share=target.share
    )


class GroupwareApplication(_WholeCollectionAnswers, SharingAnswers, AddressBookAnswers, radicale.Application):
    """Radicale's WSGI application with what groupware adds at the HTTP edge.

    * a directory outage for a login not in the cache answers ``503 Service Unavailable`` with ``Retry-After``
      (RFC 9110 §15.6.4, §10.2.3) instead of a 500;
    * principal responses carry the person's ``mailto:`` address and name from the directory.
    """

    def __init__(self, configuration: radicale.config.Configuration, services: registry.Services) -> None:
        self._services = services
        self._fast_paths = True
        super().__init__(configuration)
        self._attach_sharing(
            services.sharing,
            self._storage,
            services.directory,
            services.accounts,
            services.config.directory.cache_ttl,
        )

    def _handle_request(
        self, environ: radicale_types.WSGIEnviron
    ) -> tuple[str, list[tuple[str, str]], Iterable[bytes]]:
        try:
            api_answer = self._api_request(cast(dict[str, Any], environ), self._services.accounts)
            if api_answer is not None:
                return api_answer
            return super()._handle_request(environ)  # type: ignore[no-any-return]
        except DirectoryUnavailable as exc:
            log.error("directory unavailable", extra={"event": "directory_down", "error": str(exc)})
            body = b"The directory is unreachable; please retry later.\n"
            status = f"{client.SERVICE_UNAVAILABLE} {client.responses[client.SERVICE_UNAVAILABLE]}"
            headers = [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Retry-After", str(exc.retry_after)),
            ]
            return status, headers, [body]

    def do_PROPFIND(
        self,
        environ: radicale_types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> radicale_types.WSGIResponse:
        """RFC 4918 §9.1; a depth-1 listing of a whole collection takes the fast path when it can."""
        if environ.get("HTTP_DEPTH") == "1" and self._fast_paths and user:
            answer = self._fast_propfind(environ, base_prefix, path, user, user_groups, request_info)
            if answer is not None:
                return answer
        return super().do_PROPFIND(
            environ,
            base_prefix,
            path,
            user,
            user_groups,  # type: ignore[no-any-return]
            request_info,
        )

    def do_REPORT(
        self,
        environ: radicale_types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> radicale_types.WSGIResponse:
        """RFC 3253 §3.6; an initial sync-collection of a whole collection, and queries the index decides, take
        the fast path when they can; principal searches (RFC 3744 §9.4, §9.5) are answered from the directory."""
        principal_answer = self._principal_report(
            cast(dict[str, Any], environ), base_prefix, user, request_info
        )
        if principal_answer is not None:
            return principal_answer
        if self._fast_paths and user:
            answer = self._fast_sync(
                environ, base_prefix, path, user, user_groups, request_info
            ) or self._fast_query(environ, base_prefix, path, user, user_groups, request_info)
            if answer is not None:
                return answer
        status, headers, answer, xml_request = super().do_REPORT(
            environ, base_prefix, path, user, user_groups, request_info
        )
        if status == client.FORBIDDEN and isinstance(answer, bytes) and b"valid-sync-token" in answer:
            # RFC 6578 §3.2 says 403 with DAV:valid-sync-token; Thunderbird starts over only on 400 (and loses
            # its address-book sync on 403), DAVx5 reads the error element whatever the status.
            status = request_info["status"] = client.BAD_REQUEST
        return status, headers, answer, xml_request

    def _read_xml_request_body(
        self, environ: radicale_types.WSGIEnviron, request_info: dict[str, Any]
    ) -> ET.Element | None:
        """Radicale's reader, with a DTD or entity declaration answered 400 like any bad XML (it raised a 500).

        A body the edge has already parsed (``_parsed_body``) is not parsed again.
        """
        import defusedxml

        parsed = environ.get(_PARSED_BODY)
        if parsed is not None:
            return parsed  # type: ignore[no-any-return]
        try:
            return super()._read_xml_request_body(environ, request_info)  # type: ignore[no-any-return]
        except defusedxml.DefusedXmlException as exc:
            raise RuntimeError(f"refused XML: {exc}") from exc

    def _xml_response(self, xml_content: ET.Element, request_info: dict[str, Any]) -> bytes:
        path = str(request_info.get("path", ""))
        if path.count("/") <= 2:  # the root or a principal: cheap to inspect
            try:
                enrich_multistatus(xml_content, self._services.accounts.person)
            except DirectoryUnavailable as exc:  # the answer stays valid without the directory's extras
                log.warning("principal not enriched", extra={"event": "directory_down", "error": str(exc)})
        return super()._xml_response(xml_content, request_info)  # type: ignore[no-any-return]


def make_app(config: Config) -> GroupwareApplication:
    """Build the services and the WSGI application for ``config``."""
    patch_radicale()
    services = build_services(config)
    return GroupwareApplication(radicale_configuration(config), services)
