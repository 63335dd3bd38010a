# SPDX-License-Identifier: GPL-3.0-or-later
"""A normal client's latency while 1,000 idle and 300 slow-header connections are held open (issue 13).

Two servers, one after the other, each in its own process with fresh storage and the same people (the demo
directory's, passwords ``<uid>-demo``):

* ``groupware``: ``groupware serve`` on ``config/demo-directory.ldif`` in one process (``[server] workers =
  1``), ``[limits] max_connections = 2000`` so that every attacker can be held; the other bounds at their
  defaults (100 connections per client address, 10 s for a request's headers, ``[server] timeout`` 30 s);
* ``stock``: stock Radicale 3.9 (``python -m radicale``), its built-in server and defaults (``max_connections
  = 8``, ``timeout = 30``), ``htpasswd`` logins of the same people (plain), ``owner_only`` rights.

For each server, two scenarios with the same normal client:

* ``baseline``: nothing else talks to the server;
* ``under attack``: a child process holds 1,000 idle connections (connected, silent) and 300 slow-header
  connections (one byte of a never-ending header every second), from 127.0.0.2 up with at most 50 per source
  address, and opens again every connection the server closes (see ``_overload_attack.py``). The attack is
  given up to 30 s to connect (less once their count has stopped growing for 5 s: the server's listen queue
  is full), then the client runs while it holds.

The normal client, from 127.0.0.1, runs 4 threads for a warm-up (not measured) and then 15 s: half of them do
*requests* (``PROPFIND Depth: 0`` of the own home with Basic credentials on a kept-alive connection, a new one
when the server closes it, its connect time then counted), the other half *logins* (a new TCP connection, the
same PROPFIND with Basic credentials, close). Each thread waits 20 ms between requests (a client, not a load
generator). A request fails when it raises (a 5 s client timeout on connect and on each read) or does not
answer 207; failed requests count in the latencies at the time they took, and a request counts when it
overlaps the measured window, however long it takes (a timeout that began in the warm-up too). Once a second
the benchmark reads ``/proc/net/tcp`` for the attacking connections the server has accepted (not just queued)
and those established on the attackers' side; the table gives their medians over the measured window.

    python benchmarks/overload.py [--idle 1000] [--slow 300] [--per-address 50] [--seconds 15] [--quick]
                                  [--profile] [--check]

Target (issue 13): under attack, groupware's logins and requests keep p99 ≤ 200 ms. Exit status: 2 when a
server fails to start or dies; 1 with ``--check`` when groupware misses the target.
"""

from __future__ import annotations

import argparse
import base64
import collections
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ROOT,
    BenchmarkError,
    Request,
    ServerProcess,
    all_active_uids,
    environment,
    free_port,
    log,
    markdown_table,
    percentile,
    process_cpu_seconds,
    provision,
    py_spy,
    start_profile,
    summarize_profile,
)
from _overload_attack import Attack, count_connections

DEMO_LDIF = ROOT / "config" / "demo-directory.ldif"
ADMIN_GROUP = "cn=groupware-admins,ou=groups,dc=ac-montpellier,dc=fr"
PROPFIND_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<propfind xmlns="DAV:"><prop><resourcetype/>'
    b"<displayname/><current-user-principal/></prop></propfind>"
)
OURS, STOCK = "groupware", "stock"
BASELINE, ATTACK = "baseline", "under attack"
REQUESTS, LOGINS = "requests", "logins"
TARGET_P99_MS = 200.0

# Where groupware's interpreter time goes under attack: each sample goes to the first area a frame is in.
PROFILE_AREAS: list[tuple[str, list[str]]] = [
    ("request in a worker thread (Radicale, ours, waitress task)", ["waitress/task.py"]),
    ("loop: our channel's checks (connections.py)", ["groupware/runtime/connections.py"]),
    ("loop: a channel's readable()/writable() (waitress)", ["readable (", "writable ("]),
    ("loop: reading, parsing, accepting, closing (waitress)", ["readwrite (", "handle_accept"]),
    ("loop: poll(2) registration of every channel, the wait", ["poll2 ("]),
    ("maintenance (idle timeouts)", ["maintenance ("]),
]


