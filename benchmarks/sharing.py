# SPDX-License-Identifier: GPL-3.0-or-later
"""Listing a calendar home with many agendas shared to the user's groups: groupware against stock Radicale
3.9.

Setup, the same for every server: ``--agendas`` (200) calendars, each owned by another owner and shared with a
group the user belongs to (alternately ``enseignants`` and ``personnels``). Then the user's client lists their
home, the way Thunderbird and DAVx5 discover calendars: ``PROPFIND Depth: 1`` of ``/<user>/`` asking display
name, resource type, privilege set, ctag and colour. A few warm-up requests, then ``--requests`` measured
ones, a new connection each (stock Radicale's built-in server closes every connection).

* ``groupware``: ``groupware serve`` (our sharing database in the storage engine's SQLite file; agendas
  created and granted through the admin API, groups are the directory's DNs);
* ``stock-csv`` and ``stock-files``: ``python -m radicale`` with ``[sharing] type = csv`` / ``files``,
  htpasswd logins, htgroup groups, ``owner_only`` rights; every owner creates their calendar and shares it
  with ``User=":group"`` through Radicale's own ``/.sharing/v1/map/create``.

    python benchmarks/sharing.py [--agendas 200] [--requests 40] [--check]

Target: groupware's median under 100 ms. Prints a markdown table with ratios (stock ÷ groupware).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchmarkError, ServerProcess, environment, free_port, log, markdown_table

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "helene.lefevre", "helene.lefevre-demo"
ADMIN = ("admin.groupware", "admin-demo")
ETAB = "ou=etab-0341234A,ou=groups,dc=ac-montpellier,dc=fr"
GROUPS = (f"cn=enseignants,{ETAB}", f"cn=personnels,{ETAB}")
LISTING = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"'
    b' xmlns:I="http://apple.com/ns/ical/"><D:prop><D:resourcetype/><D:displayname/>'
    b"<D:current-user-privilege-set/><CS:getctag/><I:calendar-color/></D:prop></D:propfind>"
)
TARGET_MS = 100.0


def call(
    port: int,
    method: str,
    path: str,
    who: tuple[str, str],
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    token = base64.b64encode(f"{who[0]}:{who[1]}".encode()).decode()
    conn.request(method, path, body=body, headers={"Authorization": f"Basic {token}", **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def expect(result: tuple[int, bytes], *statuses: int) -> None:
    if result[0] not in statuses:
        raise BenchmarkError(f"unexpected answer {result[0]}: {result[1][:300]!r}")


def measure(port: int, requests: int, warmup: int = 5) -> tuple[list[float], int]:
    """Times (ms) of the home listing and the number of shared collections it showed."""
    times, shared = [], 0
    for index in range(warmup + requests):
        started = time.perf_counter()
        status, body = call(port, "PROPFIND", f"/{USER}/", (USER, PASSWORD), LISTING, {"Depth": "1"})
        elapsed = (time.perf_counter() - started) * 1000
        if status != 207:
            raise BenchmarkError(f"listing answered {status}: {body[:300]!r}")
        if index >= warmup:
            times.append(elapsed)
        shared = sum(1 for href in ET.fromstring(body).iter("{DAV:}href") if "agenda-" in (href.text or ""))
    return times, shared


# --- groupware
# ------------------------------------------------------------------------------------------------
def groupware_server(workdir: Path, agendas: int) -> tuple[ServerProcess, Callable[[int], None]]:
    port = free_port()
    config = workdir / "groupware.conf"
    config.write_text(
        f"""[server]
hosts = 127.0.0.1:{port}
[storage]
filesystem_folder = {workdir / "collections"}
[logging]
level = warning
[directory]
type = ldif
file = {ROOT / "config" / "demo-directory.ldif"}
[accounts]
admin_group = cn=groupware-admins,ou=groups,dc=ac-montpellier,dc=fr
""",
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "groupware.cli", "serve", "--config", str(config)]
    server = ServerProcess("groupware", command, port, workdir, env={"PYTHONPATH": str(ROOT)})

    def populate(port: int) -> None:
        api = "/.groupware/api/v1/agendas"
        for i in range(agendas):
            path = f"/org-{i:03d}/agenda-{i:03d}/"
            expect(
                call(port, "POST", api, ADMIN, json.dumps({"path": path, "title": f"Agenda {i}"}).encode()),
                201,
            )
            grant = json.dumps({"grantee": GROUPS[i % 2], "level": "read"}).encode()
            expect(call(port, "POST", f"{api}{path}grants", ADMIN, grant), 200)

    return server, populate


# --- stock Radicale
# -------------------------------------------------------------------------------------------
def stock_server(workdir: Path, agendas: int, database: str) -> tuple[ServerProcess, Callable[[int], None]]:
    port = free_port()
    owners = [f"owner-{i:03d}" for i in range(agendas)]
    users = [f"{USER}:{PASSWORD}", *(f"{owner}:{owner}-pw" for owner in owners)]
    (workdir / "users").write_text("".join(f"{line}\n" for line in users), encoding="utf-8")
    (workdir / "groups").write_text(f"enseignants: {USER}\npersonnels: {USER}\n", encoding="utf-8")
    config = workdir / "radicale.conf"
    config.write_text(
        f"""[server]
