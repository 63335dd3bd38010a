# SPDX-License-Identifier: GPL-3.0-or-later
"""Provisioning: one agenda per établissement group found in the directory, idempotently.

For each group of an établissement (``cn=enseignants,ou=etab-0341234A,…``) the agenda
``/etab-0341234A/enseignants/`` is created if missing, readable by the group's members and writable by the
établissement's direction group (``cn=direction`` in the same branch). Running it again changes nothing,
except to add what the directory gained since (a new group, a missing grant). Grants made by hand are kept,
and a grant that is already more generous is not lowered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from groupware.directory import Group, normalize_dn
from groupware.directory.survey import provision_warnings
from groupware.sharing.model import Grantee, GranteeKind, Level
from groupware.sharing.service import ORGANISATION, SharingService

__all__ = ["DIRECTION", "ProvisionReport", "plan", "provision"]

DIRECTION = "direction"


@dataclass
class ProvisionReport:
    """What a provisioning run did."""

    created: list[str] = field(default_factory=list)
    granted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: Why nothing could be provisioned (:func:`groupware.directory.survey.provision_warnings`).
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Planned:
    path: str
    title: str
    grants: tuple[tuple[Grantee, Level], ...]


def _establishment_groups(groups: Iterable[Group]) -> dict[str, list[Group]]:
    by_uai: dict[str, list[Group]] = {}
    for group in groups:
        if group.establishment:
            by_uai.setdefault(group.establishment, []).append(group)
    return by_uai


def plan(groups: Iterable[Group]) -> list[_Planned]:
    """The agendas and grants the directory's établissement groups call for, ordered by path."""
    planned = []
    for uai, members in sorted(_establishment_groups(groups).items()):
        direction = next((g for g in members if g.name.casefold() == DIRECTION), None)
        for group in sorted(members, key=lambda g: g.name):
            path = f"/etab-{uai}/{group.name.casefold()}/"
            title = group.description or f"{group.name} ({uai})"
            grants = [(Grantee(GranteeKind.GROUP, normalize_dn(group.dn)), Level.READ)]
            if direction is not None:
                grants.append((Grantee(GranteeKind.GROUP, normalize_dn(direction.dn)), Level.READ_WRITE))
            merged: dict[Grantee, Level] = {}
            for grantee, level in grants:
                merged[grantee] = max(level, merged.get(grantee, level))
            planned.append(_Planned(path, title, tuple(merged.items())))
    return planned


def provision(
    service: SharingService,
    actor: str = "provision",
    progress: Callable[[int, int, str, str], None] | None = None,
) -> ProvisionReport:
    """Create the missing agendas and grants; ``progress(done, total, path, what)`` after each agenda."""
    report = ProvisionReport()
    groups = list(service.directory.iter_groups())
    report.warnings = provision_warnings(groups)
    planned = plan(groups)
    for index, item in enumerate(planned, 1):
        what = "unchanged"
        if service.db.agenda(item.path) is None:
            service.create_agenda(item.path, item.title, ORGANISATION)
            report.created.append(item.path)
            what = "created"
        elif service.store is not None and not service.store.exists(item.path):
            service.store.create(item.path, item.title)
            what = "collection restored"
        existing = {grant.grantee: grant.level for grant in service.db.grants(item.path)}
        for grantee, level in item.grants:
            current = existing.get(grantee)
            if current is None or current < level:
                service.policy.check(grantee, level)
                service.db.grant(item.path, grantee, level, actor)
                report.granted.append(f"{item.path} {grantee} {level.label}")
                what = "created" if what == "created" else "granted"
        if what == "unchanged":
            report.unchanged.append(item.path)
        if progress is not None:
            progress(index, len(planned), item.path, what)
    return report
