# SPDX-License-Identifier: GPL-3.0-or-later
"""DAV conformance of ``groupware serve`` against stock Radicale, in one run: caldav-server-tester and litmus.

Both servers start fresh, each in its own process on 127.0.0.1, with the same people and the same rights
policy:

* stock: ``python -m radicale`` (built-in server, ``multifilesystem``), htpasswd (plain) with the demo
  directory's people and passwords, and a ``from_file`` rights file that says what
  ``groupware.plugins.rights`` says (read the root; ``RW`` on one's own home, ``rw`` on the collections in it;
  the administrator also ``RW`` on any top-level collection and ``rw`` below it), so that only the DAV engine
  and the storage differ;
* ours: ``groupware serve`` on ``config/demo-directory.ldif``, with the storage type under test (Radicale's
  default, or ``groupware.plugins.storage``).

Then, against each:

* ``caldav-server-tester`` (the caldav library's server checker) as ``helene.lefevre``: every feature it
  probes, with a support level (``full``, ``fragile``, ``unsupported``, ``broken``…);
* ``litmus`` (WebDAV: basic, copymove, props, locks, http) as ``admin.groupware`` at ``/``: litmus needs to
  create a plain collection ``/litmus/`` and only the administrator may (everyone else owns only their home,
  which is created on login). Radicale keeps only calendar and address-book items, so the PUTs of plain files
  fail on both.

Ours is no worse than stock when no check ranks lower on ours than on stock (litmus: pass > pass with warning
> failed or skipped; caldav-server-tester: full > fragile or quirk > unknown or unsupported > broken or
ungraceful).

    python tests/conformance/run_dav_conformance.py [--storage default|groupware.plugins.storage] [--json OUT]

prints both result tables and exits 1 when ours is worse on some check, 2 when a tool or server is missing.
"""

from __future__ import annotations

import argparse
import ast
import collections
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_DIRECTORY = ROOT / "config" / "demo-directory.ldif"
PLUGIN = "groupware.plugins.storage"
DEFAULT = "default"
TESTER = ("helene.lefevre", "helene.lefevre-demo")
LITMUS_USER = ("admin.groupware", "admin-demo")
LITMUS_SUITES = "basic copymove props locks http"
ADMIN_GROUP = "cn=groupware-admins,ou=groups,dc=ac-montpellier,dc=fr"
# The rights of groupware.plugins.rights, in Radicale's from_file syntax (the administrator is a named user).
STOCK_RIGHTS = """\
[root]
user: .+
collection:
permissions: R
[admin]
user: admin\\.groupware
collection: [^/]+
permissions: RrWw
[admin-below]
user: admin\\.groupware
collection: [^/]+/[^/]+
permissions: rw
[home]
user: .+
collection: {user}
permissions: RrWw
[home-collections]
user: .+
collection: {user}/[^/]+
permissions: rw
"""
LITMUS_RANK = {"pass": 3, "warning": 2, "fail": 1, "skipped": 1}
TESTER_RANK = {
    "full": 3,
    "fragile": 2,
    "quirk": 2,
    "unknown": 1,
    "unsupported": 1,
    "broken": 0,
    "ungraceful": 0,
}


class ConformanceError(RuntimeError):
    """A tool or a server could not run; the message says why."""


def storage_types() -> list[str]:
    """The storage types ours is checked with: Radicale's default, and the indexed engine once it is
    installed.

    The list grows by itself: when the module ``groupware.plugins.storage`` can be imported, its type joins.
    Another engine (a PostgreSQL one, say) joins by adding its dotted name to the candidates below.
    """
    types = [DEFAULT]
    for candidate in (PLUGIN,):
        try:
            if importlib.util.find_spec(candidate) is not None:
                types.append(candidate)
        except ModuleNotFoundError:
            pass
    return types


# --- servers ------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _groupware() -> list[str]:
    near = Path(sys.executable).with_name("groupware")
    return [str(near)] if near.exists() else [sys.executable, "-m", "groupware.cli"]


@contextmanager
def _process(name: str, command: list[str], port: int, workdir: Path) -> Iterator[str]:
    """Run ``command`` until the block ends; yield its base URL once the port accepts connections."""
    log = workdir / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise ConformanceError(f"{name} exited at start: {log.read_text(errors='replace')[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise ConformanceError(f"{name} did not listen within 30 s") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL when the process is still there 10 s later."""
    for stop, grace in ((process.terminate, 10.0), (process.kill, 5.0)):
        if process.poll() is not None:
            return
        stop()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def stock_server(workdir: Path) -> Iterator[str]:
    """Stock Radicale with the same people and rights policy as ours; yields its base URL."""
    port = _free_port()
    (workdir / "stock-collections").mkdir()
    (workdir / "stock-users").write_text(
        "".join(f"{u}:{p}\n" for u, p in (TESTER, LITMUS_USER)), encoding="utf-8"
    )
    (workdir / "stock-rights").write_text(STOCK_RIGHTS, encoding="utf-8")
    config = workdir / "stock.conf"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {workdir / 'stock-users'}\nhtpasswd_encryption = "
        "plain\n"
        "delay = 0\n"
        f"[rights]\ntype = from_file\nfile = {workdir / 'stock-rights'}\n"
        f"[storage]\nfilesystem_folder = {workdir / 'stock-collections'}\n"
        "[web]\ntype = none\n[logging]\nlevel = warning\n",
        encoding="utf-8",
    )
    with _process("stock", [sys.executable, "-m", "radicale", "--config", str(config)], port, workdir) as url:
        yield url


