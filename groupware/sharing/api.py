# SPDX-License-Identifier: GPL-3.0-or-later
"""The agenda administration API: JSON over HTTP (RFC 8259, RFC 9110), for members of the admin group.

Routes under ``/.groupware/api/v1/agendas`` (the composition root mounts them and authenticates the caller)::

    GET    /agendas                               list (optionally ?owner=etab-0341234A)
    POST   /agendas              {"path", "title"} create an organisation agenda          → 201
    POST   /agendas/provision                      one agenda per établissement group     → 200
    GET    /agendas/<owner>/<name>                 the agenda and its grants
    DELETE /agendas/<owner>/<name>                 delete it, its grants and its collection
    POST   /agendas/<owner>/<name>/grants  {"grantee", "level"}   grant (replaces a previous grant)
    DELETE /agendas/<owner>/<name>/grants/<grantee>               revoke (grantee URL-encoded)

Errors are ``{"error": message, "status": code}``: 400 malformed, 401 not authenticated, 403 not an admin or
beyond policy, 404 unknown agenda/person/group, 405 wrong method, 409 agenda exists. Sans-IO: a request is
(method, path, query, body, caller) and an answer is (status, JSON object); no HTTP server here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from groupware.sharing.model import Agenda, Grant, SharingError
from groupware.sharing.provision import provision
from groupware.sharing.service import ORGANISATION, SharingService

__all__ = ["PREFIX", "AgendaApi", "Caller", "agenda_json", "grant_json"]

PREFIX = "/.groupware/api/v1/agendas"

Answer = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class Caller:
    """Who calls: ``None`` user when not authenticated."""

    user: str | None
    groups: frozenset[str] = frozenset()


def agenda_json(agenda: Agenda) -> dict[str, Any]:
    """An agenda as the API shows it."""
    return {
        "path": agenda.path,
        "owner": agenda.owner,
        "kind": agenda.kind,
        "title": agenda.title,
        "slug": agenda.slug,
        "created": agenda.created,
    }


def grant_json(grant: Grant) -> dict[str, Any]:
    """A grant as the API shows it."""
    return {
        "grantee": str(grant.grantee),
        "kind": grant.grantee.kind.value,
        "level": grant.level.label,
        "granted_by": grant.granted_by,
        "created": grant.created,
    }


def _error(status: int, message: str) -> Answer:
    return status, {"error": message, "status": status}


class AgendaApi:
    """Dispatches API requests to a :class:`SharingService`."""

    def __init__(self, service: SharingService) -> None:
        self.service = service

    def handle(self, method: str, path: str, query: str, body: bytes, caller: Caller) -> Answer:
        """Answer one request; ``path`` starts with :data:`PREFIX`."""
        if caller.user is None:
            return _error(401, "authentication required")
        if not self.service.is_admin(caller.groups):
            return _error(403, "only members of the admin group may manage agendas")
        parts = [unquote(part) for part in path[len(PREFIX) :].split("/") if part]
        try:
            data = json.loads(body.decode("utf-8") or "{}") if body else {}
            if not isinstance(data, dict):
                return _error(400, "the body must be a JSON object")
            return self._route(method, parts, parse_qs(query), data, caller)
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"invalid JSON body: {exc}")
        except RecursionError:
            return _error(400, "invalid JSON body: nested too deep")
        except SharingError as exc:
            return _error(exc.status, str(exc))

    def _route(
        self, method: str, parts: list[str], query: dict[str, list[str]], data: dict[str, Any], caller: Caller
    ) -> Answer:
        routes = {
            (0, "GET"): self._list,
            (0, "POST"): self._create,
            (1, "POST"): self._provision,
            (2, "GET"): self._show,
            (2, "DELETE"): self._delete,
            (3, "POST"): self._grant,
            (4, "DELETE"): self._revoke,
        }
        size = len(parts)
        if (size == 1 and parts[0] != "provision") or (size >= 3 and parts[2] != "grants") or size > 4:
            return _error(404, "no such API resource")
        handler = routes.get((size, method))
        if handler is None:
            return _error(405, f"{method} is not allowed here")
        return handler(parts, query, data, caller)

    def _list(
        self, parts: list[str], query: dict[str, list[str]], data: dict[str, Any], caller: Caller
    ) -> Answer:
        owner = query.get("owner", [None])[0]
        return 200, {"agendas": [agenda_json(a) for a in self.service.db.agendas(owner=owner)]}

    def _create(
        self, parts: list[str], query: dict[str, list[str]], data: dict[str, Any], caller: Caller
    ) -> Answer:
        if not isinstance(data.get("path"), str) or not data["path"]:
            return _error(400, "path is required")
        title = str(data.get("title") or data["path"].strip("/").replace("/", " "))
        return 201, {"agenda": agenda_json(self.service.create_agenda(data["path"], title, ORGANISATION))}

    def _provision(
        self, parts: list[str], query: dict[str, list[str]], data: dict[str, Any], caller: Caller
    ) -> Answer:
        report = provision(self.service, actor=caller.user or "api")
        return 200, {"created": report.created, "granted": report.granted, "unchanged": report.unchanged}

    def _show(
        self, parts: list[str], query: dict[str, list[str]], data: dict[str, Any], caller: Caller
    ) -> Answer:
        agenda, grants = self.service.show("/".join(parts[:2]))
        return 200, {"agenda": agenda_json(agenda), "grants": [grant_json(g) for g in grants]}

    def _delete(
        self, parts: list[str], query: dict[str, list[str]], data: dict[str, Any], caller: Caller
    ) -> Answer:
        self.service.delete_agenda("/".join(parts[:2]))
        return 200, {"deleted": f"/{parts[0]}/{parts[1]}/"}

    def _grant(
        self, parts: list[str], query: dict[str, list[str]], data: dict[str, Any], caller: Caller
    ) -> Answer:
        if not isinstance(data.get("grantee"), str) or not isinstance(data.get("level"), str):
            return _error(400, "grantee and level are required")
        grant = self.service.grant(
            caller.user or "", caller.groups, "/".join(parts[:2]), data["grantee"], data["level"]
        )
        return 200, {"grant": grant_json(grant)}

    def _revoke(
        self, parts: list[str], query: dict[str, list[str]], data: dict[str, Any], caller: Caller
    ) -> Answer:
        self.service.revoke(caller.user or "", caller.groups, "/".join(parts[:2]), parts[3])
        return 200, {"revoked": parts[3]}