@dataclass
class Result:
    """One server, scenario and kind of client request: latencies (s), errors by kind, attack counts."""

    server: str
    scenario: str
    kind: str
    latencies: list[float]
    errors: collections.Counter[str]
    held: int | None = None
    established: int | None = None
    server_cpu: float = 0.0
    attack_stats: dict[str, int] = field(default_factory=dict)

    @property
    def p50_ms(self) -> float:
        """Median latency in ms."""
        return percentile(sorted(self.latencies), 0.50) * 1000

    @property
    def p99_ms(self) -> float:
        """99th percentile latency in ms."""
        return percentile(sorted(self.latencies), 0.99) * 1000


def demo_people(ldif: Path = DEMO_LDIF) -> list[str]:
    """The uids of the demo directory's people who may log in (not the admin, not the disabled)."""
    return all_active_uids(ldif)


def propfind(uid: str) -> Request:
    """``PROPFIND Depth: 0`` of ``uid``'s home with Basic credentials (password ``<uid>-demo``)."""
    token = base64.b64encode(f"{uid}:{uid}-demo".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Depth": "0", "Content-Type": "application/xml"}
    return Request("PROPFIND", f"/{uid}/", headers, PROPFIND_BODY)


# --- servers ------------------------------------------------------------------------------------------------


def our_config(path: Path, port: int, storage: Path, max_connections: int) -> Path:
    """groupware on the demo directory, one process, room for every attacker; other limits at defaults."""
    path.write_text(
        f"""[server]
hosts = 127.0.0.1:{port}
workers = 1

[storage]
filesystem_folder = {storage}

[logging]
level = warning

[directory]
type = ldif
file = {DEMO_LDIF}
disabled_filter = (employeeType=inactif)

[accounts]
admin_group = {ADMIN_GROUP}

[limits]
max_connections = {max_connections}
""",
        encoding="utf-8",
    )
    return path


def stock_config(path: Path, port: int, storage: Path, people: Sequence[str]) -> Path:
    """Stock Radicale: built-in server with its defaults, htpasswd (plain) logins, owner_only rights."""
    users = path.with_name("htpasswd")
    users.write_text("".join(f"{uid}:{uid}-demo\n" for uid in people), encoding="utf-8")
    path.write_text(
        f"""[server]
hosts = 127.0.0.1:{port}

[auth]
type = htpasswd
htpasswd_filename = {users}
htpasswd_encryption = plain

[rights]
type = owner_only

[storage]
filesystem_folder = {storage}

[web]
type = none

[logging]
level = warning
""",
        encoding="utf-8",
    )
    return path


def server_process(name: str, workdir: Path, people: Sequence[str], max_connections: int) -> ServerProcess:
    """The process for server ``name``, with its own configuration and fresh storage under ``workdir``."""
    port = free_port()
    storage = workdir / f"{name}-collections"
    storage.mkdir()
    python = sys.executable
    config = workdir / f"{name}.conf"
    if name == OURS:
        our_config(config, port, storage, max_connections)
        groupware = Path(python).with_name("groupware")
        command = (
            [str(groupware), "serve", "--config", str(config)]
            if groupware.exists()
            else [python, "-m", "groupware", "serve", "--config", str(config)]
        )
    else:
        stock_config(config, port, storage, people)
        command = [python, "-m", "radicale", "--config", str(config)]
    return ServerProcess(name, command, port, workdir)


# --- the normal client --------------------------------------------------------------------------------------


@dataclass
class Window:
    """When a client run starts, starts measuring and stops (``time.monotonic``)."""

    start: float
    measure_from: float
    measure_to: float


def one_request(
    conn: http.client.HTTPConnection | None, port: int, request: Request, timeout: float, keep: bool
) -> tuple[http.client.HTTPConnection | None, str]:
    """Send ``request`` (on ``conn`` if it is open, else on a new connection); return the connection to keep
    (None when closed) and an error kind (empty when the answer was the expected one)."""
    try:
        if conn is None or conn.sock is None:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            conn.connect()
        conn.request(request.method, request.path, body=request.body, headers=dict(request.headers))
        response = conn.getresponse()
        response.read()
        kind = "" if response.status == request.expect else f"HTTP {response.status}"
        if response.will_close or not keep:
            conn.close()
            conn = None
        return conn, kind
    except TimeoutError:
        kind = "timeout"
    except (OSError, http.client.HTTPException) as exc:
        kind = type(exc).__name__
    if conn is not None:
        conn.close()
    return None, kind


def client_thread(
    port: int,
    plan: Sequence[Request],
    keep: bool,
    window: Window,
    args: argparse.Namespace,
    latencies: list[float],
    errors: collections.Counter[str],
) -> None:
    """One thread of the normal client: ``plan`` in a cycle until the window ends, ``args.pause`` apart; a
    request counts when it overlaps the measured window, however long it takes (a timeout with its 5 s)."""
    conn: http.client.HTTPConnection | None = None
    time.sleep(max(0.0, window.start - time.monotonic()))
    i = 0
    while (began := time.monotonic()) < window.measure_to:
        conn, kind = one_request(conn, port, plan[i % len(plan)], args.timeout, keep)
        i += 1
        ended = time.monotonic()
        if ended > window.measure_from:
            latencies.append(ended - began)
            if kind:
                errors[kind] += 1
        time.sleep(args.pause)
    if conn is not None:
        conn.close()


def run_client(
    server: ServerProcess,
    scenario: str,
    people: Sequence[str],
    args: argparse.Namespace,
    attack: Attack | None,
) -> list[Result]:
    """Run the normal client on ``server`` for a warm-up and ``args.seconds``; one result per kind.

    Even threads do requests on kept-alive connections, odd ones logins on new connections, each from its own
    offset in the list of people. While it runs, the attacking connections are counted once a second.
    """
    start = time.monotonic() + 0.2
    window = Window(start, start + args.warmup, start + args.warmup + args.seconds)
    requests = [propfind(uid) for uid in people]
    kinds = [REQUESTS if index % 2 == 0 else LOGINS for index in range(args.threads)]
    samples: list[list[float]] = [[] for _ in kinds]
    errors: dict[str, collections.Counter[str]] = {
        REQUESTS: collections.Counter(),
        LOGINS: collections.Counter(),
    }
    threads = []
    for index, kind in enumerate(kinds):
        offset = index * len(requests) // args.threads
        plan = requests[offset:] + requests[:offset]
        threads.append(
            threading.Thread(
                target=client_thread,
                args=(server.port, plan, kind == REQUESTS, window, args, samples[index], errors[kind]),
                daemon=True,
            )
        )
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, window.measure_from - time.monotonic()))
    cpu_before = process_cpu_seconds(server.pid)
    held, established = [], []
    while time.monotonic() < window.measure_to:
        if attack is not None:
            accepted, open_ = count_connections(server.port, attack.sources)
            held.append(accepted)
            established.append(open_)
        time.sleep(min(1.0, max(0.0, window.measure_to - time.monotonic())))
    server_cpu = (process_cpu_seconds(server.pid) - cpu_before) / args.seconds
    for thread in threads:
        thread.join(timeout=args.timeout * 2 + 30)
    stats = attack.stats() if attack is not None else {}
    results = []
    for kind in (REQUESTS, LOGINS):
        merged = [x for index, values in enumerate(samples) if kinds[index] == kind for x in values]
        results.append(
            Result(
                server.name,
                scenario,
                kind,
                merged,
                errors[kind],
                round(statistics.median(held)) if held else None,
                round(statistics.median(established)) if established else None,
                server_cpu,
                stats,
            )
        )
    return results


