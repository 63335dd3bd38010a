# SPDX-License-Identifier: GPL-3.0-or-later
"""Authenticated small-request throughput with LDAP login: groupware against stock Radicale 3.9 (issue 2).

One slapd is loaded with a generated académie (52,000 staff by default; the LDIF is cached), then, one after
the other and with the same client, three servers each in its own process and with its own fresh storage:

* ``stock-uncached``: ``python -m radicale``, built-in server, ``[auth] type = ldap``, ``cache_logins =
  False``;
* ``stock-cached``: the same with ``cache_logins = True``;
* ``groupware``: ``groupware serve`` (waitress, HTTP/1.1 keep-alive, our accounts layer) on the same slapd.

Workload: ``PROPFIND Depth: 0`` of the user's own home ``/<uid>/`` with HTTP Basic, from 20 client threads,
each cycling over the same 200 people (at its own offset). Every person first logs in once (provisioning, not
measured), then a warm-up period runs under full load and is left out. The Python client keeps connections
alive when the server allows it and reconnects when it closes; ``wrk`` then drives each server with the same
requests to show whether the Python client is the bottleneck. Prints a markdown table with ratios, and the
environment.

    python benchmarks/auth.py [--staff 52000] [--threads 20] [--seconds 10] [--quick] [--profile]

Targets: groupware ≥ 3x stock-uncached, not slower than stock-cached, p99 < 50 ms at 20 client threads. Exit
status: 2 when a server fails to start or dies; 1 with ``--check`` when a target is missed.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BenchmarkError,
    LoadResult,
    Request,
    ServerProcess,
    active_uids,
    environment,
    free_port,
    generated_directory,
    log,
    markdown_table,
    provision,
    py_spy,
    python_load,
    start_profile,
    summarize_profile,
    wrk_load,
)

from groupware.directory.slapd import Slapd
from groupware.runtime.http import WORKER_THREADS

PROPFIND_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<propfind xmlns="DAV:"><prop><resourcetype/>'
    b"<displayname/><current-user-principal/></prop></propfind>"
)
LDAP_FILTER = "(&(objectClass=inetOrgPerson)(uid={0}))"
STOCK_UNCACHED, STOCK_CACHED, OURS = "stock-uncached", "stock-cached", "groupware"

# Where a profile of our server spends its time: each sample goes to the first area one of its frames is in.
PROFILE_AREAS: list[tuple[str, list[str]]] = [
    ("logging", ["logging/__init__.py", "radicale/log.py", "groupware/logs.py"]),
    (
        "authentication (our plugin, accounts, directory)",
        ["plugins/auth.py", "groupware/accounts/", "groupware/directory/", "radicale/auth/"],
    ),
    ("LDAP (ldap3)", ["ldap3/"]),
    ("rights", ["plugins/rights.py", "radicale/rights/"]),
    ("principal enrichment (ours)", ["groupware/principals.py"]),
    ("storage lock file (RwLock: open + flock)", ["RwLock.acquire"]),
    (
        "storage discover (isdir, listdir, meta)",
        ["radicale/storage/multifilesystem/discover.py", "radicale/storage/multifilesystem/meta.py"],
    ),
    ("XML parse and serialise", ["radicale/xmlutils.py", "xml/etree/"]),
    ("PROPFIND building (rest)", ["radicale/app/propfind.py"]),
    ("Radicale request handling (rest)", ["radicale/"]),
    ("waitress (HTTP parsing, socket I/O, task queue)", ["waitress/"]),
]


@dataclass
class Row:
    """One server's results: per client."""

    server: str
    results: dict[str, LoadResult]
    connections_note: str = ""


def workload(uids: Sequence[str]) -> list[Request]:
    """PROPFIND Depth 0 of each person's own home, with Basic credentials (password ``<uid>-pw``)."""
    requests = []
    for uid in uids:
        token = base64.b64encode(f"{uid}:{uid}-pw".encode()).decode()
        requests.append(
            Request(
                "PROPFIND",
                f"/{uid}/",
                {
                    "Authorization": f"Basic {token}",
                    "Depth": "0",
                    "Content-Type": "application/xml; charset=utf-8",
                },
                PROPFIND_BODY,
            )
        )
    return requests


