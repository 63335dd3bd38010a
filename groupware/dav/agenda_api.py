# SPDX-License-Identifier: GPL-3.0-or-later
"""The agenda administration API (:mod:`groupware.sharing.api`) under ``/.groupware/api/v1/agendas``, as WSGI
middleware in front of the DAV application, and the sharing core's storage callbacks over Radicale's storage.

Requests authenticate with HTTP Basic (RFC 7617) through the accounts layer: ``401`` with ``WWW-Authenticate``
without valid credentials, ``403`` for members outside the admin group; a directory outage answers ``503``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Iterable
from http import client
from typing import Any

from radicale import pathutils, storage

from groupware.accounts import Accounts
from groupware.dav.credentials import basic_credentials_problem
from groupware.dav.outage import busy, unavailable, wsgi_answer
from groupware.errors import AuthenticationError, DirectoryUnavailable
from groupware.sharing import AgendaStore
from groupware.sharing.api import PREFIX, AgendaApi, Caller
from groupware.store.errors import StoreBusy

__all__ = ["API_PREFIX", "AgendaApiMiddleware", "agenda_store", "basic_caller"]

log = logging.getLogger("groupware.sharing")

API_PREFIX = PREFIX
#: The largest request body the API reads (its JSON objects hold a few short fields).
MAX_BODY = 64 * 1024
CALENDAR_PROPS = {"tag": "VCALENDAR", "C:supported-calendar-component-set": "VEVENT,VTODO"}
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


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
    """The caller of an API request from its ``Authorization: Basic`` header (RFC 7617), or an anonymous one.

    Raises:
        DirectoryUnavailable: the directory cannot check the credentials.
    """
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or basic_credentials_problem(environ) is not None:
        return Caller(None)
    try:
        login, _, password = base64.b64decode(token.strip()).decode("utf-8").partition(":")
        account = accounts.authenticate(login, password, str(environ.get("REMOTE_ADDR", "")))
    except (binascii.Error, UnicodeDecodeError, AuthenticationError):
        return Caller(None)
    return Caller(account.user, frozenset(account.groups))


class AgendaApiMiddleware:
    """WSGI middleware: requests under :data:`API_PREFIX` go to the agenda API, all others to ``app``."""

    def __init__(self, app: WsgiApp, api: AgendaApi, accounts: Accounts) -> None:
        self.app, self.api, self.accounts = app, api, accounts

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            return self.app(environ, start_response)
        body: Iterable[bytes]
        try:
            status, headers, body = self._answer(environ, path)
        except DirectoryUnavailable as exc:
            status, headers, body = unavailable(exc)
        except StoreBusy as exc:
            status, headers, body = wsgi_answer(busy(exc))
        start_response(status, headers)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else body

    def _answer(self, environ: dict[str, Any], path: str) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        caller = basic_caller(environ, self.accounts)
        method = str(environ.get("REQUEST_METHOD", "GET"))
        length = str(environ.get("CONTENT_LENGTH") or "0")
        if not length.isdigit():
            status, answer = client.BAD_REQUEST, {"error": "invalid Content-Length", "status": 400}
        elif int(length) > MAX_BODY:
            status, answer = (
                client.REQUEST_ENTITY_TOO_LARGE,
                {"error": f"body over {MAX_BODY} octets", "status": 413},
            )
        else:
            body = environ["wsgi.input"].read(int(length)) if int(length) > 0 else b""
            query = str(environ.get("QUERY_STRING", ""))
            status, answer = self.api.handle(method, path, query, body, caller)
        log.info(
            "agenda API", extra={"event": "agenda_api", "user": caller.user, "status": status, "path": path}
        )
        data = json.dumps(answer, ensure_ascii=False, indent=1).encode("utf-8")
        headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))]
        if status == client.UNAUTHORIZED:
            headers.append(("WWW-Authenticate", 'Basic realm="groupware", charset="UTF-8"'))
        return f"{status} {client.responses[status]}", headers, [data]