@contextmanager
def our_server(workdir: Path, storage: str) -> Iterator[str]:
    """``groupware serve`` on the demo directory with ``storage`` (``default`` or a dotted type)."""
    port = _free_port()
    name = "ours-" + storage.rsplit(".", 1)[-1]
    folder = workdir / f"{name}-collections"
    folder.mkdir()
    config = workdir / f"{name}.conf"
    storage_type = "" if storage == DEFAULT else f"type = {storage}\n"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n[storage]\nfilesystem_folder = {folder}\n{storage_type}"
        f"[logging]\nlevel = warning\n[directory]\ntype = ldif\nfile = {DEMO_DIRECTORY}\n"
        f"disabled_filter = (employeeType=inactif)\n[accounts]\nadmin_group = {ADMIN_GROUP}\n",
        encoding="utf-8",
    )
    with _process(name, [*_groupware(), "serve", "--config", str(config)], port, workdir) as url:
        yield url


# --- tools --------------------------------------------------------------------------------------------------


@dataclass
class Results:
    """One tool's verdict per check name on one server, and what it printed."""

    tool: str
    checks: dict[str, str] = field(default_factory=dict)
    output: str = ""


def _tester_binary() -> str:
    near = Path(sys.executable).with_name("caldav-server-tester")
    found = str(near) if near.exists() else shutil.which("caldav-server-tester")
    if not found:
        raise ConformanceError("caldav-server-tester not found: pip install caldav-server-tester")
    return found


def parse_tester_hints(text: str) -> dict[str, str]:
    """caldav-server-tester's ``--format hints`` (a Python dict literal of every observed feature) → verdicts.

    Its JSON collapses sub-features into their parent; the hints keep every feature it observed.
    """
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        return {}
    data = ast.literal_eval(text[start : end + 1])
    checks = {}
    for name, verdict in data.items():
        if isinstance(verdict, dict) and "support" in verdict:
            checks[name] = str(verdict["support"])
        elif (
            isinstance(verdict, dict) and "value" in verdict
        ):  # a measured value, not a verdict: kept for the report
            checks[name] = f"value={verdict['value']}"
    return checks


def run_caldav_tester(url: str, workdir: Path, timeout: float = 120) -> Results:
    """caldav-server-tester as :data:`TESTER` against ``url``: support level per observed feature."""
    command = [
        _tester_binary(),
        "--caldav-url",
        url,
        "--caldav-username",
        TESTER[0],
        "--caldav-password",
        TESTER[1],
        "--format",
        "hints",
    ]
    env = {**os.environ, "HOME": str(workdir)}  # no caldav configuration file of the machine is read
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    try:
        checks = parse_tester_hints(proc.stdout)
    except (SyntaxError, ValueError):
        checks = {}
    if not checks:
        raise ConformanceError(
            f"caldav-server-tester gave no verdicts ({proc.returncode}): {proc.stderr[-2000:]}"
        )
    return Results("caldav-server-tester", checks, proc.stdout + proc.stderr)


def parse_litmus(text: str) -> dict[str, str]:
    """litmus's report → ``{"suite.NN.test": "pass" | "warning" | "fail" | "skipped"}``."""
    results: dict[str, str] = {}
    suite, current = "", ""
    for line in text.replace("\r", "\n").splitlines():
        running = re.match(r"-> running `([\w-]+)'", line)
        if running:
            suite, current = running.group(1), ""
            continue
        test = re.match(r"\s*(\d+)\.\s*(\w+?)(?:\.+|\s)\s*(.*)$", line)
        continuation = re.match(r"\s+\.{3,}\s*(.*)$", line)
        if test:
            current, rest = f"{suite}.{int(test.group(1)):02d}.{test.group(2)}", test.group(3)
        elif continuation and current:
            rest = continuation.group(1)
        else:
            continue
        if rest.startswith("pass"):
            results[current] = "warning" if "warning" in rest else "pass"
        elif rest.startswith("FAIL"):
            results[current] = "fail"
        elif rest.startswith("SKIPPED"):
            results[current] = "skipped"
    return results


def run_litmus(url: str, workdir: Path, timeout: float = 120) -> Results:
    """litmus's suites as :data:`LITMUS_USER` at ``url``: pass, warning, fail or skipped per test."""
    binary = shutil.which("litmus")
    if binary is None:
        raise ConformanceError("litmus not found: apt-get install litmus")
    env = {**os.environ, "TESTS": LITMUS_SUITES}
    proc = subprocess.run(
        [binary, "-k", url, *LITMUS_USER],
        capture_output=True,
        timeout=timeout,
        check=False,
        env=env,
        cwd=workdir,
    )
    text = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
    checks = parse_litmus(text)
    if not checks:
        raise ConformanceError(f"litmus gave no results ({proc.returncode}): {text[-2000:]}")
    return Results("litmus", checks, text)


