# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared agendas: grants to a person, a directory group (full DN) or a whole mail domain, at a level —
free-busy < read < read-write < manage (RFC 3744 privileges, RFC 4791 §6.1.1 ``read-free-busy``) — on agendas
owned by people or by organisations (``/etab-0341234A/direction/``), within the site's policy.

Stored in the storage engine's database (:mod:`groupware.sharing.database`); nothing here imports Radicale:
:mod:`groupware.plugins.sharing` and :mod:`groupware.plugins.rights` adapt it.
"""

from __future__ import annotations

from groupware.sharing.database import SharingDatabase, slug_of
from groupware.sharing.model import (
    Agenda,
    AgendaExists,
    Grant,
    Grantee,
    GranteeKind,
    Level,
    NotAllowed,
    PolicyViolation,
    SharedAgenda,
    SharingError,
    UnknownAgenda,
    UnknownGrantee,
    Viewer,
)
from groupware.sharing.policy import SharingPolicy
from groupware.sharing.service import ORGANISATION, PERSON, AgendaStore, SharingService, agenda_path

__all__ = [
    "ORGANISATION",
    "PERSON",
    "Agenda",
    "AgendaExists",
    "AgendaStore",
    "Grant",
    "Grantee",
    "GranteeKind",
    "Level",
    "NotAllowed",
    "PolicyViolation",
    "SharedAgenda",
    "SharingDatabase",
    "SharingError",
    "SharingPolicy",
    "SharingService",
    "UnknownAgenda",
    "UnknownGrantee",
    "Viewer",
    "agenda_path",
    "slug_of",
]
