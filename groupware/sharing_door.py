# SPDX-License-Identifier: GPL-3.0-or-later
"""Composition root for sharing: opens the grants database beside the storage engine's, gives the sharing core
storage callbacks over Radicale's storage, and answers, in front of Radicale, what it does not answer itself:

* the agenda administration API (:mod:`groupware.sharing.api`) under ``/.groupware/api/v1/agendas``, with HTTP
  Basic authentication (RFC 7617) through the accounts layer: ``401`` with ``WWW-Authenticate`` without valid
  credentials, ``403`` for members outside the admin group;
* principal searches (RFC 3744 §9.4 ``DAV:principal-property-search``, §9.5 ``DAV:principal-search-property-set``)
  from the directory (:mod:`groupware.principal_search`), for authenticated users only.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from http import client
from typing import Any

from radicale import pathutils, storage

from groupware.accounts import Accounts
from groupware.config import Config, storage_database
from groupware.directory.cache import CachedDirectory
from groupware.errors import AuthenticationError
from groupware.principal_search import PeopleIndex, is_principal_search, search_property_set, search_response
from groupware.sharing import AgendaStore, SharingDatabase, SharingPolicy, SharingService
from groupware.sharing.api import PREFIX, AgendaApi, Caller
from groupware.store.database import Database

__all__ = [
    "API_PREFIX",
    "SharingAnswers",
    "agenda_store",
    "build_sharing",
    "command_line_service",
    "sharing_database_path",
]

log = logging.getLogger("groupware.sharing")

API_PREFIX = PREFIX
CALENDAR_PROPS = {"tag": "VCALENDAR", "C:supported-calendar-component-set": "VEVENT,VTODO"}


def sharing_database_path(config: Config) -> str:
    """``[sharing] database``, else the storage engine's file (:func:`groupware.config.storage_database`)."""
    return config.sharing.database or storage_database(config)


def build_sharing(
    config: Config, directory: CachedDirectory, accounts: Accounts, database: Database | None = None
) -> SharingService:
    """The sharing service of a running groupware (its storage callbacks are attached by the application), on
    ``database`` (default: :func:`sharing_database_path`)."""
    policy = SharingPolicy.from_options(
        {
            "max_person_level": config.sharing.max_person_level,
            "max_group_level": config.sharing.max_group_level,
            "max_domain_level": config.sharing.max_domain_level,
            "people_may_share": config.sharing.people_may_share,
        }
    )
    tables = SharingDatabase(database or sharing_database_path(config))
    return SharingService(tables, directory, policy, config.accounts.admin_group, accounts.user_name)


def command_line_service(config: Config) -> SharingService:
    """The sharing service for ``groupware agenda …``: directory, database and Radicale's storage, no server."""
    from groupware import server

    services = server.build_services(config)
    assert services.sharing is not None
    services.sharing.store = agenda_store(storage.load(server.radicale_configuration(config)))
    return services.sharing


def agenda_store(radicale_storage: storage.BaseStorage) -> AgendaStore:
    """Storage callbacks for the sharing core over a Radicale storage (create, delete, test a calendar)."""

    def exists(path: str) -> bool:
        with radicale_storage.acquire_lock("r"):
            return next(iter(radicale_storage.discover(path)), None) is not None

    def create(path: str, title: str) -> None:
        with radicale_storage.acquire_lock("w"):
            parent = pathutils.parent_path(path)
            if next(iter(radicale_storage.discover(parent)), None) is None:
                radicale_storage.create_collection(parent)
            radicale_storage.create_collection(path, props={**CALENDAR_PROPS, "D:displayname": title})

    def delete(path: str) -> None:
        with radicale_storage.acquire_lock("w"):
            collection = next(iter(radicale_storage.discover(path)), None)
            if isinstance(collection, storage.BaseCollection):
                collection.delete()

    return AgendaStore(create=create, delete=delete, exists=exists)


def basic_caller(environ: dict[str, Any], accounts: Accounts) -> Caller:
    """The caller of an API request from its ``Authorization: Basic`` header (RFC 7617), or an anonymous one."""
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return Caller(None)
    try:
        login, _, password = base64.b64decode(token.strip()).decode("utf-8").partition(":")
        account = accounts.authenticate(login, password, str(environ.get("REMOTE_ADDR", "")))
    except (binascii.Error, UnicodeDecodeError, AuthenticationError):
        return Caller(None)
    return Caller(account.user, frozenset(account.groups))


class SharingAnswers:
    """Mixin for the WSGI application: the agenda API and the principal searches in front of Radicale."""

    _agenda_api: AgendaApi | None = None
    _people: PeopleIndex | None = None

    def _attach_sharing(
        self,
        service: SharingService | None,
        radicale_storage: storage.BaseStorage,
        directory: CachedDirectory,
        accounts: Accounts,
        ttl: float,
    ) -> None:
        if service is not None:
            service.store = agenda_store(radicale_storage)
            self._agenda_api = AgendaApi(service)
        self._people = PeopleIndex(directory.iter_people, accounts.user_name, max(ttl, 60.0))

    def _principal_report(
        self, environ: dict[str, Any], base_prefix: str, user: str, request_info: dict[str, Any]
    ) -> tuple[int, dict[str, str], bytes, None] | None:
        """RFC 3744 §9.4/§9.5 reports from the directory; ``None`` for any other REPORT."""
        from groupware.server import _parsed_body  # the root's body reader (read once, put back for Radicale)

        root = _parsed_body(environ)
        if self._people is None or not is_principal_search(root):
            return None
        assert root is not None
        if not user:
            return client.UNAUTHORIZED, {"WWW-Authenticate": 'Basic realm="groupware"'}, b"", None
        if root.tag.endswith("principal-search-property-set"):
            status, answer = client.OK, search_property_set()
        else:
            status, answer = client.MULTI_STATUS, search_response(root, self._people, base_prefix)
        request_info["status"] = status
        body = self._xml_response(answer, request_info)  # type: ignore[attr-defined]
        return status, {"Content-Type": "text/xml; charset=utf-8"}, body, None

    def _api_request(
        self, environ: dict[str, Any], accounts: Accounts
    ) -> tuple[str, list[tuple[str, str]], list[bytes]] | None:
        """The answer to an API request, or ``None`` when the path is not the API's."""
        path = str(environ.get("PATH_INFO", ""))
        if self._agenda_api is None or not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            return None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        caller = basic_caller(environ, accounts)
        status, answer = self._agenda_api.handle(
            str(environ.get("REQUEST_METHOD", "GET")),
            path,
            str(environ.get("QUERY_STRING", "")),
            body,
            caller,
        )
        log.info(
            "agenda API", extra={"event": "agenda_api", "user": caller.user, "status": status, "path": path}
        )
        data = json.dumps(answer, ensure_ascii=False, indent=1).encode("utf-8")
        headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))]
        if status == client.UNAUTHORIZED:
            headers.append(("WWW-Authenticate", 'Basic realm="groupware", charset="UTF-8"'))
        return f"{status} {client.responses[status]}", headers, [data]