# --- comparison ---------------------------------------------------------------------------------------------


def _rank(tool: str, verdict: str | None) -> int:
    if verdict is None:
        return -1
    if verdict.startswith("value="):
        return 0
    ranks = LITMUS_RANK if tool == "litmus" else TESTER_RANK
    return ranks.get(verdict, 1)


def worse(stock: Results, ours: Results) -> dict[str, tuple[str, str]]:
    """The checks where ours ranks lower than stock: ``{name: (stock's verdict, ours)}``."""
    out = {}
    for name, verdict in stock.checks.items():
        if verdict.startswith("value="):
            continue
        mine = ours.checks.get(name)
        if _rank(stock.tool, mine) < _rank(stock.tool, verdict):
            out[name] = (verdict, mine or "(not run)")
    return out


def tally(results: Results) -> str:
    """How many checks got each verdict: ``pass 29, fail 15, skipped 60``."""
    counts = collections.Counter(v for v in results.checks.values() if not v.startswith("value="))
    return ", ".join(f"{verdict} {count}" for verdict, count in counts.most_common())


@dataclass
class Run:
    """Both tools on stock and on ours (one storage type)."""

    storage: str
    stock: dict[str, Results]
    ours: dict[str, Results]

    def regressions(self) -> dict[str, dict[str, tuple[str, str]]]:
        """Per tool, the checks where ours is worse than stock, leaving out the :data:`DELIBERATE`
        differences."""
        return {
            tool: {
                name: verdicts
                for name, verdicts in worse(self.stock[tool], self.ours[tool]).items()
                if (tool, name) not in DELIBERATE
            }
            for tool in self.stock
        }

    def table(self) -> str:
        """A markdown table of every check that is not the same on both, then the failure counts."""
        lines = [f"## ours = groupware serve, storage {self.storage}", ""]
        for tool, stock in self.stock.items():
            ours = self.ours[tool]
            lines += [f"### {tool}: stock {tally(stock)}; ours {tally(ours)}", ""]
            differing = sorted(
                n for n in set(stock.checks) | set(ours.checks) if stock.checks.get(n) != ours.checks.get(n)
            )
            if not differing:
                lines += ["same verdict on every check", ""]
                continue
            lines += ["| check | stock | ours |", "| --- | --- | --- |"]
            lines += [f"| {n} | {stock.checks.get(n, '-')} | {ours.checks.get(n, '-')} |" for n in differing]
            lines.append("")
        return "\n".join(lines)


#: Where we answer differently from stock Radicale on purpose, and why.
DELIBERATE: dict[tuple[str, str], str] = {
    (
        "caldav-server-tester",
        "sync-token.invalid-token",
    ): "an unknown sync token gets 400 with DAV:valid-sync-token instead of RFC 6578 §3.2's 403: Thunderbird "
    "starts its sync over only on 400 (on 403 it stops syncing the address book); DAVx5 reads the element "
    "whatever the status",
}


def run_all(workdir: Path, storages: list[str] | None = None) -> list[Run]:
    """Stock once, then ours with each storage type; both tools against each."""
    tools = {"caldav-server-tester": run_caldav_tester, "litmus": run_litmus}
    stock: dict[str, Results] = {}
    with stock_server(workdir) as url:
        for name, tool in tools.items():
            stock[name] = tool(url, workdir)
    runs = []
    for storage in storages or storage_types():
        ours: dict[str, Results] = {}
        with our_server(workdir, storage) as url:
            for name, tool in tools.items():
                ours[name] = tool(url, workdir)
        runs.append(Run(storage, stock, ours))
    return runs


def to_json(runs: list[Run]) -> Mapping[str, object]:
    """Every verdict of the run, for keeping or comparing later."""
    return {
        "stock": {tool: r.checks for tool, r in runs[0].stock.items()} if runs else {},
        "ours": {run.storage: {tool: r.checks for tool, r in run.ours.items()} for run in runs},
    }


def main(argv: list[str] | None = None) -> int:
    """Run and print; exit 1 when ours is worse than stock on a check, 2 when something could not run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--storage",
        action="append",
        help=f"storage type of ours (repeatable; default: {', '.join(storage_types())})",
    )
    parser.add_argument("--json", help="also write every verdict to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="groupware-conformance-") as tmp:
        try:
            runs = run_all(Path(tmp), args.storage)
        except (ConformanceError, subprocess.TimeoutExpired) as exc:
            print(f"conformance: {exc}", file=sys.stderr)
            return 2
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(runs), indent=2, sort_keys=True), encoding="utf-8")
    status = 0
    for run in runs:
        print(run.table())
        for tool, names in run.regressions().items():
            for name, (theirs, mine) in sorted(names.items()):
                print(f"WORSE {run.storage} {tool} {name}: stock {theirs}, ours {mine}")
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
