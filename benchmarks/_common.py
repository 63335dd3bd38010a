# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the benchmarks: cached generated directories, server processes, load clients, reports.

* :func:`generated_directory` writes (once) and caches a synthetic académie LDIF keyed by size, seed and the
  generator's source; :func:`active_uids` picks people from it.
* :class:`ServerProcess` runs a server in its own process, waits for its port and fails loudly when it dies.
* :func:`python_load` drives a server from client threads (``http.client``, keep-alive when the server allows
  it, reconnecting when it closes), excluding a warm-up period; :func:`wrk_load` does the same with ``wrk``
  and a generated Lua script, to show whether the Python client is the bottleneck.
* :func:`profile_process` samples a server with ``py-spy`` and sums where its time goes.
* :func:`markdown_table` and :func:`environment` format the report.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = Path(
    os.environ.get("GROUPWARE_BENCH_CACHE") or Path(tempfile.gettempdir()) / "groupware-bench-cache"
)


class BenchmarkError(RuntimeError):
    """A benchmark could not run (a server did not start, a tool is missing…); the message says why."""


# --- directory ----------------------------------------------------------------------------------------------


def generated_directory(staff: int, seed: int = 1) -> Path:
    """The LDIF of a generated académie of ``staff`` people, written once and cached under :data:`CACHE_DIR`.

    The cache key holds the size, the seed and a digest of the generator's source, so a changed generator
    writes a new file. Every person's password is ``<uid>-pw``.
    """
    source = ROOT / "groupware" / "directory" / "generate.py"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12] if source.exists() else "installed"
    path = CACHE_DIR / f"directory-{staff}-seed{seed}-{digest}.ldif"
    if path.exists():
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "groupware.directory.generate",
            "--staff",
            str(staff),
            "--seed",
            str(seed),
            "--out",
            str(partial),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        partial.unlink(missing_ok=True)
        raise BenchmarkError(f"the directory generator failed: {result.stderr.strip()[-2000:]}")
    partial.replace(path)
    log(f"generated {staff:,} staff in {time.monotonic() - started:.1f} s -> {path}")
    return path