hosts = 127.0.0.1:{port}
[auth]
type = htpasswd
htpasswd_filename = {workdir / "users"}
htpasswd_encryption = plain
delay = 0
[group]
type = htgroup
htgroup_filename = {workdir / "groups"}
htgroup_cache = True
[rights]
type = owner_only
[storage]
filesystem_folder = {workdir / "collections"}
[sharing]
type = {database}
collection_by_map = True
permit_create_map = True
[logging]
level = warning
""",
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "radicale", "--config", str(config)]
    server = ServerProcess(f"stock-{database}", command, port, workdir)

    def populate(port: int) -> None:
        call(port, "PROPFIND", f"/{USER}/", (USER, PASSWORD), headers={"Depth": "0"})
        for i, owner in enumerate(owners):
            who, path = (owner, f"{owner}-pw"), f"/{owner}/agenda-{i:03d}/"
            call(port, "PROPFIND", f"/{owner}/", who, headers={"Depth": "0"})
            expect(call(port, "MKCALENDAR", path, who), 201)
            share = {
                "PathMapped": path,
                "PathOrToken": f"/{{user}}/agenda-{i:03d}/",
                "Permissions": "r",
                "User": ":" + ("enseignants", "personnels")[i % 2],
                "Enabled": True,
                "Hidden": False,
            }
            expect(
                call(
                    port,
                    "POST",
                    "/.sharing/v1/map/create",
                    who,
                    json.dumps(share).encode(),
                    {"Content-Type": "application/json"},
                ),
                200,
            )

    return server, populate


def run(
    name: str,
    factory: Callable[..., tuple[ServerProcess, Callable[[int], None]]],
    agendas: int,
    requests: int,
    *extra: str,
) -> tuple[str, list[float], int]:
    with tempfile.TemporaryDirectory(prefix=f"bench-sharing-{name}-") as tmp:
        server, populate = factory(Path(tmp), agendas, *extra)
        with server:
            started = time.monotonic()
            populate(server.port)
            log(f"{name}: {agendas} agendas shared in {time.monotonic() - started:.1f} s")
            times, shared = measure(server.port, requests)
            server.check_alive()
    log(f"{name}: median {statistics.median(times):.1f} ms, {shared} shared agendas listed")
    return name, times, shared


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agendas", type=int, default=200)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 unless groupware's median < {TARGET_MS} ms"
    )
    args = parser.parse_args(argv)
    try:
        results = [
            run("groupware", groupware_server, args.agendas, args.requests),
            run("stock-csv", stock_server, args.agendas, args.requests, "csv"),
            run("stock-files", stock_server, args.agendas, args.requests, "files"),
        ]
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    ours = statistics.median(results[0][1])
    rows = []
    for name, times, shared in results:
        median = statistics.median(times)
        p90 = statistics.quantiles(times, n=10)[-1]
        rows.append(
            [name, str(shared), f"{median:.1f}", f"{p90:.1f}", f"{min(times):.1f}", f"{median / ours:.2f}"]
        )
    print(
        f"## Home listing with {args.agendas} agendas shared to the user's groups (PROPFIND Depth 1, "
        f"{args.requests} requests)\n"
    )
    print(markdown_table(["server", "shared listed", "median ms", "p90 ms", "min ms", "÷ groupware"], rows))
    print()
    print(markdown_table(["", ""], environment()))
    if any(shared != args.agendas for _, _, shared in results):
        print("warning: a server did not list every shared agenda", file=sys.stderr)
    return 1 if args.check and ours >= TARGET_MS else 0


if __name__ == "__main__":
    sys.exit(main())
