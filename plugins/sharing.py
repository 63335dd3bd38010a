# SPDX-License-Identifier: GPL-3.0-or-later
"""Radicale sharing adapter over :mod:`groupware.sharing` (``[sharing] type = groupware.plugins.sharing``).

Radicale's map sharing puts an owner's collection into a member's home: ``/<member>/<slug>/`` resolves to the
agenda's path (``/etab-0341234A/direction/``), and rights are the owner's filtered by the share's permission
letters. Here every agenda shared with the member — by person, by directory group (full DN) or by mail domain
— is one such map share, computed from the grants on each request (one indexed query, nothing cached, so a
revoke counts on the next request in every process):

* levels become Radicale's letters: free-busy ``f`` (RFC 4791 §6.1.1 ``read-free-busy``: only free-busy-query
  and ``?view=freebusy`` answer), read ``r``, read-write ``rwp`` (items only), manage ``rwe`` (and the
  collection's properties, RFC 4918 §9.2 PROPPATCH);
* the display name members see is the agenda's title, which says whose it is (RFC 4918 §15.2);
* ``POST /.sharing/v1/map/create|delete|list`` lets people share their own calendars with a person
  (``User=<uid>``), a group (``User=:<group DN>``) or a domain (``User=@<domain>``) within ``[sharing]``'s
  policy; ``Permissions`` ``f``/``r``/``rw`` or ``Level`` name the level. Answers are JSON (RFC 8259).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from http import client
from typing import Any

from radicale import config as radicale_config
from radicale import httputils, sharing, storage, types
from radicale.log import logger

from groupware.plugins import services_of
from groupware.sharing import Agenda, Level, NotAllowed, SharedAgenda, SharingError, SharingService, Viewer

__all__ = ["LETTERS", "Sharing", "level_of_letters", "split_group_dns"]

# Radicale permission letters a share of each level filters the owner's rights with; ``p`` keeps read-write
# members from changing the collection's properties, ``e`` lets managers change the real ones (not a per-share
# overlay).
LETTERS = {Level.FREE_BUSY: "f", Level.READ: "r", Level.READ_WRITE: "rwp", Level.MANAGE: "rwe"}
MAX_RDNS = 64
#: The permission letters the sharing API accepts (Radicale's, plus ``M`` for manage).
PERMISSION_LETTERS = "frwpeM"
#: The largest sharing API request body read (a JSON object of a few short fields).
MAX_REQUEST_BODY = 64 * 1024


def level_of_letters(letters: object) -> Level:
    """The level Radicale's sharing API asks for with permission letters (``M`` for manage).

    Raises:
        SharingError: not a non-empty string of the letters Radicale's sharing knows (``f r w p e M``).
    """
    if not isinstance(letters, str) or not letters or not set(letters) <= set(PERMISSION_LETTERS):
        raise SharingError(f"Permissions must be letters among {PERMISSION_LETTERS!r}, e.g. r or rw")
    if "M" in letters:
        return Level.MANAGE
    if "w" in letters:
        return Level.READ_WRITE
    return Level.READ if "r" in letters else Level.FREE_BUSY


def split_group_dns(joined: str) -> set[str]:
    """Group DNs from Radicale's ``user:dn1,dn2`` lookup string, where commas both join and separate RDNs.

    Every run of consecutive RDNs is a candidate; the grants index decides which are groups. A run across two
    DNs would need a group whose DN contains the directory's suffix twice, which no directory has.
    """
    rdns = [rdn for rdn in joined.split(",") if rdn]
    if len(rdns) > MAX_RDNS:
        return set()
    return {",".join(rdns[i:j]) for i in range(len(rdns)) for j in range(i + 1, len(rdns) + 1)}


class Sharing(sharing.BaseSharing):
    """``[sharing] type = groupware.plugins.sharing``."""

    def __init__(self, configuration: radicale_config.Configuration) -> None:
        self._service: SharingService | None = services_of(configuration, "sharing").sharing
        super().__init__(configuration)

    @property
    def service(self) -> SharingService:
        """The running sharing service (handed over by the runtime)."""
        if self._service is None:
            raise RuntimeError("groupware sharing is not configured")
        return self._service

    # Database plugin point ----------------------------------------------------------------------------------
    def database_init(self) -> bool:
        """Grants live in the storage engine's database, opened by the composition root."""
        return self._service is not None

    def database_get_info(self) -> dict[str, str]:
        """What ``radicale --verify-sharing`` prints."""
        return {"type": "groupware", "path": self.service.db.db.path}

    def database_verify(self) -> bool:
        """The database answers."""
        self.service.db.revision()
        return True

    def _viewer(self, user_lookup: str, user_groups: Iterable[str] | None = None) -> Viewer:
        user, _, joined = user_lookup.partition(sharing.SHARING_SEPARATOR_GROUP)
        groups = set(user_groups or ()) or split_group_dns(joined)
        if joined and not groups:
            person = self.service.directory.find_person(user)
            groups = set(person.groups) if person is not None else set()
        return self.service.viewer(user, groups)

    def _row(
        self, user: str, agenda: Agenda, level: Level, path: str | None = None, mapped: str | None = None
    ) -> dict[str, Any]:
        """One map share as Radicale's sharing code reads it."""
        return {
            "mapped": True,
            "ShareType": "map",
            "PathOrToken": path or f"/{user}/{agenda.slug}/",
            "PathMapped": mapped or agenda.path,
            "Owner": agenda.owner,
            "User": user,
            "Permissions": LETTERS[level],
            "EnabledByOwner": True,
            "EnabledByUser": True,
            "HiddenByOwner": False,
            "HiddenByUser": False,
            "Hidden": False,
            "TimestampCreated": agenda.created,
            "TimestampUpdated": agenda.created,
            "Properties": {"D:displayname": agenda.title},
            "Conversion": "none",
            "Actions": {},
        }

    def sharing_collection_by_map_resolver(
        self, path: str, user: str, user_groups: set[str]
    ) -> dict[str, Any] | None:
        """``/<user>/<slug>/…`` → the agenda's path, when a grant gives ``user`` a level on it."""
        parts = [part for part in path.split("/") if part]
        if len(parts) < 2 or parts[0] != user:
            return None
        agenda = self.service.db.agenda_by_slug(parts[1])
        if agenda is None or agenda.owner == user:
            return None
        level = self.service.level(self.service.viewer(user, user_groups or set()), agenda.path)
        if level is None:
            return None
        home_path = f"/{user}/{agenda.slug}/"
        if len(parts) == 2:
            return self._row(user, agenda, level, home_path)
        return self._row(user, agenda, level, path, agenda.path + path[len(home_path) :])

    def sharing_collection_list(
        self,
        User: str | None = None,
        Enabled: bool | None = None,
        Hidden: bool | None = None,
        Conversion: str | None = None,
        user_groups: set[str] = set(),  # noqa: B006 - Radicale's signature, never mutated
    ) -> list[dict[str, Any]]:
        """The agendas shared with ``User`` as map shares into their home (RFC 4918 §9.1 depth-1 listing)."""
        if not User or Enabled is False or Hidden is True or Conversion not in (None, "none"):
            return []
        viewer = self._viewer(User, user_groups)
        user = User.partition(sharing.SHARING_SEPARATOR_GROUP)[0]
        return [self._row(user, shared.agenda, shared.level) for shared in self.service.shared_with(viewer)]

    def database_list_sharing(
        self,
        OwnerOrUser: str | None = None,
        ShareType: str | None = None,
        PathOrToken: str | None = None,
        PathMapped: str | None = None,
        User: str | None = None,
        EnabledByOwner: bool | None = None,
        EnabledByUser: bool | None = None,
        HiddenByOwner: bool | None = None,
        HiddenByUser: bool | None = None,
        Conversion: str | None = None,
    ) -> list[dict[str, Any]]:
        """Shares by mapped path (Radicale refuses to delete a collection that is shared) or by user."""
        if ShareType not in (None, "map"):
            return []
        if PathMapped is not None:
            # The agenda itself and every agenda below it: deleting a home must not leave grants behind that a
            # new calendar at the same path would inherit (Radicale refuses the DELETE while any is listed).
            prefix = PathMapped.rstrip("/") + "/"
            agendas = [
                agenda
                for agenda in self.service.db.agendas()
                if agenda.path == PathMapped or agenda.path.startswith(prefix)
            ]
            return [
                self._grant_row(agenda, grant.grantee, grant.level)
                for agenda in agendas
                for grant in self.service.db.grants(agenda.path)
            ]
        lookup = OwnerOrUser or User
        if not lookup:
            return []
        rows = self.sharing_collection_list(User=lookup)
        return [row for row in rows if PathOrToken is None or row["PathOrToken"] == PathOrToken]

    def _grant_row(self, agenda: Agenda, grantee: Any, level: Level) -> dict[str, Any]:
        row = self._row(str(grantee), agenda, level, f"/{{user}}/{agenda.slug}/")
        row["User"] = _radicale_user(grantee)
        return row

    def database_get_sharing(
        self, ShareType: str, PathOrToken: str, OnlyEnabled: bool = True, User: str | None = None
    ) -> dict[str, Any] | None:
        """One share by its path in a member's home."""
        if ShareType != "map" or not User:
            return None
        viewer = self._viewer(User)
        return self.sharing_collection_by_map_resolver(PathOrToken, viewer.user, set(viewer.groups))

    # Management API: people share their own calendars
    # --------------------------------------------------------
    def post(
        self,
        environ: types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> types.WSGIResponse:
        """``/.sharing/v1/map/{create,delete,list}`` through our grants; every other path under
        ``/.sharing/`` is unknown (404): Radicale's own handler would list or change shares by path prefix
        without asking whose they are."""
        action = path.removeprefix("/.sharing/v1/")
        if not user:
            return httputils.NOT_ALLOWED
        if action not in ("map/create", "map/delete", "map/list", "all/list"):
            return _json(client.NOT_FOUND, {"ApiVersion": 1, "Status": "error", "Error": "unknown action"})
        try:
            data = _request_data(environ)
            if action == "map/create":
                answer = self._api_create(data, user, user_groups)
            elif action == "map/delete":
                answer = self._api_delete(data, user, user_groups)
            else:
                answer = self._api_list(user, user_groups)
        except SharingError as exc:
            return _json(exc.status, {"ApiVersion": 1, "Status": "error", "Error": str(exc)})
        return _json(client.OK, {"ApiVersion": 1, "Status": "success", **answer})

    def _api_create(self, data: dict[str, Any], user: str, user_groups: set[str]) -> dict[str, Any]:
        mapped, target = _collection_path(data.get("PathMapped")), str(data.get("User", ""))
        if not target:
            raise SharingError("PathMapped and User are required")
        if "Level" in data and not isinstance(data["Level"], str):
            raise SharingError("Level must be a string: free-busy, read, read-write or manage")
        level = (
            Level.parse(data["Level"]) if "Level" in data else level_of_letters(data.get("Permissions", "r"))
        )
        agenda = self.service.db.agenda(mapped)
        if agenda is None:
            if mapped.strip("/").split("/")[0] != user:
                raise NotAllowed(f"{mapped} is not one of your calendars")
            if not self.service.may_manage(user, user_groups, mapped):
                raise NotAllowed("the sharing policy does not let people share their calendars")
            agenda = self._register(mapped, user)
        grant = self.service.grant(user, user_groups, agenda.path, _grantee_text(target), level)
        return {
            "PathOrToken": _home_path(target, agenda),
            "Level": grant.level.label,
            "Grantee": str(grant.grantee),
        }

    def _register(self, mapped: str, user: str) -> Agenda:
        with self._storage.acquire_lock("r", user):
            collection = next(iter(self._storage.discover(mapped)), None)
            if not isinstance(collection, storage.BaseCollection) or collection.tag != "VCALENDAR":
                raise SharingError(f"{mapped} is not a calendar")
            title = collection.get_meta("D:displayname") or mapped.strip("/").split("/")[-1]
        return self.service.register_own(mapped, self.service.directory.find_person(user), str(title))

    def _api_delete(self, data: dict[str, Any], user: str, user_groups: set[str]) -> dict[str, Any]:
        mapped, target = _collection_path(data.get("PathMapped")), str(data.get("User", ""))
        if not target:
            raise SharingError("PathMapped and User are required")
        self.service.revoke(user, user_groups, mapped, _grantee_text(target))
        return {}

    def _api_list(self, user: str, user_groups: set[str]) -> dict[str, Any]:
        service = self.service
        content = [
            self._grant_row(agenda, grant.grantee, grant.level) | {"Owner": agenda.owner}
            for agenda in service.db.agendas(owner=user)
            for grant in service.db.grants(agenda.path)
        ]
        shared: list[SharedAgenda] = service.shared_with(service.viewer(user, user_groups))
        content += [self._row(user, item.agenda, item.level) for item in shared]
        return {"Lines": len(content), "Content": content}


def _radicale_user(grantee: Any) -> str:
    """A grantee as Radicale's sharing writes its ``User`` field (``uid``, ``:group``, ``@domain``)."""
    kind = getattr(grantee.kind, "value", "")
    prefix = {"group": sharing.SHARING_SEPARATOR_GROUP, "domain": sharing.SHARING_SEPARATOR_REALM}.get(
        kind, ""
    )
    return f"{prefix}{grantee.value}"


def _grantee_text(user_field: str) -> str:
    """Radicale's ``User`` field (``uid``, ``:group DN``, ``@domain``) as a grantee of our sharing."""
    if user_field.startswith(sharing.SHARING_SEPARATOR_GROUP):
        return "group:" + user_field[1:]
    if user_field.startswith(sharing.SHARING_SEPARATOR_REALM):
        return "domain:" + user_field[1:]
    return "person:" + user_field


def _home_path(user_field: str, agenda: Agenda) -> str:
    member = (
        "{user}"
        if user_field[:1] in (sharing.SHARING_SEPARATOR_GROUP, sharing.SHARING_SEPARATOR_REALM)
        else (user_field.lower())
    )
    return f"/{member}/{agenda.slug}/"


def _collection_path(value: object) -> str:
    """``PathMapped`` as a collection path: absolute, ending in ``/``, no empty, ``.`` or ``..`` segment.

    Raises:
        SharingError: anything else (400), instead of a path the storage would refuse with an assertion.
    """
    if not isinstance(value, str) or not value:
        raise SharingError("PathMapped and User are required")
    segments = value.split("/")
    if (
        len(value) > 1024
        or not value.startswith("/")
        or not value.endswith("/")
        or any(part in ("", ".", "..") for part in segments[1:-1])
        or len(segments) < 3
        or not value.isprintable()
    ):
        raise SharingError(f"PathMapped {value[:100]!r} is not a collection path such as /user/calendar/")
    return value


def _request_data(environ: types.WSGIEnviron) -> dict[str, Any]:
    """The JSON or form body of a sharing API request (at most :data:`MAX_REQUEST_BODY` octets of UTF-8).

    Raises:
        SharingError: a body too large, not UTF-8, or not a JSON object (400).
    """
    from urllib.parse import parse_qs

    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise SharingError("invalid Content-Length") from exc
    if length > MAX_REQUEST_BODY:
        raise SharingError(f"the request body exceeds {MAX_REQUEST_BODY} octets")
    try:
        body = environ["wsgi.input"].read(length).decode("utf-8") if length > 0 else ""
    except UnicodeDecodeError as exc:
        raise SharingError("the request body is not UTF-8") from exc
    if "json" in environ.get("CONTENT_TYPE", ""):
        try:
            data = json.loads(body or "{}")
        except json.JSONDecodeError as exc:
            raise SharingError(f"invalid JSON: {exc}") from exc
        except RecursionError as exc:
            raise SharingError("invalid JSON: nested too deep") from exc
        if not isinstance(data, dict):
            raise SharingError("the body must be a JSON object")
        return data
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}


def _json(status: int, body: dict[str, Any]) -> types.WSGIResponse:
    # Bytes, not text: Radicale appends its own charset to the type of a text answer (a second one).
    text = json.dumps(body, ensure_ascii=False).encode("utf-8")
    logger.debug("sharing API answer %d", status)
    return status, {"Content-Type": "application/json; charset=utf-8"}, text, None
