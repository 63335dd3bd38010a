# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware addressbooks sync``: the academic address books from the directory, once, with progress."""

from __future__ import annotations

import argparse
import sys

from groupware.cli.progress import ProgressBar
from groupware.config import Config, storage_database
from groupware.directory.factory import open_directory
from groupware.runtime.addressbooks import sync_once
from groupware.sharing.database import SharingDatabase
from groupware.store import Store

__all__ = ["add_arguments", "run"]


def run(config: Config, args: argparse.Namespace) -> int:
    """Sync once and print what changed per book."""
    directory = open_directory(config.directory)
    store = Store(storage_database(config), synchronous="NORMAL")
    sharing = SharingDatabase(config.sharing.database or store.db)
    progress = None if args.quiet else ProgressBar("addressbooks")
    try:
        report = sync_once(config, store, directory, sharing, progress, args.full)
    finally:
        if progress is not None:
            progress.close()
        directory.close()
        store.close()
    for book in report.books:
        if book.added or book.changed or book.removed or args.verbose:
            print(f"/{book.path}/: +{book.added} ~{book.changed} -{book.removed} ={book.unchanged}")
    for path in report.deleted_books:
        print(f"/{path}/: deleted")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if report.skipped:
        print("directory unchanged since the last sync: 0 changes (--full reads it all the same)")
        return 0
    print(
        f"{len(report.books)} books, {report.people} people, {report.changes} changes"
        f" in {report.seconds:.1f} s"
    )
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``groupware addressbooks sync [--config FILE] [--quiet] [--verbose] [--full]``."""
    sub = parser.add_subparsers(dest="addressbooks_command", required=True)
    sync = sub.add_parser("sync", help="build or update the address books from the directory")
    sync.add_argument("--quiet", action="store_true", help="no progress bar")
    sync.add_argument("--verbose", action="store_true", help="list unchanged books too")
    sync.add_argument(
        "--full", action="store_true", help="read the whole directory even if it seems unchanged"
    )