def all_active_uids(ldif: Path, exclude: Sequence[str] = ("admin.groupware",)) -> list[str]:
    """The uids of the people of ``ldif`` who may log in (not disabled), in file order, but ``exclude``."""
    uids: list[str] = []
    uid, active = "", True
    with open(ldif, encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("dn: "):
                if uid and active:
                    uids.append(uid)
                uid, active = "", True
                if line.startswith("dn: uid=") and ",ou=people," in line:
                    uid = line[len("dn: uid=") :].split(",", 1)[0]
            elif line.startswith("employeeType:") and "inactif" in line:
                active = False
    if uid and active:
        uids.append(uid)
    return [u for u in uids if u not in exclude]


def active_uids(ldif: Path, count: int, exclude: Sequence[str] = ("admin.groupware",)) -> list[str]:
    """``count`` uids of people who may log in, spread evenly over the whole directory (deterministic)."""
    uids = all_active_uids(ldif, exclude)
    if len(uids) < count:
        raise BenchmarkError(f"{ldif} has {len(uids)} active people, fewer than the {count} asked for")
    step = len(uids) / count
    return [uids[int(i * step)] for i in range(count)]


# --- processes ----------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log(message: str) -> None:
    """Progress on standard error (the report goes to standard output)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class ServerProcess:
    """A server in its own process: ``with ServerProcess(name, command, port, workdir) as server: ...``.

    Standard output and error go to ``workdir/NAME.log``; :meth:`start` waits until the port accepts
    connections and raises :class:`BenchmarkError` (with the log's tail) when the process exits or is too
    slow.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        port: int,
        workdir: Path,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.name, self.command, self.port, self.workdir = name, list(command), port, workdir
        self.env = {**os.environ, **(env or {})}
        self.startup_timeout = startup_timeout
        self.log_file = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self.process is None:
            raise BenchmarkError(f"{self.name} is not running")
        return self.process.pid

    def start(self) -> None:
        """Start the process and wait until it listens."""
        with open(self.log_file, "ab") as out:
            self.process = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(
                    f"{self.name} exited at start ({self.process.returncode}): {self.log_tail()}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BenchmarkError(
            f"{self.name} did not listen on port {self.port} within {self.startup_timeout} s: "
            f"{self.log_tail()}"
        )

    def check_alive(self) -> None:
        """Raise :class:`BenchmarkError` if the process has died."""
        if self.process is None or self.process.poll() is not None:
            raise BenchmarkError(f"{self.name} died during the run: {self.log_tail()}")

    def log_tail(self, size: int = 2000) -> str:
        """The end of the server's log."""
        try:
            return (
                self.log_file.read_text(encoding="utf-8", errors="replace").strip()[-size:] or "(empty log)"
            )
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- load ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One HTTP request of a workload and the status that counts as success."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes = b""
    expect: int = 207


@dataclass
class LoadResult:
    """What one measured run gave: throughput, latency percentiles (ms), errors, new connections."""

    client: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    connections: int | None = None
    error_kinds: dict[str, int] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    def cpu_ms_per_request(self, name: str) -> float | None:
        """CPU milliseconds that process ``name`` spent per measured request, if it was probed."""
        if name not in self.cpu_seconds or not self.requests:
            return None
        return self.cpu_seconds[name] * 1000 / self.requests

    @property
    def rate(self) -> float:
        """Requests per second (errors included: they are answers too, and counted apart)."""
        return self.requests / self.seconds if self.seconds else 0.0


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants now running (a server's worker processes), from ``/proc``."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            with contextlib.suppress(OSError):
                pending += [int(child) for child in (task / "children").read_text(encoding="ascii").split()]
    return found


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by process ``pid`` and its running children (all their
    threads), from ``/proc``."""
    total = 0.0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def cpu_probes(pids: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each named process."""
    return {name: process_cpu_seconds(pid) for name, pid in pids.items()}


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` percentile (nearest rank) of already sorted values; 0 when empty."""
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def thread_plan(workload: Sequence[Request], threads: int) -> list[list[Request]]:
    """Each thread's cycle: the whole workload, started at an offset of its own so threads spread out."""
    return [
        list(workload[i * len(workload) // threads :]) + list(workload[: i * len(workload) // threads])
        for i in range(threads)
    ]


def python_load(
    port: int,
    workload: Sequence[Request],
    threads: int,
    seconds: float,
    warmup: float,
    timeout: float = 30.0,
    cpu_of: Mapping[str, int] | None = None,
) -> LoadResult:
    """Drive ``127.0.0.1:port`` from ``threads`` threads for ``warmup + seconds``; measure the last
    ``seconds``.

    Each thread keeps one ``http.client`` connection alive as long as the server allows it and opens a new one
    when the server closes it (the connect time then counts in that request's latency, as a client pays it). A
    request counts in the window when it starts and ends inside it. An exception or an unexpected status is an
    error; the connection is then dropped. ``cpu_of`` names processes whose CPU time over the window is
    recorded.
    """
    start = time.monotonic() + 0.2
    measure_from, measure_to = start + warmup, start + warmup + seconds
    plans = thread_plan(workload, threads)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[collections.Counter[str]] = [collections.Counter() for _ in range(threads)]
    connects = [0] * threads

    def worker(index: int) -> None:
        plan, mine, failed = plans[index], latencies[index], errors[index]
        conn: http.client.HTTPConnection | None = None
        time.sleep(max(0.0, start - time.monotonic()))
        i = 0
        while True:
            request = plan[i % len(plan)]
            i += 1
            began = time.monotonic()
            if began >= measure_to:
                break
            kind = ""
            try:
                if conn is None or conn.sock is None:
                    if conn is not None:
                        conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                    conn.connect()
                    if began >= measure_from:
                        connects[index] += 1
                conn.request(request.method, request.path, body=request.body, headers=dict(request.headers))
                response = conn.getresponse()
                response.read()
                if response.status != request.expect:
                    kind = f"HTTP {response.status}"
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                kind = type(exc).__name__
                if conn is not None:
                    conn.close()
                conn = None
            ended = time.monotonic()
            if measure_from <= began and ended <= measure_to:
                mine.append(ended - began)
                if kind:
                    failed[kind] += 1
        if conn is not None:
            conn.close()

    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for thread in workers:
        thread.start()
    cpu: dict[str, float] = {}
    if cpu_of:
        time.sleep(max(0.0, measure_from - time.monotonic()))
        before = cpu_probes(cpu_of)
        time.sleep(max(0.0, measure_to - time.monotonic()))
        cpu = {name: value - before[name] for name, value in cpu_probes(cpu_of).items()}
    for thread in workers:
        thread.join(timeout=warmup + seconds + timeout + 30)
    merged = sorted(x for sample in latencies for x in sample)
    kinds: collections.Counter[str] = collections.Counter()
    for counter in errors:
        kinds.update(counter)
    return LoadResult(
        "python",
        len(merged),
        seconds,
        percentile(merged, 0.50) * 1000,
        percentile(merged, 0.99) * 1000,
        sum(kinds.values()),
        sum(connects),
        dict(kinds),
        cpu,
    )


def provision(port: int, workload: Sequence[Request], threads: int = 4, timeout: float = 60.0) -> int:
    """Send every request of ``workload`` once (first logins, home creation); return how many failed."""
    failures = [0]
    lock = threading.Lock()
    pending = list(workload)

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        while True:
            with lock:
                if not pending:
                    break
                request = pending.pop()
            try:
                conn.request(request.method, request.path, body=request.body, headers=dict(request.headers))
                response = conn.getresponse()
                response.read()
                ok = response.status == request.expect
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
            if not ok:
                with lock:
                    failures[0] += 1
        conn.close()

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return failures[0]


def _lua_string(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return '"' + "".join(f"\\{b:03d}" if b < 32 or b > 126 or b in (34, 92) else chr(b) for b in data) + '"'


def wrk_script(workload: Sequence[Request], connections: int) -> str:
    """A wrk Lua script cycling over ``workload`` (per-thread offsets) and printing a JSON summary at the
    end.
    """
    entries = []
    for request in workload:
        headers = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in request.headers.items())
        entries.append(
            f"  {{{_lua_string(request.method)}, {_lua_string(request.path)}, {{{headers}}}, "
            f"{_lua_string(request.body)}}},"
        )
    return "\n".join(
        [
            "-- generated by benchmarks/_common.py",
            "local workload = {",
            *entries,
            "}",
            "local threads, counter = {}, 1",
            "local formatted, position = {}, 1",
            "function setup(thread)",
            "  thread:set('offset', counter * 7919)",
            "  counter = counter + 1",
            "  table.insert(threads, thread)",
            "end",
            "function init(args)",
            "  for i, r in ipairs(workload) do formatted[i] = wrk.format(r[1], r[2], r[3], r[4]) end",
            "  position = (offset or 0) % #formatted + 1",
            "end",
            "function request()",
            "  local r = formatted[position]",
            "  position = position % #formatted + 1",
            "  return r",
            "end",
            "function done(summary, latency, requests)",
            "  local e = summary.errors",
            (
                '  io.write(string.format(\'WRK-JSON {"requests": %d, "duration_us": %d, "p50_us": %d, \''
                ' .. \'"p99_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": '
                "%d}\\n',"
            ),
            "    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),",
            "    e.connect, e.read, e.write, e.status, e.timeout))",
            "end",
            "",
        ]
    )


def wrk_load(
    port: int,
    workload: Sequence[Request],
    connections: int,
    seconds: float,
    workdir: Path,
    threads: int = 2,
    timeout: float = 30.0,
    cpu_of: Mapping[str, int] | None = None,
) -> LoadResult:
    """Drive ``127.0.0.1:port`` with ``wrk`` (``connections`` connections) for ``seconds``.

    wrk counts a non-2xx/3xx answer as a status error; it reconnects when the server closes a connection (its
    latency then leaves out the connect time). The caller warms the server up first. ``cpu_of`` names
    processes whose CPU time over the run is recorded.
    """
    binary = shutil.which("wrk")
    if binary is None:
        raise BenchmarkError("wrk not found: apt-get install wrk")
    script = workdir / "workload.lua"
    script.write_text(wrk_script(workload, connections), encoding="utf-8")
    command = [
        binary,
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={int(timeout)}s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}/",
    ]
    before = cpu_probes(cpu_of or {})
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=seconds + timeout + 30
    )
    cpu = {name: value - before[name] for name, value in cpu_probes(cpu_of or {}).items()}
    line = next((x for x in result.stdout.splitlines() if x.startswith("WRK-JSON ")), None)
    if result.returncode or line is None:
        raise BenchmarkError(
            f"wrk failed ({result.returncode}): {result.stderr.strip()} {result.stdout[-1000:]}"
        )
    data = json.loads(line[len("WRK-JSON ") :])
    kinds = {k: int(data[k]) for k in ("connect", "read", "write", "status", "timeout") if data[k]}
    duration = data["duration_us"] / 1e6
    return LoadResult(
        "wrk",
        int(data["requests"]),
        duration,
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
        sum(kinds.values()),
        None,
        kinds,
        cpu,
    )


# --- profiling ----------------------------------------------------------------------------------------------


def py_spy() -> str | None:
    """The py-spy binary (next to this Python, or on PATH), or None."""
    near = Path(sys.executable).with_name("py-spy")
    return str(near) if near.exists() else shutil.which("py-spy")


def start_profile(
    pid: int, seconds: float, out: Path, rate: int = 250, gil: bool = True
) -> subprocess.Popen[bytes]:
    """Start ``py-spy record`` (raw collapsed stacks) on ``pid``: the thread holding the GIL, or all non-idle
    ones.

    With ``gil`` (the default) the samples show where the interpreter spends its one core, which is what
    bounds a CPython server's throughput; without it, py-spy's idle detection decides which waiting threads
    count.
    """
    binary = py_spy()
    if binary is None:
        raise BenchmarkError("py-spy not found: pip install py-spy")
    return subprocess.Popen(
        [
            binary,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
            *(["--gil"] if gil else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def summarize_profile(raw: Path, top: int = 25, areas: Sequence[tuple[str, Sequence[str]]] = ()) -> str:
    """Sum a py-spy raw profile: share per area, inclusive share per function, self share per line.

    ``areas`` is an ordered list of (name, substrings of a frame); each sample goes to the first area any of
    its frames matches (most specific first), else to "other", so the area shares add up to 100%.
    """
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    by_area: collections.Counter[str] = collections.Counter()
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        for frame in set(frames):
            inclusive[_short_frame(frame)] += count
        leaf[_short_frame(frames[-1], keep_line=True)] += count
        area = next(
            (
                name
                for name, needles in areas
                if any(needle in frame for frame in frames for needle in needles)
            ),
            "other",
        )
        by_area[area] += count
    if not total:
        return "(no samples)"
    names = [name for name, _ in areas] + ["other"]
    lines = [
        f"{total} samples",
        "",
        "| area (each sample counted once, first match) | share |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {by_area[name] / total:.0%} |" for name in names]
    lines += ["", "| function (inclusive) | share |", "| --- | ---: |"]
    lines += [f"| `{name}` | {count / total:.0%} |" for name, count in inclusive.most_common(top)]
    lines += ["", "| line (self) | share |", "| --- | ---: |"]
    lines += [f"| `{name}` | {count / total:.0%} |" for name, count in leaf.most_common(top // 2)]
    return "\n".join(lines)


def _short_frame(frame: str, keep_line: bool = False) -> str:
    """``func (path/to/site-packages/radicale/app/x.py:12)`` -> ``func (radicale/app/x.py)`` (``:12``
    kept).
    """
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    if not keep_line:
        where = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/", str(ROOT) + "/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})" if where else name


# --- report -------------------------------------------------------------------------------------------------


def version_of(distribution: str) -> str:
    """An installed distribution's version, or ``-``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "-"


def _command_output(*command: str) -> str:
    try:
        result = subprocess.run(list(command), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "-"
    return (result.stdout + result.stderr).strip()


def environment(extra: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """What the numbers depend on: CPUs, kernel, Python and package versions, slapd and wrk, the commit."""
    model = "-"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8")
        model = next(
            line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    slapd = shutil.which("slapd") or "/usr/sbin/slapd"
    slapd_version = next(
        (line.strip() for line in _command_output(slapd, "-VV").splitlines() if "slapd" in line), "-"
    )
    wrk_version = _command_output("wrk", "-v").splitlines()[0] if shutil.which("wrk") else "-"
    commit = _command_output("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
    rows = [
        ("date", time.strftime("%Y-%m-%d %H:%M %Z")),
        ("cpus", f"{os.cpu_count()} × {model}"),
        ("system", f"{platform.system()} {platform.release()}"),
        ("python", platform.python_version()),
        ("radicale", version_of("radicale")),
        ("ldap3", version_of("ldap3")),
        ("waitress", version_of("waitress")),
        ("groupware", f"{version_of('groupware')} ({commit})"),
        ("slapd", slapd_version),
        ("wrk", wrk_version),
    ]
    return rows + list((extra or {}).items())


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A markdown table; ``align`` holds one ``l`` or ``r`` per column (default: first left, others right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(
                str(c).ljust(w) if a == "l" else str(c).rjust(w)
                for c, w, a in zip(cells, widths, align, strict=False)
            )
            + " |"
        )

    rule = (
        "| "
        + " | ".join("-" * (w - 1) + (":" if a == "r" else "-") for w, a in zip(widths, align, strict=False))
        + " |"
    )
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def run_together(tasks: Sequence[Callable[[], object]]) -> None:
    """Run each of ``tasks`` in its own thread, all at once, and wait for them all."""
    threads = [threading.Thread(target=task, daemon=True) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
