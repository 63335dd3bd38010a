# SPDX-License-Identifier: GPL-3.0-or-later
"""The DAV application: Radicale's WSGI ``Application`` with groupware's responders in front of it.

For each method it handles itself, the application tries an explicit, ordered list of responders
(:class:`~groupware.dav.request.Responder`); the first that answers wins, and Radicale answers when none does.
Every XML document it serializes passes an ordered list of rewriters. The lists, in order:

* PROPFIND: the depth-1 listing of a whole collection from item facts (:mod:`groupware.dav.collections`);
* REPORT: the CALDAV:valid-filter check of a calendar-query (:mod:`groupware.dav.validity`), principal
  searches from the directory (:mod:`groupware.dav.people`), the initial sync-collection and the queries the
  index decides (:mod:`groupware.dav.collections`), the vCard 4.0 mark (:mod:`groupware.dav.vcard4`); then
  Radicale, whose 403 for an unknown sync token becomes 400, and whose items are screened by the storage
  (:mod:`groupware.dav.screening`: an item that cannot be evaluated is left out; a query over its time bound
  answers 507, a range beyond computable dates 403);
* PROPPATCH, MKCOL, MKCALENDAR: the property size limits (:mod:`groupware.dav.limits`);
* PUT: calendar objects and vCards within bounds and readable back (:mod:`groupware.dav.item_data`);
* rewriters: principals enriched from the directory, vCard 4.0 cards and advertisement.

The fixes where Radicale's answers differ from the RFCs come first in their method's list, one module per
RFC: :mod:`groupware.dav.rfc4918` (conditional requests on every method, PROPFIND ``Depth: infinity``,
protected properties, MKCOL under a missing parent, PUT onto a collection), :mod:`groupware.dav.rfc4918_copy`
(COPY), :mod:`groupware.dav.rfc4791` (calendar object resources on PUT) and :mod:`groupware.dav.rfc6578`
(sync-collection); :mod:`groupware.dav.discovery` rewrites the root's listing. Finishers then adjust the
answer of a method, whoever gave it (DELETE answers 204). CardDAV (RFC 6352) beyond Radicale comes from
:mod:`groupware.dav.rfc6352`: its responders go first in PROPFIND, REPORT and PUT, its rewriters last, and its
finishers complete the answers to PUT (the precondition elements), DELETE, PROPPATCH, MKCOL
(``DAV:need-privileges``) and GET (vCard 4.0 on request).

:func:`make_app` wraps the application in the agenda API middleware (:mod:`groupware.dav.agenda_api`), and
that in the operations middleware (:mod:`groupware.dav.operations`: the page at ``/``, the health check),
and that in the trusted proxies' layer (:mod:`groupware.dav.forwarded`), outermost, so that both see the
real client. The one override of Radicale's ``_handle_request`` codes every answer once
(:mod:`groupware.dav.encoding`: gzip at a measured level, streamed whole collections) and serves two checks,
since Radicale turns every exception into a
500 before a middleware could see it: malformed Basic credentials answer 401
(:mod:`groupware.dav.credentials`) and a directory outage 503 (:mod:`groupware.dav.outage`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from http import client
from typing import Any, Protocol

import defusedxml
import radicale.config
from radicale import types as radicale_types

from groupware.accounts import Accounts
from groupware.config import Config
from groupware.dav.agenda_api import AgendaApiMiddleware, WsgiApp, agenda_store
from groupware.dav.body import LIMITS, already_parsed, parsed_body, shape_problem
from groupware.dav.budget import RequestCancelled, cancelled_answer, request_budget
from groupware.dav.collections import ListingResponder, QueryResponder, SyncResponder
from groupware.dav.configuration import radicale_configuration
from groupware.dav.credentials import basic_credentials_problem, unauthorized
from groupware.dav.discovery import RootListingRewriter
from groupware.dav.encoding import finish, inner, materialized, take_coding
from groupware.dav.forwarded import ForwardedMiddleware, proxies_from
from groupware.dav.item_data import ItemDataResponder
from groupware.dav.limits import PropertyLimitResponder
from groupware.dav.operations import OperationsMiddleware
from groupware.dav.outage import WsgiAnswer, busy, unavailable, wsgi_answer
from groupware.dav.people import PrincipalRewriter, PrincipalSearchResponder
from groupware.dav.principal_search import PeopleIndex
from groupware.dav.request import Answer, DavRequest, Finisher, Responder, Rewriter
from groupware.dav.rfc4791 import CalendarObjectResponder
from groupware.dav.rfc4918 import (
    CollectionPutResponder,
    ConditionalResponder,
    FiniteDepthResponder,
    MissingParentResponder,
    ProtectedPropertyResponder,
    announce_access_control,
    finish_delete,
)
from groupware.dav.rfc4918_copy import CopyResponder, MoveResponder
from groupware.dav.rfc4918_item_props import ItemPropertyCleaner, ItemPropertyResponder, ItemPropertyRewriter
from groupware.dav.rfc4918_props import DeadPropertyResponder, DeadPropertyRewriter
from groupware.dav.rfc6352 import (
    BookProperties,
    NeedPrivileges,
    PutPreconditions,
    QueryPreconditions,
    UidConflict,
    VCardNegotiation,
)
from groupware.dav.rfc6578 import SyncCollectionResponder, result_limit
from groupware.dav.rfc6578_limit import LimitedSyncResponder
from groupware.dav.screening import QueryTooLong, beyond_bounds, every_item_read, reads_every_item
from groupware.dav.streaming import AnswerCache
from groupware.dav.upstream import Application, Internals, patch_radicale
from groupware.dav.validity import FilterCheckResponder
from groupware.dav.vcard4 import VCard4Responder, VCard4Rewriter
from groupware.directory.cache import CachedDirectory
from groupware.errors import DirectoryUnavailable
from groupware.sharing import SharingService
from groupware.sharing.api import AgendaApi
from groupware.store.database import Database
from groupware.store.errors import StoreBusy

__all__ = ["ANSWER_CACHE_BYTES", "DavServices", "GroupwareApplication", "make_app"]

#: Bytes of compressed whole-collection answers kept per process (a 52,000-card listing is about 2 MB).
ANSWER_CACHE_BYTES = 64 * 1024 * 1024


class DavServices(Protocol):
    """What the DAV edge needs of the running services (:class:`groupware.runtime.services.Services`)."""

    @property
    def config(self) -> Config: ...

    @property
    def directory(self) -> CachedDirectory: ...

    @property
    def accounts(self) -> Accounts: ...

    @property
    def sharing(self) -> SharingService: ...

    @property
    def database(self) -> Database: ...


def _responding(method: str) -> Callable[..., Answer]:
    """The handler of ``method``: the first responder's answer, else Radicale's ``do_<method>``."""

    def handler(
        self: GroupwareApplication,
        environ: radicale_types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> Answer:
        request = DavRequest(environ, base_prefix, path, user, user_groups, request_info)
        try:
            answer = self._respond(method, request)
            if answer is None:
                answer = getattr(super(GroupwareApplication, self), f"do_{method}", _not_allowed)(
                    environ, base_prefix, path, user, user_groups, request_info
                )
        except StoreBusy as exc:
            return busy(exc)
        return self._finish(method, request, answer)

    handler.__name__ = handler.__qualname__ = f"do_{method}"
    return handler


def _not_allowed(*_args: Any) -> Answer:
    """The answer to a method Radicale does not implement."""
    return client.METHOD_NOT_ALLOWED, {"Content-Type": "text/plain; charset=utf-8"}, b"", None


class GroupwareApplication(Application):
    """Radicale's WSGI application with groupware's responders and rewriters (see the module docstring)."""

    def __init__(self, configuration: radicale.config.Configuration, services: DavServices) -> None:
        super().__init__(configuration)
        self.services = services
        self.internals = Internals(self)
        services.sharing.store = agenda_store(self.internals.storage)
        #: Compressed whole-collection answers, shared by the three responders (see dav/streaming.py).
        self.answers = AnswerCache(ANSWER_CACHE_BYTES)
        self.whole_collections = (
            ListingResponder(self.internals, self.answers),
            SyncResponder(self.internals, self.answers),
            QueryResponder(self.internals, self.answers),
        )
        people = PeopleIndex(
            services.directory.iter_people,
            services.accounts.user_name,
            max(services.config.directory.cache_ttl, 60.0),
        )
        listing, sync, query = self.whole_collections
        limit = PropertyLimitResponder()
        conditional, parent = ConditionalResponder(self.internals), MissingParentResponder(self.internals)
        dead = DeadPropertyResponder()
        self.responders: dict[str, list[Responder]] = {
            "PROPFIND": [FiniteDepthResponder(self.internals), conditional, listing],
            "REPORT": [
                conditional,
                FilterCheckResponder(),
                PrincipalSearchResponder(people, self.internals),
                SyncCollectionResponder(self.internals),
                LimitedSyncResponder(self.internals, self._dispatch, result_limit),
                sync,
                query,
            ],
            "PROPPATCH": [
                conditional,
                ProtectedPropertyResponder(self.internals),
                limit,
                ItemPropertyResponder(self.internals),
                dead,
            ],
            "MKCOL": [conditional, parent, limit, dead],
            "MKCALENDAR": [conditional, parent, limit, dead],
            "PUT": [
                conditional,
                CollectionPutResponder(self.internals),
                CalendarObjectResponder(self.internals),
                ItemDataResponder(self.internals),
            ],
            **{method: [conditional] for method in ("GET", "HEAD", "DELETE")},
            "MOVE": [conditional, MoveResponder(self.internals)],
            "COPY": [conditional, CopyResponder(self.internals, self._dispatch)],
        }
        self.finishers: dict[str, list[Finisher]] = {
            "DELETE": [ItemPropertyCleaner(self.internals), finish_delete]
        }
        self.rewriters: list[Rewriter] = [
            PrincipalRewriter(services.accounts),
            RootListingRewriter(),
            DeadPropertyRewriter(),
            ItemPropertyRewriter(self.internals),
        ]
        section = services.config.addressbooks
        if section.enabled:
            self.responders["REPORT"].append(VCard4Responder())
            self.rewriters.append(VCard4Rewriter(section.owner))
        self._carddav()  # after VCard4Rewriter: the academic cards are converted once, by the sync's rules

    def _carddav(self) -> None:
        """The RFC 6352 responders first, rewriters and finishers (:mod:`groupware.dav.rfc6352`)."""
        collations, queries = BookProperties(self.internals), QueryPreconditions(self.internals)
        self.responders["PROPFIND"].insert(0, collations)
        self.responders["REPORT"].insert(0, queries)
        put = PutPreconditions(self.internals)
        self.responders["PUT"].insert(0, put)
        self.rewriters += [collations, queries]
        privileges, uid_conflict = NeedPrivileges(), UidConflict(self.internals)
        finishers: dict[str, list[Finisher]] = {
            "PUT": [put, uid_conflict, privileges],
            "MOVE": [uid_conflict],
            "DELETE": [privileges],
            "PROPPATCH": [privileges],
            "MKCOL": [privileges],
            "GET": [VCardNegotiation()],
        }
        for method, added in finishers.items():
            self.finishers.setdefault(method, []).extend(added)

    @property
    def fast_paths(self) -> bool:
        """Whether whole-collection answers are built from item facts (tests compare both ways)."""
        return all(responder.enabled for responder in self.whole_collections)

    @fast_paths.setter
    def fast_paths(self, enabled: bool) -> None:
        for responder in self.whole_collections:
            responder.enabled = enabled

    def _dispatch(self, method: str, request: DavRequest, environ: dict[str, Any], path: str) -> Answer:
        """One inner request of ``request``'s user (a COPY's GET and PUT, a page of a limited sync), through
        this application; its answer's body is bytes, uncompressed."""
        inner(environ)
        handler = getattr(self, f"do_{method}")
        answer: Answer = handler(
            environ, request.base_prefix, path, request.user, request.user_groups, request.request_info
        )
        return materialized(environ, answer)

    def _finish(self, method: str, request: DavRequest, answer: Answer) -> Answer:
        for finisher in self.finishers.get(method, ()):
            answer = finisher(request, answer)
        return answer

    def _respond(self, method: str, request: DavRequest) -> Answer | None:
        for responder in self.responders.get(method, ()):
            answer = responder.answer(request)
            if answer is not None:
                return answer
        return None

    def _handle_request(self, environ: radicale_types.WSGIEnviron) -> WsgiAnswer:
        limits = self.services.config.limits
        environ[LIMITS] = limits  # type: ignore[index]  # WSGI hands a dict (PEP 3333)
        problem = basic_credentials_problem(environ)
        if problem is not None:
            return unauthorized(problem, str(self.configuration.get("auth", "realm")))
        take_coding(environ)
        try:
            with request_budget(environ, limits.max_request_seconds):
                status, headers, answers = super()._handle_request(environ)
            return finish(environ, (status, announce_access_control(headers), answers))
        except DirectoryUnavailable as exc:
            return unavailable(exc)
        except StoreBusy as exc:  # a lockout or grant written while logging in
            return wsgi_answer(busy(exc))
        except RequestCancelled as exc:
            method, path = str(environ.get("REQUEST_METHOD", "")), str(environ.get("PATH_INFO", ""))
            return wsgi_answer(cancelled_answer(exc, method, path))

    # The responders of each method, then Radicale's handler: PROPFIND (RFC 4918 §9.1), PROPPATCH (§9.2),
    # MKCOL (§9.3, RFC 5689 §3), MKCALENDAR (RFC 4791 §5.3.1), PUT (RFC 4918 §9.7, RFC 4791 §5.3.2,
    # RFC 6352 §6.3.2).
    # The other methods have no responder: their handler answers a busy database 503 like the others.
    do_PROPFIND = _responding("PROPFIND")
    do_PROPPATCH = _responding("PROPPATCH")
    do_MKCOL = _responding("MKCOL")
    do_MKCALENDAR = _responding("MKCALENDAR")
    do_PUT = _responding("PUT")
    do_DELETE = _responding("DELETE")
    do_GET = _responding("GET")
    do_HEAD = _responding("HEAD")
    do_MOVE = _responding("MOVE")
    do_POST = _responding("POST")
    do_COPY = _responding("COPY")  # RFC 4918 §9.8 (Radicale has no COPY)

    def do_REPORT(
        self,
        environ: radicale_types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> Answer:
        """RFC 3253 §3.6, after the REPORT responders."""
        request = DavRequest(environ, base_prefix, path, user, user_groups, request_info)
        answer = self._respond("REPORT", request)
        if answer is not None:
            return self._finish("REPORT", request, answer)
        try:
            with every_item_read(reads_every_item(parsed_body(environ))):
                status, headers, body, xml_request = super().do_REPORT(
                    environ, base_prefix, path, user, user_groups, request_info
                )
        except (QueryTooLong, OverflowError) as exc:
            return beyond_bounds(exc, request_info)
        except StoreBusy as exc:
            return busy(exc)
        if status == client.FORBIDDEN and isinstance(body, bytes) and b"valid-sync-token" in body:
            # RFC 6578 §3.2 says 403 with DAV:valid-sync-token; Thunderbird starts over only on 400 (and loses
            # its address-book sync on 403), DAVx5 reads the error element whatever the status.
            status = request_info["status"] = client.BAD_REQUEST
        return self._finish("REPORT", request, (status, headers, body, xml_request))

    def _read_xml_request_body(
        self, environ: radicale_types.WSGIEnviron, request_info: dict[str, Any]
    ) -> ET.Element | None:
        """Radicale's reader, with a DTD or entity declaration, or a body nested too deep or too large
        (:func:`groupware.dav.body.shape_problem`), answered 400 like any bad XML (they raised a 500).

        A body a responder has already parsed (:func:`groupware.dav.body.parsed_body`) is not parsed again.
        """
        parsed = already_parsed(environ)
        if parsed is not None:
            return parsed
        try:
            upstream: ET.Element | None = super()._read_xml_request_body(environ, request_info)
        except defusedxml.DefusedXmlException as exc:
            raise RuntimeError(f"refused XML: {exc}") from exc
        problem = None if upstream is None else shape_problem(upstream, self.services.config.limits)
        if problem is not None:
            raise RuntimeError(f"refused XML: {problem}")
        return upstream

    def _xml_response(self, xml_content: ET.Element, request_info: dict[str, Any]) -> bytes:
        for rewriter in self.rewriters:
            rewriter.rewrite(xml_content, request_info)
        upstream: bytes = super()._xml_response(xml_content, request_info)
        return upstream


def make_app(services: DavServices) -> tuple[WsgiApp, GroupwareApplication]:
    """The WSGI application serving ``services`` (the real client behind trusted proxies, then the operations
    pages, then the agenda API in front of DAV), and the DAV application."""
    patch_radicale()
    dav = GroupwareApplication(radicale_configuration(services.config, services), services)
    api = AgendaApiMiddleware(dav, AgendaApi(services.sharing), services.accounts)
    proxies = proxies_from(services.config.radicale_sections.get("server", {}))
    return ForwardedMiddleware(OperationsMiddleware(api, services), proxies), dav