def measure(
    server: ServerProcess,
    people: Sequence[str],
    args: argparse.Namespace,
    workdir: Path,
    profiles: list[str],
) -> list[Result]:
    """Provision the people, then run the baseline and the attack scenarios on one running server (with
    ``--profile``, groupware is then sampled under the attack and the same client, not measured)."""
    failed = provision(server.port, [propfind(uid) for uid in people], timeout=args.timeout * 4)
    if failed == len(people):
        raise BenchmarkError(f"{server.name}: every first login failed: {server.log_tail()}")
    log(f"{server.name}: {len(people)} first logins ({failed} failed)")
    results = run_client(server, BASELINE, people, args, None)
    server.check_alive()
    log(f"{server.name}: baseline " + ", ".join(f"{r.kind} p99 {r.p99_ms:.1f} ms" for r in results))
    with Attack(server.port, args.idle, args.slow, args.per_address, args.interval) as attack:
        waited = attack.wait_open(args.ramp)
        accepted, open_ = count_connections(server.port, attack.sources)
        log(
            f"{server.name}: attack of {args.idle + args.slow}: {attack.open_now()} connected after "
            f"{waited:.1f} s ({accepted} accepted by the server, {open_} established)"
        )
        results += run_client(server, ATTACK, people, args, attack)
        log(f"{server.name}: attack counters {attack.stats()}")
        if args.profile and server.name == OURS:
            profiles.append(profile(server, people, args, workdir))
    server.check_alive()
    log(f"{server.name}: under attack " + ", ".join(f"{r.kind} p99 {r.p99_ms:.1f} ms" for r in results[2:]))
    return results


