# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware agenda create|list|show|grant|revoke|delete|provision``: the administrator's command line.

Works on the same database as the running servers, so changes count on their next request. The composition
root (:mod:`groupware.cli`) builds the :class:`SharingService` with storage callbacks and calls :func:`run`;
errors are printed as one line and exit with 1 (usage: 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from groupware.sharing.api import agenda_json, grant_json
from groupware.sharing.model import SharingError
from groupware.sharing.provision import provision
from groupware.sharing.service import ORGANISATION, SharingService

__all__ = ["add_arguments", "run"]

ACTOR = "groupware-cli"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``agenda`` sub-commands and their options."""
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    sub = parser.add_subparsers(dest="agenda_command", required=True)
    create = sub.add_parser(
        "create", help="create an agenda owned by an organisation, e.g. /etab-0341234A/direction/"
    )
    create.add_argument("path")
    create.add_argument("--title", help="display name members see (default: the path)")
    listing = sub.add_parser("list", help="list agendas")
    listing.add_argument("--owner", help="only the agendas of this owner (e.g. etab-0341234A)")
    show = sub.add_parser("show", help="show an agenda and its grants")
    show.add_argument("path")
    grant = sub.add_parser(
        "grant", help="grant a level to a person (uid), a group (DN) or a domain (@domain)"
    )
    grant.add_argument("path")
    grant.add_argument("grantee")
    grant.add_argument("level", choices=["free-busy", "read", "read-write", "manage"])
    revoke = sub.add_parser("revoke", help="remove a grant")
    revoke.add_argument("path")
    revoke.add_argument("grantee")
    delete = sub.add_parser("delete", help="delete an agenda, its grants and its collection")
    delete.add_argument("path")
    delete.add_argument("--keep-collection", action="store_true", help="keep the calendar and its events")
    sub.add_parser("provision", help="one agenda per établissement group of the directory (idempotent)")


def _print(out: TextIO, as_json: bool, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=1) if as_json else text, file=out)


def _show(service: SharingService, path: str, as_json: bool, out: TextIO) -> None:
    agenda, grants = service.show(path)
    lines = [f"{agenda.path}  {agenda.title}  ({agenda.kind}, in homes as {agenda.slug})"]
    lines += [f"  {g.level.label:<10} {g.grantee}" for g in grants] or ["  (no grants)"]
    _print(
        out,
        as_json,
        {"agenda": agenda_json(agenda), "grants": [grant_json(g) for g in grants]},
        "\n".join(lines),
    )


def _provision(service: SharingService, as_json: bool, out: TextIO) -> None:
    def progress(done: int, total: int, path: str, what: str) -> None:
        if not as_json:
            print(f"[{done}/{total}] {path}: {what}", file=out, flush=True)

    report = provision(service, ACTOR, progress)
    summary = (
        f"{len(report.created)} created, {len(report.granted)} grants added, "
        f"{len(report.unchanged)} unchanged"
    )
    summary += "".join(f"\nwarning: {warning}" for warning in report.warnings)
    _print(
        out,
        as_json,
        {
            "created": report.created,
            "granted": report.granted,
            "unchanged": report.unchanged,
            "warnings": report.warnings,
        },
        summary,
    )


def _dispatch(service: SharingService, args: argparse.Namespace, out: TextIO) -> None:
    command, as_json = args.agenda_command, args.json
    if command == "create":
        agenda = service.create_agenda(
            args.path, args.title or args.path.strip("/").replace("/", " "), ORGANISATION
        )
        _print(out, as_json, {"agenda": agenda_json(agenda)}, f"created {agenda.path} ({agenda.title})")
    elif command == "list":
        agendas = service.db.agendas(owner=args.owner)
        text = "\n".join(f"{a.path}  {a.title}  ({a.kind})" for a in agendas) or "(no agendas)"
        _print(out, as_json, {"agendas": [agenda_json(a) for a in agendas]}, text)
    elif command == "show":
        _show(service, args.path, as_json, out)
    elif command == "grant":
        grant = service.grant(ACTOR, frozenset(), args.path, args.grantee, args.level, as_admin=True)
        _print(
            out,
            as_json,
            {"grant": grant_json(grant)},
            f"granted {grant.level.label} on {grant.path} to {grant.grantee}",
        )
    elif command == "revoke":
        service.revoke(ACTOR, frozenset(), args.path, args.grantee, as_admin=True)
        _print(out, as_json, {"revoked": args.grantee}, f"revoked {args.grantee} on {args.path}")
    elif command == "delete":
        service.delete_agenda(args.path, delete_collection=not args.keep_collection)
        _print(out, as_json, {"deleted": args.path}, f"deleted {args.path}")
    else:
        _provision(service, as_json, out)


def run(
    service: SharingService,
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run one ``agenda`` command; 0 on success, 1 with a one-line error (unknown agenda, person, group …).

    ``out`` and ``err`` default to the standard streams of the moment of the call, not of the import.
    """
    try:
        _dispatch(service, args, out or sys.stdout)
    except SharingError as exc:
        print(f"groupware agenda {args.agenda_command}: {exc}", file=err or sys.stderr)
        return 1
    return 0
