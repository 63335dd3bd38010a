# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``groupware`` command: ``serve``, ``check-config``, ``sieve …``, ``directory generate``, ``storage …``,
``agenda …``, ``addressbooks …``, ``accounts …``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from groupware import __version__, logs
from groupware import config as config_module
from groupware.errors import ConfigError, ConfigProblem

__all__ = ["main"]

log = logging.getLogger("groupware.cli")


def _load(path: str | None) -> config_module.Config:
    return config_module.load(path or config_module.DEMO_CONFIG)


def _loaded(path: str | None) -> config_module.Config | None:
    """The configuration, or None after printing its problems."""
    try:
        return _load(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def _problems(path: str) -> list[ConfigProblem]:
    from groupware.server import check_radicale_sections

    try:
        sections = config_module.read_sections(path)
    except ConfigError as exc:
        return exc.problems
    ours = set(config_module.SCHEMA)
    problems = check_radicale_sections(path, {k: v for k, v in sections.items() if k not in ours})
    try:
        from groupware.managesieve_door import (
            admin_script_problems,  # [sieve] before/after, checked as scripts
        )

        problems += admin_script_problems(config_module.load(path))
    except ConfigError as exc:
        problems = exc.problems + problems
    return problems


def cmd_check_config(args: argparse.Namespace) -> int:
    """Report every problem of a configuration file, with file, section and key; exit 1 if any."""
    problems = _problems(args.file)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {args.file}", file=sys.stderr)
        return 1
    print(f"{args.file}: OK")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve CalDAV/CardDAV until Ctrl-C or SIGTERM."""
    from groupware import serving

    path = args.config or str(config_module.DEMO_CONFIG)
    problems = _problems(path)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    loaded = config_module.load(path)
    logs.setup(loaded.radicale_sections.get("logging", {}).get("level", "info"))
    log.info(
        "starting",
        extra={
            "event": "starting",
            "version": __version__,
            "config": path,
            "directory": loaded.directory.type,
        },
    )
    serving.install_signal_handlers()
    from groupware import lmtp_door, managesieve_door

    return lmtp_door.run_beside(serving.Server(loaded), loaded, managesieve_door.run_beside)


def cmd_sieve(args: argparse.Namespace) -> int:
    """Delegate ``groupware sieve …`` to the Sieve module's command line."""
    from groupware import managesieve_door

    if managesieve_door.handles(args.rest):  # a user's scripts in the configured store
        return managesieve_door.cli(args.rest)
    try:
        from groupware.sieve import cli as sieve_cli
    except ImportError as exc:  # pragma: no cover - the module ships with the package
        print(f"groupware sieve is unavailable: {exc}", file=sys.stderr)
        return 2
    return int(sieve_cli.main(list(args.rest)))


def cmd_directory_generate(args: argparse.Namespace) -> int:
    """Write a synthetic académie directory (LDIF) for trials and benchmarks."""
    from groupware.directory import generate

    argv = ["--staff", str(args.staff), "--out", args.out, "--seed", str(args.seed)]
    return int(generate.main(argv) or 0)


def _radicale_folder(folder: str, fsync: bool) -> Any:
    """Stock Radicale ``multifilesystem`` storage on ``folder`` (the directory holding ``collection-root``)."""
    import radicale.config
    import radicale.storage

    configuration = radicale.config.load()
    configuration.update(
        {
            "storage": {
                "type": "multifilesystem",
                "filesystem_folder": folder,
                "_filesystem_fsync": str(fsync),
            }
        },
        "groupware storage",
        privileged=True,
    )
    return radicale.storage.load(configuration)


def _configured_storage(path: str | None) -> Any:
    import radicale.storage

    from groupware import server

    server.patch_radicale()
    return radicale.storage.load(server.radicale_configuration(_load(path)))


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


def _storage_collections(storage: Any) -> Iterator[tuple[str, dict[str, str], list[Any]]]:
    """(path, properties, items) of every calendar and address book of a Radicale storage plugin."""
    with storage.acquire_lock("r"):
        for collection in _leaf_collections(storage):
            yield collection.path, dict(collection.get_meta()), list(collection.get_all())


def _folder_collections(folder: str) -> Iterator[tuple[str, dict[str, str], list[Any]]]:
    """(path, properties, items) of every calendar and address book of a stock Radicale folder, read as files.

    Texts are kept byte for byte and nothing is written into the folder (Radicale's own storage would parse each
    item twice and leave its item cache behind).
    """
    import radicale.item

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
        items = []
        for name in sorted(files):
            if name.startswith(".") or not os.path.isfile(os.path.join(directory, name)):
                continue
            with open(os.path.join(directory, name), encoding="utf-8", newline="") as stream:
                items.append(radicale.item.Item(collection_path=path, href=name, text=stream.read()))
        yield path, props, items


def _copy_collections(
    source: Iterable[tuple[str, dict[str, str], list[Any]]], target: Any, label: str
) -> tuple[int, int, int]:
    """Copy collections (properties, items, hrefs) into ``target``; progress and refused items on stderr.

    Returns the number of collections, of items copied and of items refused (not a calendar object or vCard).
    """
    collections = items = refused = 0
    for path, props, entries in source:
        with target.acquire_lock("w"):  # one transaction per collection: a running server waits no longer
            copied, _, _ = target.create_collection("/" + path + "/", props=props)
            for done, item in enumerate(entries, 1):
                try:
                    copied.upload(item.href, item)
                    items += 1
                except Exception as exc:
                    refused += 1
                    print(f"\n{label}: /{path}/{item.href} refused: {exc}", file=sys.stderr)
                if done % 500 == 0 or done == len(entries):
                    _progress(label, path, done, len(entries))
        if not entries:
            _progress(label, path, 0, 0)
        collections += 1
    return collections, items, refused


def _progress(label: str, path: str, done: int, total: int) -> None:
    width = 30
    filled = width if total == 0 else width * done // total
    end = "\n" if done == total else "\r"
    print(
        f"{label} /{path}/ [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}",
        end=end,
        file=sys.stderr,
        flush=True,
    )


def cmd_storage_import(args: argparse.Namespace) -> int:
    """Copy a stock Radicale folder (the one holding ``collection-root``) into the configured storage."""
    if not os.path.isdir(os.path.join(args.folder, "collection-root")):
        print(f"{args.folder}: no collection-root inside: not a Radicale storage folder", file=sys.stderr)
        return 1
    collections, items, refused = _copy_collections(
        _folder_collections(args.folder), _configured_storage(args.config), "import"
    )
    print(
        f"imported {collections} collections, {items} items from {args.folder}"
        + (f"; {refused} items refused (see above)" if refused else "")
    )
    return 1 if refused else 0


def cmd_storage_export(args: argparse.Namespace) -> int:
    """Write the configured storage out as a stock Radicale folder (``DIR/collection-root``)."""
    if os.path.exists(os.path.join(args.dir, "collection-root")):
        print(f"{args.dir}: already holds a collection-root; export into an empty folder", file=sys.stderr)
        return 1
    collections, items, refused = _copy_collections(
        _storage_collections(_configured_storage(args.config)),
        _radicale_folder(args.dir, fsync=True),
        "export",
    )
    print(
        f"exported {collections} collections, {items} items to {args.dir}"
        + (f"; {refused} items refused (see above)" if refused else "")
    )
    return 1 if refused else 0


def _add_storage_commands(sub: Any) -> None:
    storage = sub.add_parser("storage", help="move collections between groupware and a Radicale folder")
    storage_sub = storage.add_subparsers(dest="storage_command", required=True)
    imp = storage_sub.add_parser("import", help="import a Radicale folder (items, properties, hrefs kept)")
    imp.add_argument("folder", help="the folder that holds collection-root")
    imp.add_argument("--config", help="configuration file (default: the demo configuration)")
    imp.set_defaults(func=cmd_storage_import)
    exp = storage_sub.add_parser("export", help="export everything as a Radicale folder")
    exp.add_argument("dir", help="an empty or new folder")
    exp.add_argument("--config", help="configuration file (default: the demo configuration)")
    exp.set_defaults(func=cmd_storage_export)


def cmd_agenda(args: argparse.Namespace) -> int:
    """``groupware agenda …``: shared agendas and their grants, on the running servers' database."""
    from groupware.sharing import cli as agenda_cli
    from groupware.sharing_door import command_line_service

    loaded = _loaded(args.config)
    if loaded is None:
        return 1
    return agenda_cli.run(command_line_service(loaded), args)


def cmd_addressbooks(args: argparse.Namespace) -> int:
    """``groupware addressbooks sync``: the academic address books from the directory."""
    from groupware import addressbooks_door

    loaded = _loaded(args.config)
    return 1 if loaded is None else addressbooks_door.run(loaded, args)


def cmd_accounts(args: argparse.Namespace) -> int:
    """``groupware accounts lockouts|unlock``: the lockouts every server process counts, in the database."""
    from groupware.accounts.lockouts import DatabaseThrottle
    from groupware.sharing_door import sharing_database_path
    from groupware.store.database import Database

    loaded = _loaded(args.config)
    if loaded is None:
        return 1
    throttle = DatabaseThrottle(
        Database(sharing_database_path(loaded)), loaded.accounts.failure_window, loaded.accounts.lockout
    )
    if args.accounts_command == "unlock":
        if throttle.unlock(args.subject):
            print(f"{args.subject}: unlocked")
            return 0
        print(f"{args.subject}: not locked out (see `groupware accounts lockouts`)", file=sys.stderr)
        return 1
    for subject, until in throttle.lockouts():
        print(f"{subject}\tuntil {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(until))}")
    return 0


def _add_accounts_commands(sub: Any) -> None:
    accounts = sub.add_parser("accounts", help="login lockouts: list, unlock")
    accounts_sub = accounts.add_subparsers(dest="accounts_command", required=True)
    listing = accounts_sub.add_parser("lockouts", help="logins and client addresses locked out now")
    listing.add_argument("--config", help="configuration file (default: the demo configuration)")
    unlock = accounts_sub.add_parser("unlock", help="lift a lockout at once (it also ends by itself)")
    unlock.add_argument("subject", help="as listed: login:prenom.nom or addr:192.0.2.1")
    unlock.add_argument("--config", help="configuration file (default: the demo configuration)")
    for command in (listing, unlock):
        command.set_defaults(func=cmd_accounts)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``groupware`` command."""
    parser = argparse.ArgumentParser(prog="groupware", description=__doc__)
    parser.add_argument("--version", action="version", version=f"groupware {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve CalDAV/CardDAV (the demo without --config)")
    serve.add_argument("--config", help="configuration file (default: the demo configuration)")
    serve.set_defaults(func=cmd_serve)
    check = sub.add_parser("check-config", help="check a configuration file")
    check.add_argument("file")
    check.set_defaults(func=cmd_check_config)
    sieve = sub.add_parser("sieve", help="check and test Sieve scripts", add_help=False)
    sieve.add_argument("rest", nargs=argparse.REMAINDER)
    sieve.set_defaults(func=cmd_sieve)
    agenda = sub.add_parser(
        "agenda", help="shared agendas: create, list, show, grant, revoke, delete, provision"
    )
    from groupware.sharing.cli import add_arguments

    add_arguments(agenda)
    agenda.set_defaults(func=cmd_agenda)
    books = sub.add_parser("addressbooks", help="academic address books from the directory: sync")
    from groupware.addressbooks_door import add_arguments as add_addressbook_arguments

    add_addressbook_arguments(books)
    books.set_defaults(func=cmd_addressbooks)
    directory = sub.add_parser("directory", help="directory tools")
    directory_sub = directory.add_subparsers(dest="directory_command", required=True)
    gen = directory_sub.add_parser("generate", help="write a synthetic académie directory as LDIF")
    gen.add_argument("--staff", type=int, default=52000)
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--out", required=True)
    gen.set_defaults(func=cmd_directory_generate)
    _add_storage_commands(sub)
    _add_accounts_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``groupware`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