def profile(server: ServerProcess, people: Sequence[str], args: argparse.Namespace, workdir: Path) -> str:
    """Sample ``server`` with py-spy (the thread holding the GIL) while the client runs once more under the
    attack still held; the summary by area."""
    raw = workdir / f"{server.name}.gil.pyspy.txt"
    profiler = start_profile(server.pid, args.seconds, raw, gil=True)
    time.sleep(1.0)  # py-spy attaches
    run_client(server, ATTACK, people, args, None)
    _, error = profiler.communicate(timeout=120)
    if not raw.exists():
        return f"py-spy gave nothing: {error.decode(errors='replace').strip()[-500:]}"
    return summarize_profile(raw, areas=PROFILE_AREAS)


# --- report -------------------------------------------------------------------------------------------------


def error_cell(result: Result) -> str:
    """Error count, with its kinds."""
    total = sum(result.errors.values())
    if not total:
        return "0"
    return f"{total} ({', '.join(f'{k}: {v}' for k, v in result.errors.most_common())})"


def count_cell(value: int | None, of: int) -> str:
    """``held / attackers`` or ``-``."""
    return "-" if value is None else f"{value:,} / {of:,}"


def ratio(value: float, base: float) -> str:
    """``value / base`` as ``1.23x`` (two significant digits under 0.1), or ``-``."""
    if not base:
        return "-"
    quotient = value / base
    return f"{quotient:.2f}x" if quotient >= 0.1 else f"{quotient:.2g}x"


