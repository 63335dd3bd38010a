# SPDX-License-Identifier: GPL-3.0-or-later
"""The servers of ``storage.py``: configuration, fastest legitimate loading of the generated data, start.

* ``stock``: Radicale 3.9, ``multifilesystem``, htpasswd (plain) auth, ``owner_only`` rights. Served by
  default under waitress (16 threads, HTTP/1.1 keep-alive: the same HTTP server as ours, so the comparison is
  about storage and the DAV engine); ``--stock-server radicale`` runs Radicale's built-in server instead
  (HTTP/1.0, one connection per request, 8 connections at most). Loaded by copying the generated
  ``collection-root``: it is exactly what Radicale would have written.
* ``xandikos``: ``xandikos serve`` (aiohttp), no auth (it has none over plain HTTP). Each collection is made
  with ``xandikos create-collection`` (a git repository with a work tree), the files are copied in and
  committed at once with ``git add`` / ``git commit``: what Xandikos reads is the git index and tree, and one
  commit of all items is what an import would produce (PUTs would make one commit each).
* ``ours``: ``groupware serve`` with the demo directory and its default ``[server] workers = auto`` (one
  process per core; the peak RSS and CPU reported are those of all its processes, summed). With
  ``groupware.plugins.storage`` installed the data is imported with ``groupware storage import`` when that
  command exists, else PUT over HTTP by parallel clients; without the plugin, the default storage (Radicale's
  ``multifilesystem``) is used and loaded by copy like stock.

Run as a script, this module serves a Radicale configuration under waitress: ``python _storage_servers.py
waitress CONFIG``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, BenchmarkError, ServerProcess, free_port, log, process_tree, run_together
from _storage_data import BOOK, CALENDAR, PASSWORD, USER, Dataset

from groupware.runtime.http import WORKER_THREADS
from groupware.runtime.workers import worker_count

STOCK, XANDIKOS, OURS = "stock", "xandikos", "ours"
SERVERS = (STOCK, XANDIKOS, OURS)
PLUGIN = "groupware.plugins.storage"
DEMO_DIRECTORY = ROOT / "config" / "demo-directory.ldif"
WAITRESS_THREADS = 16


@dataclass
class Prepared:
    """A server ready to start: its process, how it was loaded, and what to load after it starts (if any)."""

    name: str
    process: ServerProcess
    description: str
    load_seconds: float = 0.0
    load_how: str = ""
    load_after_start: Callable[[int], float] | None = None
    notes: list[str] = field(default_factory=list)


def plugin_available() -> bool:
    """Whether ``groupware.plugins.storage`` is installed (the indexed engine)."""
    try:
        return importlib.util.find_spec(PLUGIN) is not None
    except ModuleNotFoundError:
        return False


def _groupware_command() -> list[str]:
    near = Path(sys.executable).with_name("groupware")
    return [str(near)] if near.exists() else [sys.executable, "-m", "groupware.cli"]


def _copy_root(dataset: Dataset, target: Path) -> float:
    """Copy the generated ``collection-root`` into ``target`` (without caches or locks anyone left there)."""
    started = time.monotonic()
    ignore = shutil.ignore_patterns(".Radicale.cache", ".Radicale.lock", ".Radicale.tmp-*")
    shutil.copytree(dataset.root / "collection-root", target / "collection-root", ignore=ignore)
    return time.monotonic() - started


# --- stock --------------------------------------------------------------------------------------------------


def _stock(dataset: Dataset, workdir: Path, builtin: bool) -> Prepared:
    port = free_port()
    folder = workdir / "stock-storage"
    seconds = _copy_root(dataset, folder)
    htpasswd = workdir / "users"
    htpasswd.write_text(f"{USER}:{PASSWORD}\n", encoding="utf-8")
    config = workdir / "stock.conf"
    config.write_text(
        "\n".join(
            [
                "[server]",
                f"hosts = 127.0.0.1:{port}",
                "timeout = 900",
                "[auth]",
                "type = htpasswd",
                f"htpasswd_filename = {htpasswd}",
                "htpasswd_encryption = plain",
                "delay = 0",
                "[rights]",
                "type = owner_only",
                "[storage]",
                f"filesystem_folder = {folder}",
                "[web]",
                "type = none",
                "[logging]",
                "level = warning",
                "",
            ]
        ),
        encoding="utf-8",
    )
    if builtin:
        command = [sys.executable, "-m", "radicale", "--config", str(config)]
        how = "Radicale's built-in server (HTTP/1.0, closes every connection, max_connections 8)"
    else:
        command = [sys.executable, str(Path(__file__).resolve()), "waitress", str(config)]
        how = f"radicale.Application under waitress ({WAITRESS_THREADS} threads, HTTP/1.1 keep-alive)"
    process = ServerProcess(STOCK, command, port, workdir, startup_timeout=60)
    return Prepared(STOCK, process, f"Radicale multifilesystem, {how}", seconds, "copy of collection-root")


# --- xandikos -----------------------------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@localhost",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@localhost",
    }
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        raise BenchmarkError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip()[-1000:]}")


def _xandikos(dataset: Dataset, workdir: Path) -> Prepared:
    binary = Path(sys.executable).with_name("xandikos")
    if not binary.exists() and shutil.which("xandikos") is None:
        raise BenchmarkError("xandikos not found: pip install xandikos (or pip install -e '.[bench]')")
    xandikos = str(binary) if binary.exists() else "xandikos"
    port = free_port()
    root = workdir / "xandikos-storage"
    home = root / USER
    home.mkdir(parents=True)
    started = time.monotonic()
    for name, kind, source in (
        (BOOK, "addressbook", dataset.book_dir),
        (CALENDAR, "calendar", dataset.calendar_dir),
    ):
        result = subprocess.run(
            [xandikos, "create-collection", "-d", str(home), "--type", kind, "--name", name],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            raise BenchmarkError(f"xandikos create-collection failed: {result.stderr.strip()[-1000:]}")
        target = home / name
        for entry in os.scandir(source):
            if not entry.name.startswith("."):
                shutil.copyfile(entry.path, target / entry.name)
        _git(target, "add", "-A", ".")
        _git(target, "commit", "-q", "-m", f"import {name}")
    seconds = time.monotonic() - started
    command = [
        xandikos,
        "serve",
        "-d",
        str(root),
        "-l",
        "127.0.0.1",
        "-p",
        str(port),
        "--current-user-principal",
        f"/{USER}/",
        "--no-detect-systemd",
    ]
    process = ServerProcess(XANDIKOS, command, port, workdir, startup_timeout=60)
    return Prepared(
        XANDIKOS,
        process,
        "xandikos serve (aiohttp), git store, no auth",
        seconds,
        "xandikos create-collection, then one git commit of all items",
    )


# --- ours ---------------------------------------------------------------------------------------------------


def _import_command() -> list[str] | None:
    """``groupware storage import`` with the arguments its help shows, or None when it does not exist yet."""
    result = subprocess.run(
        [*_groupware_command(), "storage", "import", "--help"], capture_output=True, text=True, check=False
    )
    if result.returncode:
        return None
    return [
        *_groupware_command(),
        "storage",
        "import",
        *(["--config"] if "--config" in result.stdout else []),
    ]


def _ours(dataset: Dataset, workdir: Path, storage: str, options: Sequence[str], threads: int) -> Prepared:
    port = free_port()
    folder = workdir / "ours-storage"
    use_plugin = storage == PLUGIN or (storage == "auto" and plugin_available())
    lines = [
        "[server]",
        f"hosts = 127.0.0.1:{port}",
        "timeout = 900",
        "max_connections = 100",
        "[storage]",
        f"filesystem_folder = {folder}",
    ]
    if use_plugin:
        lines.append(f"type = {PLUGIN}")
    lines += [option.replace("=", " = ", 1) for option in options]
    lines += [
        "[logging]",
        "level = warning",
        "[directory]",
        "type = ldif",
        f"file = {DEMO_DIRECTORY}",
        "disabled_filter = (employeeType=inactif)",
        "[accounts]",
        "admin_group = cn=groupware-admins,ou=groups,dc=ac-montpellier,dc=fr",
        "",
    ]
    config = workdir / "ours.conf"
    config.write_text("\n".join(lines), encoding="utf-8")
    process = ServerProcess(
        OURS, [*_groupware_command(), "serve", "--config", str(config)], port, workdir, startup_timeout=60
    )
    kind = PLUGIN if use_plugin else "default storage (Radicale multifilesystem)"
    if not use_plugin and not plugin_available():
        kind += f"; {PLUGIN} is not installed"
    prepared = Prepared(
        OURS,
        process,
        f"groupware serve ([server] workers = auto: {worker_count('auto')} processes "
        f"× {WORKER_THREADS} waitress threads), {kind}",
    )
    folder.mkdir()
    if not use_plugin:
        prepared.load_seconds, prepared.load_how = _copy_root(dataset, folder), "copy of collection-root"
        return prepared
    command = _import_command()
    if command is not None:
        source = workdir / "import-source"  # a copy: the import may leave Radicale's caches in its source
        copy_seconds = _copy_root(dataset, source)
        started = time.monotonic()
        argv = [*command, str(config)] if command[-1] == "--config" else command
        result = subprocess.run([*argv, str(source)], capture_output=True, text=True, check=False)
        shutil.rmtree(source, ignore_errors=True)
        if result.returncode:
            raise BenchmarkError(f"groupware storage import failed: {result.stderr.strip()[-2000:]}")
        prepared.load_seconds = time.monotonic() - started
        prepared.load_how = f"groupware storage import (of a copy made in {copy_seconds:.1f} s, not counted)"
        return prepared
    prepared.load_how = f"PUT over HTTP, {threads} parallel keep-alive clients (no import command yet)"
    prepared.load_after_start = lambda p: bulk_put(p, dataset, threads)
    return prepared


def bulk_put(port: int, dataset: Dataset, threads: int) -> float:
    """PUT every generated item into the running server (MKCOL first); return the seconds it took."""
    from _storage_client import DavClient, extended_mkcol

    started = time.monotonic()
    client = DavClient(port)
    for name, kind in ((BOOK, "addressbook"), (CALENDAR, "calendar")):
        status, body = client.request("MKCOL", f"/{USER}/{name}/", extended_mkcol(kind))
        if status not in (201, 405):
            raise BenchmarkError(f"MKCOL /{USER}/{name}/ answered {status}: {body[:500]!r}")
    jobs = [
        (f"/{USER}/{BOOK}/{e.name}", e.path, "text/vcard")
        for e in os.scandir(dataset.book_dir)
        if not e.name.startswith(".")
    ]
    jobs += [
        (f"/{USER}/{CALENDAR}/{e.name}", e.path, "text/calendar")
        for e in os.scandir(dataset.calendar_dir)
        if not e.name.startswith(".")
    ]
    lock, failures, done = threading.Lock(), [], [0]

    def worker() -> None:
        mine = DavClient(port)
        while True:
            with lock:
                if not jobs:
                    return
                href, path, ctype = jobs.pop()
            status, _body = mine.request(
                "PUT",
                href,
                Path(path).read_bytes(),
                {"Content-Type": f"{ctype}; charset=utf-8", "If-None-Match": "*"},
            )
            with lock:
                done[0] += 1
                if status != 201:
                    failures.append(f"{href}: {status}")
                if done[0] % 5000 == 0:
                    log(f"{done[0]:,} items PUT")

    run_together([worker] * threads)
    if failures:
        raise BenchmarkError(f"{len(failures)} PUTs failed while loading, e.g. {failures[:3]}")
    return time.monotonic() - started


def prepare(
    name: str,
    dataset: Dataset,
    workdir: Path,
    stock_server: str,
    our_storage: str,
    our_options: Sequence[str],
    load_threads: int,
) -> Prepared:
    """The server ``name`` with its configuration and data in ``workdir/`` (loaded unless done over HTTP)."""
    log(f"{name}: loading {dataset.contacts:,} cards and {dataset.events:,} events")
    if name == STOCK:
        prepared = _stock(dataset, workdir, builtin=stock_server == "radicale")
    elif name == XANDIKOS:
        prepared = _xandikos(dataset, workdir)
    else:
        prepared = _ours(dataset, workdir, our_storage, our_options, load_threads)
    if prepared.load_after_start is None:
        log(f"{name}: loaded in {prepared.load_seconds:.1f} s ({prepared.load_how})")
    return prepared


def peak_rss_mb(pid: int) -> float | None:
    """The peak resident set size (``VmHWM``) in MB of the process and its worker processes, summed (each
    process's own peak), or None when it cannot be read."""
    total, found = 0.0, False
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text(encoding="ascii")
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total, found = total + int(line.split()[1]) / 1024, True
    return total if found else None


def _serve_waitress(config_path: str) -> None:
    """Serve a Radicale configuration file with radicale.Application under waitress."""
    import radicale
    import radicale.config
    import radicale.log
    import waitress

    configuration = radicale.config.load([(config_path, False)])
    radicale.log.setup()
    radicale.log.set_level(
        configuration.get("logging", "level"), configuration.get("logging", "backtrace_on_debug")
    )
    host, port = configuration.get("server", "hosts")[0]
    waitress.serve(
        radicale.Application(configuration),
        host=host,
        port=port,
        threads=WAITRESS_THREADS,
        connection_limit=100,
        channel_timeout=900,
        ident="radicale",
    )


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "waitress":
        sys.exit("usage: python _storage_servers.py waitress RADICALE_CONFIG")
    _serve_waitress(sys.argv[2])
