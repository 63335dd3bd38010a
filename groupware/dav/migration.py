# SPDX-License-Identifier: GPL-3.0-or-later
"""Collections in and out of groupware: a stock Radicale folder (``multifilesystem``) read as files,
groupware's configured storage, and a copy from one to the other that keeps hrefs and collection
properties."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import radicale.config
import radicale.item
import radicale.storage

from groupware.config import Config
from groupware.dav.configuration import radicale_configuration
from groupware.dav.upstream import patch_radicale

__all__ = [
    "Collections",
    "FolderItems",
    "configured_storage",
    "copy_collections",
    "folder_collections",
    "radicale_folder",
    "storage_collections",
]


class Items(Protocol):
    """The items of one collection: counted, then iterated once."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


#: ``(path, properties, items)`` of each calendar and address book.
Collections = Iterable[tuple[str, dict[str, str], Items]]
#: ``progress(path) -> callback(done, total)`` for one collection.
ProgressFactory = Callable[[str], Callable[[int, int], None]]


def radicale_folder(folder: str, fsync: bool) -> Any:
    """Stock Radicale ``multifilesystem`` storage on ``folder`` (the folder holding ``collection-root``)."""
    configuration = radicale.config.load()
    options = {"type": "multifilesystem", "filesystem_folder": folder, "_filesystem_fsync": str(fsync)}
    configuration.update({"storage": options}, "groupware storage", privileged=True)
    return radicale.storage.load(configuration)


def configured_storage(config: Config) -> Any:
    """The storage plugin the configuration names (groupware's engine by default)."""
    patch_radicale()
    return radicale.storage.load(radicale_configuration(config))


def _leaf_collections(storage: Any, path: str = "/") -> Iterator[Any]:
    """Every calendar and address book under ``path``, depth first, parents before children."""
    children = list(storage.discover(path, "1"))
    for child in children[1:]:
        if not hasattr(child, "get_meta"):
            continue
        if child.tag:
            yield child
        else:
            yield from _leaf_collections(storage, "/" + child.path + "/")


def storage_collections(storage: Any) -> Collections:
    """(path, properties, items) of every calendar and address book of a Radicale storage plugin."""
    with storage.acquire_lock("r"):
        for collection in _leaf_collections(storage):
            yield collection.path, dict(collection.get_meta()), list(collection.get_all())


def folder_collections(folder: str) -> Collections:
    """(path, properties, items) of every calendar and address book of a stock Radicale folder, read as files.

    Texts are kept byte for byte and nothing is written into the folder (Radicale's own storage would parse
    each item twice and leave its item cache behind).
    """
    root = os.path.join(folder, "collection-root")
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
        props_file = os.path.join(directory, ".Radicale.props")
        if not os.path.isfile(props_file):
            continue
        with open(props_file, encoding="utf-8") as stream:
            props = json.load(stream)
        if not isinstance(props, dict) or not props.get("tag"):
            continue
        path = os.path.relpath(directory, root).replace(os.sep, "/")
        names = [
            name
            for name in sorted(files)
            if not name.startswith(".") and os.path.isfile(os.path.join(directory, name))
        ]
        yield path, props, FolderItems(directory, path, names)


class FolderItems:
    """The items of one collection folder, read one file at a time as they are iterated: an import holds one
    item in memory, not the collection."""

    def __init__(self, directory: str, path: str, names: list[str]) -> None:
        self.directory, self.path, self.names = directory, path, names

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[Any]:
        for name in self.names:
            with open(os.path.join(self.directory, name), encoding="utf-8", newline="") as stream:
                yield radicale.item.Item(collection_path=self.path, href=name, text=stream.read())


def copy_collections(
    source: Collections, target: Any, label: str, progress: ProgressFactory
) -> tuple[int, int, int]:
    """Copy collections (properties, items, hrefs) into ``target``; refused items are named on stderr.

    Returns the number of collections, of items copied and of items refused (not a calendar object or vCard).
    """
    collections = items = refused = 0
    for path, props, entries in source:
        shown = progress(path)
        with target.acquire_lock("w"):  # one transaction per collection: a running server waits no longer
            copied, _, _ = target.create_collection("/" + path + "/", props=props)
            for done, item in enumerate(entries, 1):
                try:
                    copied.upload(item.href, item)
                    items += 1
                except Exception as exc:  # one broken file must not stop a migration
                    refused += 1
                    print(f"\n{label}: /{path}/{item.href} refused: {exc}", file=sys.stderr)
                if done % 500 == 0 or done == len(entries):
                    shown(done, len(entries))
        if not entries:
            shown(0, 0)
        collections += 1
    return collections, items, refused
