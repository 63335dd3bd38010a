# SPDX-License-Identifier: GPL-3.0-or-later
"""Academic address books from a directory of 52,000 generated staff in a private slapd.

Steps: load the generated académie (cached by ``_common.generated_directory``) into slapd; ``groupware
addressbooks sync`` into an empty storage (the full first sync, académie book plus one book per établissement,
contact groups included); ``groupware serve`` on that storage; then, with the server running, resyncs with no
change and after 10 people changed in LDAP (the client's sync-collection must show exactly 10 changes in the
académie book); finally a client's no-change sync-collection and an addressbook-query on a name (RFC 6352
§8.6) on the académie book as a member sees it in their home.

    python benchmarks/addressbooks.py [--staff 52000] [--runs 3] [--requests 30]

Targets: first sync ≤ 60 s, resync with no change ≤ 10 s, exactly 10 changes visible after 10 changes,
no-change sync-collection ≤ 10 ms, addressbook-query on a name ≤ 50 ms (medians). A resync with no change ends
after the directory's fingerprint; ``--full`` resyncs (the whole directory read and compared) and resyncs
after changes are held to the first sync's 60 s. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BenchmarkError,
    ServerProcess,
    active_uids,
    environment,
    free_port,
    generated_directory,
    log,
    markdown_table,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DAV = "{DAV:}"
TARGETS = {
    "first sync": 60.0,
    "resync, no change": 10.0,
    "resync --full, no change": 60.0,
    "resync, 10 changes": 60.0,
    "sync-collection, no change": 0.010,
    "addressbook-query on a name": 0.050,
}
QUERY = (
    '<?xml version="1.0"?><C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
    '<D:prop><D:getetag/><C:address-data/></D:prop><C:filter><C:prop-filter name="FN">'
    '<C:text-match match-type="contains">{text}</C:text-match></C:prop-filter></C:filter>'
    "</C:addressbook-query>"
)
SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token>'
    "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
)


def call(
    conn: http.client.HTTPConnection, who: str, method: str, path: str, body: str, depth: str = "1"
) -> tuple[int, bytes]:
    token = base64.b64encode(f"{who}:{who}-pw".encode()).decode()
    conn.request(
        method,
        path,
        body=body.encode(),
        headers={"Authorization": f"Basic {token}", "Depth": depth, "Content-Type": "application/xml"},
    )
    response = conn.getresponse()
    return response.status, response.read()


def sync_command(config: Path, *options: str) -> tuple[float, str]:
    """``groupware addressbooks sync`` in a child process: wall seconds and its report."""
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "groupware.cli",
            "addressbooks",
            "sync",
            "--quiet",
            *options,
            "--config",
            str(config),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise BenchmarkError(f"sync failed: {done.stderr[-2000:]}")
    return time.monotonic() - started, done.stdout


def write_config(workdir: Path, slapd: object, port: int) -> Path:
    config = workdir / "groupware.conf"
    config.write_text(
        f"""[server]
hosts = 127.0.0.1:{port}
[storage]
filesystem_folder = {workdir / "collections"}
[logging]
level = warning
[directory]
type = ldap
uri = {slapd.uri}
base_dn = {slapd.base_dn}
people_dn = ou=people,{slapd.base_dn}
groups_dn = ou=groups,{slapd.base_dn}
bind_dn = {slapd.service_dn}
bind_password = {slapd.service_password}
disabled_filter = (employeeType=inactif)
groups_from = memberof
page_size = 1000
timeout = 120
[addressbooks]
enabled = true
interval = 0
""",
        encoding="utf-8",
    )
    return config


def sync_token(conn: http.client.HTTPConnection, who: str, book: str, token: str = "") -> tuple[str, int]:
    status, data = call(conn, who, "REPORT", book, SYNC.format(token=token))
    if status != 207:
        raise BenchmarkError(f"sync-collection answered {status}: {data[:300]!r}")
    root = ET.fromstring(data)
    return root.findtext(DAV + "sync-token") or "", len(root.findall(DAV + "response"))


def timed(conn: http.client.HTTPConnection, who: str, book: str, body: str, requests: int) -> list[float]:
    times = []
    for index in range(requests + 3):
        started = time.perf_counter()
        status, _ = call(conn, who, "REPORT", book, body)
        if status != 207:
            raise BenchmarkError(f"REPORT answered {status}")
        if index >= 3:  # warm-up
            times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=52000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args(argv)
    from groupware.directory.slapd import Slapd

    ldif = generated_directory(args.staff)
    people = active_uids(ldif, 40)
    results: dict[str, list[float]] = {}
    visible: list[int] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-addressbooks-") as tmp,
        Slapd(str(ldif), memberof=True) as slapd,
    ):
        workdir, port = Path(tmp), free_port()
        log(f"slapd loaded {args.staff:,} staff in {slapd.load_seconds:.1f} s")
        config = write_config(workdir, slapd, port)
        seconds, report = sync_command(config)
        results["first sync"] = [seconds]
        log(f"first sync: {seconds:.1f} s; {report.strip().splitlines()[-1]}")
        command = [sys.executable, "-m", "groupware.cli", "serve", "--config", str(config)]
        with ServerProcess("groupware", command, port, workdir, env={"PYTHONPATH": str(ROOT)}):
            reader, book = people[0], f"/{people[0]}/annuaire-academie/"
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            results["resync, no change"] = [sync_command(config)[0] for _ in range(args.runs)]
            results["resync --full, no change"] = [
                sync_command(config, "--full")[0] for _ in range(args.runs)
            ]
            results["resync, 10 changes"] = []
            for run in range(args.runs):
                token, _ = sync_token(conn, reader, book)
                for uid in people[1 + run * 10 : 11 + run * 10]:
                    slapd.modify(f"uid={uid},ou=people,{slapd.base_dn}", {"title": [f"Fonction {run}"]})
                results["resync, 10 changes"].append(sync_command(config)[0])
                visible.append(sync_token(conn, reader, book, token)[1])
            token, _ = sync_token(conn, reader, book)
            results["sync-collection, no change"] = timed(
                conn, reader, book, SYNC.format(token=token), args.requests
            )
            results["addressbook-query on a name"] = timed(
                conn, reader, book, QUERY.format(text="lefèvre"), args.requests
            )
    rows = []
    for name, values in results.items():
        median = statistics.median(values)
        unit, scale = ("s", 1.0) if TARGETS[name] >= 1 else ("ms", 1000.0)
        rows.append(
            [
                name,
                f"{median * scale:.{1 if unit == 's' else 2}f} {unit}",
                f"≤ {TARGETS[name] * scale:g} {unit}",
                str(len(values)),
                "yes" if median <= TARGETS[name] else "NO",
            ]
        )
    rows.append(
        [
            "changes visible after 10 changes",
            ", ".join(map(str, visible)),
            "exactly 10",
            str(len(visible)),
            "yes" if visible and all(v == 10 for v in visible) else "NO",
        ]
    )
    print(markdown_table(["step", "median", "target", "runs", "met"], rows))
    print()
    print(markdown_table(["", ""], environment({"staff": f"{args.staff:,}"})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
