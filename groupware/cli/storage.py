# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware storage import|export``: collections between groupware and a stock Radicale folder."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from groupware import config as config_module
from groupware.cli.progress import ProgressBar
from groupware.dav.migration import (
    configured_storage,
    copy_collections,
    folder_collections,
    radicale_folder,
    storage_collections,
)

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
    return configured_storage(config_module.load(path or config_module.DEMO_CONFIG))


def cmd_import(args: argparse.Namespace) -> int:
    """Copy a stock Radicale folder (the one holding ``collection-root``) into the configured storage."""
    if not os.path.isdir(os.path.join(args.folder, "collection-root")):
        print(f"{args.folder}: no collection-root inside: not a Radicale storage folder", file=sys.stderr)
        return 1
    collections, items, refused = copy_collections(
        folder_collections(args.folder), _configured(args.config), "import", _progress("import")
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
    collections, items, refused = copy_collections(
        storage_collections(_configured(args.config)),
        radicale_folder(args.dir, fsync=True),
        "export",
        _progress("export"),
    )
    print(
        f"exported {collections} collections, {items} items to {args.dir}"
        + (f"; {refused} items refused (see above)" if refused else "")
    )
    return 1 if refused else 0


def add_commands(sub: Any) -> None:
    """``groupware storage import FOLDER`` and ``groupware storage export DIR``."""
    storage = sub.add_parser("storage", help="move collections between groupware and a Radicale folder")
    storage_sub = storage.add_subparsers(dest="storage_command", required=True)
    imp = storage_sub.add_parser("import", help="import a Radicale folder (items, properties, hrefs kept)")
    imp.add_argument("folder", help="the folder that holds collection-root")
    imp.set_defaults(func=cmd_import)
    exp = storage_sub.add_parser("export", help="export everything as a Radicale folder")
    exp.add_argument("dir", help="an empty or new folder")
    exp.set_defaults(func=cmd_export)