def report(results: Sequence[Result], args: argparse.Namespace) -> tuple[str, list[str], list[str]]:
    """The table, the groupware/stock ratios and the verdicts on the target."""
    attackers = args.idle + args.slow
    rows = [
        [
            r.server,
            r.scenario,
            r.kind,
            f"{len(r.latencies):,}",
            error_cell(r),
            f"{r.p50_ms:.1f}" if r.latencies else "-",
            f"{r.p99_ms:.1f}" if r.latencies else "-",
            count_cell(r.held, attackers),
            count_cell(r.established, attackers),
            f"{r.server_cpu:.0%}",
        ]
        for r in results
    ]
    headers = [
        "server",
        "scenario",
        "client",
        "requests",
        "errors",
        "p50 ms",
        "p99 ms",
        "attackers held by the server",
        "attackers connected",
        "server CPU",
    ]
    table = markdown_table(headers, rows, "lll" + "r" * 7)
    by_key = {(r.server, r.scenario, r.kind): r for r in results}
    ratios = []
    for scenario in (BASELINE, ATTACK):
        for kind in (REQUESTS, LOGINS):
            ours, stock = by_key.get((OURS, scenario, kind)), by_key.get((STOCK, scenario, kind))
            if ours and stock and stock.p99_ms and stock.latencies:
                ratios.append(
                    f"- {scenario}, {kind}: p99 {ratio(ours.p99_ms, stock.p99_ms)}, "
                    f"p50 {ratio(ours.p50_ms, stock.p50_ms)}, "
                    f"requests {ratio(len(ours.latencies), len(stock.latencies))}"
                )
    verdicts = []
    for kind in (REQUESTS, LOGINS):
        ours = by_key.get((OURS, ATTACK, kind))
        if ours is not None:
            ok = ours.p99_ms <= TARGET_P99_MS and bool(ours.latencies)
            verdicts.append(
                f"- {'PASS' if ok else 'FAIL'} groupware {kind} under attack: p99 {ours.p99_ms:.1f} ms "
                f"≤ {TARGET_P99_MS:.0f} ms ({error_cell(ours)} errors, {count_cell(ours.held, attackers)} "
                "attackers held)"
            )
    title = (
        f"Normal client ({args.threads} threads, {args.pause * 1000:g} ms apart, {args.seconds:g} s measured "
        f"after {args.warmup:g} s warm-up) with and without {args.idle:,} idle and {args.slow:,} slow-header "
        f"connections (at most {args.per_address} per source address)"
    )
    return title + "\n\n" + table, ratios, verdicts


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle", type=int, default=1000, help="idle attacking connections (1000)")
    parser.add_argument("--slow", type=int, default=300, help="slow-header attacking connections (300)")
    parser.add_argument("--per-address", type=int, default=50, help="attacking connections per address (50)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between slow bytes (1)")
    parser.add_argument("--ramp", type=float, default=30.0, help="seconds the attack has to connect (30)")
    parser.add_argument("--threads", type=int, default=4, help="normal client threads, half logins (4)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per scenario (15)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds, not measured (3)")
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between a thread's requests")
    parser.add_argument("--timeout", type=float, default=5.0, help="client timeout in seconds (5)")
    parser.add_argument(
        "--max-connections", type=int, default=2000, help="groupware's [limits] max_connections (2000)"
    )
    parser.add_argument("--servers", default=f"{OURS},{STOCK}", help="comma-separated subset of the servers")
    parser.add_argument("--quick", action="store_true", help="smoke test: 100 idle, 30 slow, 3 s")
    parser.add_argument("--check", action="store_true", help="exit 1 when groupware misses the target")
    parser.add_argument(
        "--profile", action="store_true", help="then sample groupware under attack with py-spy (not measured)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.idle, args.slow = min(args.idle, 100), min(args.slow, 30)
        args.seconds, args.warmup, args.ramp = 3.0, 1.0, 5.0
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if set(args.servers) - {OURS, STOCK}:
        parser.error(f"unknown servers: {', '.join(sorted(set(args.servers) - {OURS, STOCK}))}")
    if args.profile and py_spy() is None:
        parser.error("--profile needs py-spy: pip install py-spy")
    if args.threads < 2:
        parser.error("--threads must be at least 2 (requests and logins)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table, ratios, verdicts and environment."""
    args = parse_args(argv)
    started = time.monotonic()
    people = demo_people()
    results: list[Result] = []
    profiles: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="groupware-bench-overload-") as tmp:
            for name in args.servers:
                log(f"{name}: starting")
                with server_process(name, Path(tmp), people, args.max_connections) as server:
                    results += measure(server, people, args, Path(tmp), profiles)
    except BenchmarkError as exc:
        print(f"overload benchmark: {exc}", file=sys.stderr)
        return 2
    table, ratios, verdicts = report(results, args)
    print()
    print(table)
    if ratios:
        print("\ngroupware / stock:")
        print("\n".join(ratios))
    if verdicts:
        print(f"\nTarget for groupware (issue 13): p99 ≤ {TARGET_P99_MS:.0f} ms under attack")
        print("\n".join(verdicts))
    for summary in profiles:
        print("\n## Profile of groupware under attack: GIL-holding samples (py-spy)\n")
        print(summary)
    print("\nEnvironment:\n")
    extra = {
        "groupware server": f"waitress, 1 process, [limits] max_connections = {args.max_connections}",
        "stock server": "Radicale built-in (HTTP/1.0, closes every connection), max_connections 8 (default)",
        "attack": (
            f"{args.idle} idle + {args.slow} slow ({args.interval:g} s per byte), "
            f"{args.per_address} per address"
        ),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "run time": f"{time.monotonic() - started:.0f} s",
    }
    print(markdown_table(["what", "value"], environment(extra), "ll"))
    missed = any(line.startswith("- FAIL") for line in verdicts)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