def stock_config(path: Path, port: int, storage: Path, slapd: Slapd, cached: bool) -> Path:
    """A stock Radicale configuration: built-in server, ldap auth, owner_only rights."""
    path.write_text(
        "\n".join(
            [
                "[server]",
                f"hosts = 127.0.0.1:{port}",
                "",
                "[auth]",
                "type = ldap",
                f"ldap_uri = {slapd.uri}",
                f"ldap_base = ou=people,{slapd.base_dn}",
                f"ldap_reader_dn = {slapd.service_dn}",
                f"ldap_secret = {slapd.service_password}",
                f"ldap_filter = {LDAP_FILTER}",
                f"cache_logins = {cached}",
                "",
                "[rights]",
                "type = owner_only",
                "",
                "[storage]",
                f"filesystem_folder = {storage}",
                "",
                "[web]",
                "type = none",
                "",
                "[logging]",
                "level = warning",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return path


def our_config(path: Path, port: int, storage: Path, slapd: Slapd) -> Path:
    """A groupware configuration on the same slapd (defaults for the directory and login caches). One process
    (``workers = 1``): the warm-up fills one login cache and py-spy profiles one process; ``storage.py``
    measures the default of one process per core."""
    path.write_text(
        "\n".join(
            [
                "[server]",
                f"hosts = 127.0.0.1:{port}",
                "workers = 1",
                "",
                "[storage]",
                f"filesystem_folder = {storage}",
                "",
                "[logging]",
                "level = warning",
                "",
                "[directory]",
                "type = ldap",
                f"uri = {slapd.uri}",
                f"base_dn = {slapd.base_dn}",
                f"people_dn = ou=people,{slapd.base_dn}",
                f"groups_dn = ou=groups,{slapd.base_dn}",
                f"bind_dn = {slapd.service_dn}",
                f"bind_password = {slapd.service_password}",
                "disabled_filter = (employeeType=inactif)",
                "",
                "[accounts]",
                f"admin_group = cn=groupware-admins,ou=groups,{slapd.base_dn}",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return path


def server_process(name: str, workdir: Path, slapd: Slapd) -> ServerProcess:
    """The process for server ``name``, with its own configuration and fresh storage under ``workdir``."""
    port = free_port()
    storage = workdir / f"{name}-collections"
    storage.mkdir()
    python = sys.executable
    if name == OURS:
        config = our_config(workdir / f"{name}.conf", port, storage, slapd)
        groupware = Path(python).with_name("groupware")
        command = (
            [str(groupware), "serve", "--config", str(config)]
            if groupware.exists()
            else [python, "-m", "groupware", "serve", "--config", str(config)]
        )
    else:
        config = stock_config(workdir / f"{name}.conf", port, storage, slapd, cached=name == STOCK_CACHED)
        command = [python, "-m", "radicale", "--config", str(config)]
    return ServerProcess(name, command, port, workdir)


def measure(
    server: ServerProcess,
    requests: list[Request],
    args: argparse.Namespace,
    workdir: Path,
    slapd_pid: int | None,
) -> Row:
    """Provision, warm up and measure one running server with the Python client, then with wrk.

    With ``--profile``, groupware is then sampled with py-spy under a further wrk run, apart from the measured
    ones.
    """
    started = time.monotonic()
    failed = provision(server.port, requests)
    log(
        f"{server.name}: {len(requests)} first logins in {time.monotonic() - started:.1f} s ({failed} failed)"
    )
    if failed == len(requests):
        raise BenchmarkError(f"{server.name}: every first login failed: {server.log_tail()}")
    results: dict[str, LoadResult] = {}
    cpu_of = {"server": server.pid, **({"slapd": slapd_pid} if slapd_pid else {})}
    results["python"] = python_load(
        server.port,
        requests,
        args.threads,
        args.seconds,
        args.warmup,
        cpu_of={**cpu_of, "client": os.getpid()},
    )
    server.check_alive()
    log(f"{server.name}: python {results['python'].rate:.0f} req/s, p99 {results['python'].p99_ms:.1f} ms")
    if not args.no_wrk:
        results["wrk"] = wrk_load(server.port, requests, args.threads, args.seconds, workdir, cpu_of=cpu_of)
        server.check_alive()
        log(f"{server.name}: wrk {results['wrk'].rate:.0f} req/s, p99 {results['wrk'].p99_ms:.1f} ms")
    if args.profile and server.name == OURS:
        profile(server, requests, args, workdir)
    return Row(server.name, results)


def profile(server: ServerProcess, requests: list[Request], args: argparse.Namespace, workdir: Path) -> None:
    """Sample ``server`` with py-spy under two more wrk runs (not measured) and print where its time goes.

    First the thread holding the GIL (where the one core of Python work goes: what bounds throughput), then
    every thread py-spy does not see as idle (where requests wait: file locks, sockets).
    """
    for gil, what in (
        (True, "GIL-holding samples: where the interpreter's CPU goes"),
        (False, "non-idle samples of all threads: where requests spend wall time"),
    ):
        raw = workdir / f"{server.name}.{'gil' if gil else 'wall'}.pyspy.txt"
        profiler = start_profile(server.pid, args.seconds, raw, gil=gil)
        time.sleep(1.0)  # py-spy attaches
        if args.no_wrk:
            python_load(server.port, requests, args.threads, args.seconds, 0.0)
        else:
            wrk_load(server.port, requests, args.threads, args.seconds, workdir)
        _, error = profiler.communicate(timeout=120)
        if not raw.exists():
            log(f"py-spy gave nothing: {error.decode(errors='replace').strip()[-500:]}")
            continue
        kept = Path(args.profile_out).with_suffix(f".{'gil' if gil else 'wall'}.txt")
        shutil.copy(raw, kept)
        print(f"\n## Profile of {server.name} under wrk: {what} (py-spy; raw stacks in {kept})\n")
        print(summarize_profile(raw, areas=PROFILE_AREAS), flush=True)


def slapd_pid(slapd: Slapd) -> int | None:
    """slapd's process id, from the pid file its configuration names (None if unreadable)."""
    try:
        return int((slapd.workdir / "slapd.pid").read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def cpu_cell(result: LoadResult, name: str) -> str:
    """CPU ms per request of process ``name`` during ``result``, or ``-``."""
    value = result.cpu_ms_per_request(name)
    return "-" if value is None else f"{value:.2f}"


def ratio(value: float, base: float | None) -> str:
    """``value / base`` as ``1.23x``, or ``-``."""
    return f"{value / base:.2f}x" if base else "-"


def report(rows: Sequence[Row], args: argparse.Namespace, staff: int) -> tuple[str, list[str]]:
    """The markdown table and the verdicts on the issue's targets."""
    by_name = {row.server: row for row in rows}
    table_rows = []
    verdicts = []
    clients = [c for c in ("python", "wrk") if any(c in row.results for row in rows)]
    for client in clients:
        base_uncached = by_name.get(STOCK_UNCACHED)
        base_cached = by_name.get(STOCK_CACHED)
        uncached = (
            base_uncached.results[client].rate if base_uncached and client in base_uncached.results else None
        )
        cached = base_cached.results[client].rate if base_cached and client in base_cached.results else None
        for row in rows:
            result = row.results.get(client)
            if result is None:
                continue
            errors = str(result.errors) + (
                f" ({', '.join(f'{k}: {v}' for k, v in result.error_kinds.items())})" if result.errors else ""
            )
            conns = (
                "-" if result.connections is None else f"{result.connections / max(result.requests, 1):.2f}"
            )
            client_cpu = (
                f"{result.cpu_seconds['client'] / result.seconds:.0%}"
                if "client" in result.cpu_seconds
                else "-"
            )
            table_rows.append(
                [
                    row.server,
                    client,
                    f"{result.rate:.0f}",
                    f"{result.p50_ms:.1f}",
                    f"{result.p99_ms:.1f}",
                    errors,
                    ratio(result.rate, uncached),
                    ratio(result.rate, cached),
                    conns,
                    cpu_cell(result, "server"),
                    cpu_cell(result, "slapd"),
                    client_cpu,
                ]
            )
        ours = by_name.get(OURS)
        if ours and client in ours.results:
            mine = ours.results[client]
            checks = [
                (
                    f"≥ 3x stock-uncached ({ratio(mine.rate, uncached)})",
                    uncached is not None and mine.rate >= 3 * uncached,
                ),
                (
                    f"not slower than stock-cached ({ratio(mine.rate, cached)})",
                    cached is not None and mine.rate >= cached,
                ),
                (f"p99 < 50 ms ({mine.p99_ms:.1f} ms)", mine.p99_ms < 50),
                (f"no errors ({mine.errors})", mine.errors == 0),
            ]
            verdicts += [f"- {client}: {'PASS' if ok else 'MISS'} {what}" for what, ok in checks]
    headers = [
        "server",
        "client",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "vs stock-uncached",
        "vs stock-cached",
        "new conn/req",
        "server CPU ms/req",
        "slapd CPU ms/req",
        "client CPU",
    ]
    title = (
        f"Authenticated PROPFIND Depth 0 of the own home, {args.threads} client threads/connections, "
        f"{len(rows) and args.users} users, {staff:,} staff in slapd, {args.seconds:g} s measured after "
        f"{args.warmup:g} s warm-up"
    )
    return title + "\n\n" + markdown_table(headers, table_rows, "ll" + "r" * 10), verdicts


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--staff", type=int, default=52000, help="people in the generated directory (52000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (1)")
    parser.add_argument("--threads", type=int, default=20, help="client threads = connections (20)")
    parser.add_argument(
        "--users", type=int, default=200, help="distinct people each thread cycles over (200)"
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="measured seconds per server and client (10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="warm-up seconds under load, not measured (3)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: 2,000 staff, 3 s, 1 s warm-up")
    parser.add_argument(
        "--servers",
        default=f"{STOCK_UNCACHED},{STOCK_CACHED},{OURS}",
        help="comma-separated subset of the servers to run",
    )
    parser.add_argument("--no-wrk", action="store_true", help="Python client only")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after measuring, sample groupware with py-spy under one more (unmeasured) wrk run",
    )
    parser.add_argument(
        "--profile-out",
        default="auth-profile.txt",
        help="where to keep the raw py-spy profiles (.gil.txt and .wall.txt)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when groupware misses a target")
    args = parser.parse_args(argv)
    if args.quick:
        args.staff, args.seconds, args.warmup = min(args.staff, 2000), 3.0, 1.0
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(args.servers) - {STOCK_UNCACHED, STOCK_CACHED, OURS}
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    if args.profile and py_spy() is None:
        parser.error("--profile needs py-spy: pip install py-spy")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table, the verdicts and the environment."""
    args = parse_args(argv)
    started = time.monotonic()
    try:
        ldif = generated_directory(args.staff, args.seed)
        uids = active_uids(ldif, args.users)
        requests = workload(uids)
        rows: list[Row] = []
        with tempfile.TemporaryDirectory(prefix="groupware-bench-auth-") as tmp:
            workdir = Path(tmp)
            log(f"loading {ldif.name} into slapd")
            with Slapd(ldif, memberof=True) as slapd:
                log(f"slapd on {slapd.uri} (slapadd {slapd.load_seconds:.1f} s)")
                for name in args.servers:
                    log(f"{name}: starting")
                    with server_process(name, workdir, slapd) as server:
                        rows.append(measure(server, requests, args, workdir, slapd_pid(slapd)))
    except BenchmarkError as exc:
        print(f"auth benchmark: {exc}", file=sys.stderr)
        return 2
    table, verdicts = report(rows, args, args.staff)
    print()
    print(table)
    if verdicts:
        print("\nTargets for groupware (issue 2):")
        print("\n".join(verdicts))
    print("\nEnvironment:\n")
    extra = {
        "stock server": "Radicale built-in (HTTP/1.0, closes every connection), max_connections 8 (default)",
        "groupware server": f"waitress, {WORKER_THREADS} worker threads, HTTP/1.1 keep-alive",
        "logging": "warning for all servers",
        "run time": f"{time.monotonic() - started:.0f} s",
    }
    print(markdown_table(["what", "value"], environment(extra), "ll"))
    missed = any(" MISS " in line for line in verdicts)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
