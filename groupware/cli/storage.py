# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware storage import|export``: collections between groupware and a stock Radicale folder;
``groupware storage backup|restore``: the database file, consistently while the servers run
(:mod:`groupware.store.backup`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from groupware import config as config_module
from groupware.cli.progress import ProgressBar
from groupware.config import storage_database
from groupware.dav.migration import (
    configured_storage,
    copy_collections,
    folder_collections,
    radicale_folder,
    storage_collections,
)
from groupware.errors import ConfigError
from groupware.store import backup

__all__ = ["add_commands"]


def _progress(label: str) -> Callable[[str], Callable[[int, int], None]]:
    def for_collection(path: str) -> Callable[[int, int], None]:
        bar = ProgressBar(f"{label} /{path}/")

        def shown(done: int, total: int) -> None:
            bar(done, total, path)
            if done >= total:
                bar.close()

        return shown

    return for_collection


def _configured(path: str | None) -> Any:
    """The configured storage, or None after printing the configuration's problems."""
    try:
        return configured_storage(config_module.load(path or config_module.DEMO_CONFIG))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def cmd_import(args: argparse.Namespace) -> int:
    """Copy a stock Radicale folder (the one holding ``collection-root``) into the configured storage."""
    if not os.path.isdir(os.path.join(args.folder, "collection-root")):
        print(f"{args.folder}: no collection-root inside: not a Radicale storage folder", file=sys.stderr)
        return 1
    storage = _configured(args.config)
    if storage is None:
        return 1
    collections, items, refused = copy_collections(
        folder_collections(args.folder), storage, "import", _progress("import")
    )
    print(
        f"imported {collections} collections, {items} items from {args.folder}"
        + (f"; {refused} items refused (see above)" if refused else "")
    )
    return 1 if refused else 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write the configured storage out as a stock Radicale folder (``DIR/collection-root``)."""
    if os.path.exists(os.path.join(args.dir, "collection-root")):
        print(f"{args.dir}: already holds a collection-root; export into an empty folder", file=sys.stderr)
        return 1
    storage = _configured(args.config)
    if storage is None:
        return 1
    collections, items, refused = copy_collections(
        storage_collections(storage),
        radicale_folder(args.dir, fsync=True),
        "export",
        _progress("export"),
    )
    print(
        f"exported {collections} collections, {items} items to {args.dir}"
        + (f"; {refused} items refused (see above)" if refused else "")
    )
    return 1 if refused else 0


def _pages(label: str) -> tuple[Callable[[int, int], None], ProgressBar]:
    bar = ProgressBar(label)
    return (lambda done, total: bar(done, total, "")), bar


def _database(args: argparse.Namespace) -> str | None:
    """The database file of the configuration, or None after printing why not."""
    try:
        loaded = config_module.load(args.config or config_module.DEMO_CONFIG)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None
    database = storage_database(loaded)
    if loaded.sharing.database and os.path.abspath(loaded.sharing.database) != os.path.abspath(database):
        print(
            f"groupware storage: note: the grants are in another file, {loaded.sharing.database}: "
            "back it up and restore it the same way, with a configuration whose [storage] database names it",
            file=sys.stderr,
        )
    return database


def _copy(
    args: argparse.Namespace, verb: str, run: Callable[..., Any], describe: Callable[[Any], str]
) -> int:
    """Run a backup or a restore of the configuration's database with a progress bar; print its report or
    ``groupware storage VERB: why`` and return the exit status."""
    database = _database(args)
    if database is None:
        return 1
    progress, bar = _pages(verb)
    try:
        report = run(database, None if args.quiet else progress)
    except backup.BackupError as exc:
        print(f"groupware storage {verb}: {exc}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    print(describe(report))
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Copy the database to DEST while the servers run (SQLite online backup, one snapshot)."""
    return _copy(
        args,
        "backup",
        lambda database, progress: backup.backup(database, args.dest, progress),
        lambda report: (
            f"backed up {report.source} to {report.destination}: {report.pages} pages, "
            f"{report.size} bytes, integrity ok, in {report.seconds:.1f} s"
        ),
    )


def cmd_restore(args: argparse.Namespace) -> int:
    """Replace the database with the backup SRC, checked first, in one rename."""
    return _copy(
        args,
        "restore",
        lambda database, progress: backup.restore(args.src, database, args.force, progress),
        lambda report: (
            f"restored {report.destination} from {report.source}: {report.pages} pages, "
            "integrity ok" + (f"; the database it replaced is kept as {report.kept}" if report.kept else "")
        ),
    )


def _add_backup_commands(storage_sub: Any) -> None:
    save = storage_sub.add_parser(
        "backup",
        help="copy the database to a new file, consistent while the servers run",
        description="Copy the database (calendars, address books, grants, lockouts) to DEST with SQLite's "
        "online backup, from one snapshot, while the servers keep serving; the copy is integrity-checked. "
        "Mail and Sieve scripts are files under [sieve] mail_root: copy them too (see README).",
    )
    save.add_argument("dest", help="the backup file to create (it must not exist)")
    save.add_argument("--quiet", action="store_true", help="no progress bar")
    save.set_defaults(func=cmd_backup)
    load = storage_sub.add_parser(
        "restore",
        help="replace the database with a backup (servers stopped), integrity-checked, in one rename",
        description="Check the backup SRC (integrity, a groupware database), then swap it in for the "
        "configuration's database in one rename, keeping the database it replaces as <name>.before-restore. "
        "Refused while a process (a running server) has the database open, unless --force.",
    )
    load.add_argument("src", help="a file made by groupware storage backup")
    load.add_argument(
        "--force",
        action="store_true",
        help="restore even though a process has the database open (what it writes afterwards is lost)",
    )
    load.add_argument("--quiet", action="store_true", help="no progress bar")
    load.set_defaults(func=cmd_restore)


def add_commands(sub: Any) -> None:
    """``groupware storage import FOLDER`` and ``groupware storage export DIR``."""
    storage = sub.add_parser(
        "storage", help="back up and restore the database; move collections to and from a Radicale folder"
    )
    storage_sub = storage.add_subparsers(dest="storage_command", required=True)
    imp = storage_sub.add_parser("import", help="import a Radicale folder (items, properties, hrefs kept)")
    imp.add_argument("folder", help="the folder that holds collection-root")
    imp.set_defaults(func=cmd_import)
    exp = storage_sub.add_parser("export", help="export everything as a Radicale folder")
    exp.add_argument("dir", help="an empty or new folder")
    exp.set_defaults(func=cmd_export)
    _add_backup_commands(storage_sub)
