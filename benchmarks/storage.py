# SPDX-License-Identifier: GPL-3.0-or-later
"""Storage at académie scale: stock Radicale, Xandikos and groupware on a large book and calendar (issue 3).

Generates (once, cached) a 52,000-contact address book (vCard 3.0, accented French names from the directory
generator, ``prenom.nom@ac-montpellier.fr``, TEL, ORG, TITLE) and a 5,000-event calendar over the school year
(Europe/Paris, 10% recurring with an EXDATE and a RECURRENCE-ID override), loads them into each server the
fastest legitimate way (see ``_storage_servers.py``), and measures, one server after the other, with the same
client (``_storage_client.py``) over HTTP on 127.0.0.1:

cold and warm depth-1 PROPFIND of the book, and asked with ``Accept-Encoding: gzip`` as Thunderbird and DAVx5
ask (the first request after a change, then again at the same revision; issue 20); sync-collection with no
token (also with gzip), with no change and after 10 changes; getctag / sync-token PROPFIND depth 0;
addressbook-multiget of 100; addressbook-query on FN ("Hélène" and "helene"); calendar-query for one week;
PUT and DELETE in the large collection; 20 concurrent clients doing small GET/PROPFIND requests with ``wrk``
(three runs, the median by rate, with its p99); the peak RSS of each server's processes summed after 8
concurrent listings of the book (gzip, then plain), and at the end.

    python benchmarks/storage.py [--servers stock,xandikos,ours] [--contacts 52000] [--events 5000]
                                 [--repeat 5] [--quick] [--stock-server waitress|radicale]

Prints one markdown table of medians with ratios ours/stock and ours/xandikos, the issue's Cyrus figures and
targets beside them, what each server returned, and the environment. Exit status 2 when a server fails.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BenchmarkError,
    LoadResult,
    Request,
    environment,
    log,
    markdown_table,
    run_together,
    version_of,
    wrk_load,
)
from _storage_client import (
    PROPFIND_CTAG,
    PROPFIND_LIST,
    PROPFIND_SMALL,
    DavClient,
    addressbook_multiget,
    addressbook_query,
    calendar_query,
    responses,
    sync_collection,
)
from _storage_data import BOOK, CALENDAR, USER, Dataset, changed_card, generated_collections, new_card
from _storage_servers import OURS, PLUGIN, SERVERS, STOCK, XANDIKOS, Prepared, peak_rss_mb, prepare

WEEK = ("20260112T000000Z", "20260119T000000Z")
#: What Thunderbird and DAVx5 send.
GZIP = {"Accept-Encoding": "gzip"}
# key | label | Cyrus 3.6 as measured for the issue | the target for ours
TABLE = """
propfind_cold | depth-1 PROPFIND of the book, cold (first request) | - | -
propfind_warm | depth-1 PROPFIND of the book, warm | 0.39–0.42 s | ≤ 0.15 s
propfind_gzip_first | depth-1 PROPFIND, gzip, first at a revision | - | ≤ 0.3 s
propfind_gzip | depth-1 PROPFIND, gzip, again at the same revision | - | ≤ 0.1 s
sync_initial | sync-collection, no token (full sync) | 0.38–0.48 s | ≤ 0.15 s
sync_gzip | sync-collection, no token, gzip, again at the same revision | - | ≤ 0.1 s
sync_nochange | sync-collection, no change | - | -
sync_10 | sync-collection after 10 changes | 10–16 ms | ≤ 10 ms
getctag | getctag / sync-token PROPFIND depth 0 | 2 ms | ≤ 2 ms
multiget | addressbook-multiget of 100 | 76–84 ms | ≤ 20 ms
query_accent | addressbook-query FN contains "Hélène" | 0.15–0.20 s | ≤ 50 ms
query_ascii | addressbook-query FN contains "helene" | - | ≤ 50 ms
calendar_query | calendar-query, one week, with data | 0.20–0.24 s | ≤ 30 ms
put | PUT of a new card into the book | 7.2 ms | ≤ 5 ms
delete | DELETE of a card of the book | - | -
wrk_rate | 20 clients, small GET/PROPFIND (wrk): req/s, median of 3 runs | 740 req/s | ≥ 3,000 req/s
wrk_p99 | 20 clients, small GET/PROPFIND (wrk): p99 of that run | 70 ms | ≤ 20 ms
rss_8 | peak RSS after 8 concurrent depth-1 listings, gzip then plain (processes summed) | - | ≤ 300 MB
rss | peak RSS of the server (its processes summed) | - | -
"""
ROWS = [tuple(cell.strip() for cell in line.split("|")) for line in TABLE.strip().splitlines()]
LABELS = {row[0]: row[1] for row in ROWS}
COUNTED = (
    "propfind_warm",
    "propfind_gzip",
    "sync_initial",
    "sync_gzip",
    "sync_10",
    "multiget",
    "query_accent",
    "query_ascii",
    "calendar_query",
)


@dataclass
class Measure:
    """The samples of one workload on one server (seconds) and how many responses the last answer held."""

    samples: list[float]
    hits: int | None = None
    first: float | None = None  # a slow first request, kept apart as a warm-up

    @property
    def median(self) -> float:
        """The median of the samples."""
        return statistics.median(self.samples)


@dataclass
class ServerResult:
    """Everything measured on one server."""

    prepared: Prepared
    measures: dict[str, Measure] = field(default_factory=dict)
    wrk: LoadResult | None = None
    peak_rss_mb: float | None = None
    concurrent_rss_mb: float | None = None


class Bench:
    """Runs the workloads against one started server."""

    def __init__(self, port: int, dataset: Dataset, args: argparse.Namespace) -> None:
        self.client, self.dataset, self.args = DavClient(port), dataset, args
        self.book, self.calendar = f"/{USER}/{BOOK}/", f"/{USER}/{CALENDAR}/"
        self.created: list[str] = []
        self.touched = 0

    def call(
        self,
        method: str,
        path: str,
        body: str | bytes = b"",
        headers: dict[str, str] | None = None,
        expect: Sequence[int] = (207,),
    ) -> tuple[float, bytes]:
        """One timed request; a status outside ``expect`` is a failure of the benchmark."""
        seconds, status, payload = self.client.timed(method, path, body, headers)
        if status not in expect:
            raise BenchmarkError(f"{method} {path} answered {status}, expected {expect}: {payload[:300]!r}")
        return seconds, payload

    def repeat(self, one: Callable[[], tuple[float, bytes]], count: bool = True) -> Measure:
        """Run ``one`` ``--repeat`` times, at least 10 when the first took under 0.2 s and 30 under 20 ms (a
        millisecond request is cheap to repeat, and one stall of a shared machine moves a median of 10).

        When the first took over ``--slow`` seconds it is kept apart, as a warm-up (stock Radicale builds its
        sync history or caches then), and ``--slow-repeat`` more are measured.
        """
        seconds, payload = one()
        first, total = None, self.args.repeat
        if seconds > self.args.slow:
            first, total = seconds, min(total, self.args.slow_repeat)
            seconds, payload = one()
        elif seconds < 0.2:
            total = max(total, 10 if seconds >= 0.02 else 30)
        samples = [seconds]
        while len(samples) < total:
            seconds, payload = one()
            samples.append(seconds)
        return Measure(samples, responses(payload) if count else None, first)

    def propfind_book(self, headers: dict[str, str] | None = None) -> tuple[float, bytes]:
        return self.call("PROPFIND", self.book, PROPFIND_LIST, {"Depth": "1", **(headers or {})})

    def gzip_rows(self, out: dict[str, Measure]) -> None:
        """The listing and the full sync asked with ``Accept-Encoding: gzip`` as Thunderbird and DAVx5 ask:
        the first request after a change of the book, then again at the same revision."""

        def first() -> tuple[float, bytes]:
            self.touch()
            return _plain(self.propfind_book(GZIP))

        out["propfind_gzip_first"] = self.repeat(first)
        out["propfind_gzip"] = self.repeat(lambda: _plain(self.propfind_book(GZIP)))
        out["sync_gzip"] = self.repeat(
            lambda: _plain(self.call("REPORT", self.book, sync_collection(""), {"Depth": "1", **GZIP}))
        )
        log(
            f"  gzip: listing first {out['propfind_gzip_first'].median:.2f} s, again "
            f"{out['propfind_gzip'].median:.3f} s, full sync again {out['sync_gzip'].median:.3f} s"
        )

    def touch(self) -> None:
        """Change one card of the book (a new revision), untimed."""
        self.touched += 1
        self.change_card(self.touched * 13 + 1, f"touch {self.touched}")

    def change_card(self, index: int, note: str) -> None:
        """PUT card ``index`` back with ``note`` in it."""
        href = self.card_href(index)
        text = (self.dataset.book_dir / href.rsplit("/", 1)[1]).read_bytes().decode("utf-8")
        self.call(
            "PUT",
            href,
            changed_card(text, note),
            {"Content-Type": "text/vcard; charset=utf-8"},
            expect=(201, 204),
        )

    def concurrent_listings(self, port: int, count: int = 8) -> None:
        """``count`` clients listing the book at once, with gzip, then without (untimed: the peak RSS)."""
        for headers in (GZIP, {}):
            self.touch()
            clients = [DavClient(port) for _ in range(count)]
            failures: list[str] = []

            def list_once(
                client: DavClient, headers: dict[str, str] = headers, failures: list[str] = failures
            ) -> None:
                status, _ = client.request("PROPFIND", self.book, PROPFIND_LIST, {"Depth": "1", **headers})
                if status != 207:
                    failures.append(str(status))
                client.close()

            run_together([lambda client=client: list_once(client) for client in clients])
            if failures:
                raise BenchmarkError(f"concurrent listings answered {failures}")

    def card_href(self, index: int) -> str:
        return self.book + self.dataset.card_hrefs[index % len(self.dataset.card_hrefs)]

    def spread(self, count: int, offset: int = 0) -> list[int]:
        """``count`` card indexes spread over the whole book."""
        step = max(1, len(self.dataset.card_hrefs) // count)
        return [offset + i * step for i in range(count)]

    def run(self) -> dict[str, Measure]:
        """All the timed workloads, in an order that keeps the cold request first."""
        out: dict[str, Measure] = {}
        seconds, payload = self.propfind_book()
        out["propfind_cold"] = Measure([seconds], responses(payload))
        log(f"  cold depth-1 PROPFIND: {seconds:.2f} s")
        out["propfind_warm"] = self.repeat(self.propfind_book)
        self.gzip_rows(out)
        out["getctag"] = self.repeat(lambda: self.call("PROPFIND", self.book, PROPFIND_CTAG, {"Depth": "0"}))
        log(
            f"  warm PROPFIND {out['propfind_warm'].median:.2f} s, getctag "
            f"{out['getctag'].median * 1000:.1f} ms"
        )
        tokens: list[str] = []

        def initial() -> tuple[float, bytes]:
            seconds, payload = self.call("REPORT", self.book, sync_collection(""), {"Depth": "1"})
            tokens.append(_token(payload))
            return seconds, payload

        out["sync_initial"] = self.repeat(initial)
        token = tokens[-1]
        out["sync_nochange"] = self.repeat(
            lambda: self.call("REPORT", self.book, sync_collection(token), {"Depth": "1"})
        )
        rounds = [0]

        def after_changes() -> tuple[float, bytes]:
            for index in self.spread(10, offset=rounds[0] * 7 + 3):
                self.change_card(index, f"modification {rounds[0]}")
            rounds[0] += 1
            seconds, payload = self.call("REPORT", self.book, sync_collection(tokens[-1]), {"Depth": "1"})
            tokens.append(_token(payload))
            return seconds, payload

        out["sync_10"] = self.repeat(after_changes)
        log(
            f"  syncs: full {out['sync_initial'].median:.2f} s, no change "
            f"{out['sync_nochange'].median * 1000:.1f} ms,"
            f" 10 changes {out['sync_10'].median * 1000:.1f} ms"
        )
        hrefs = [self.card_href(i) for i in self.spread(100, offset=1)]
        out["multiget"] = self.repeat(
            lambda: self.call("REPORT", self.book, addressbook_multiget(hrefs), {"Depth": "1"})
        )
        for key, text in (("query_accent", "Hélène"), ("query_ascii", "helene")):
            out[key] = self.repeat(
                lambda text=text: self.call(
                    "REPORT", self.book, addressbook_query("FN", text), {"Depth": "1"}
                )
            )
        log(f"  multiget {out['multiget'].median * 1000:.1f} ms, query {out['query_accent'].median:.3f} s")
        week = calendar_query(*WEEK)
        self.call(
            "PROPFIND", self.calendar, PROPFIND_LIST, {"Depth": "1"}
        )  # the calendar's first read: not timed
        out["calendar_query"] = self.repeat(lambda: self.call("REPORT", self.calendar, week, {"Depth": "1"}))
        out["put"] = self.repeat(self.put_new, count=False)
        out["delete"] = self.repeat(self.delete_created, count=False)
        log(
            f"  calendar-query {out['calendar_query'].median * 1000:.1f} ms, PUT "
            f"{out['put'].median * 1000:.1f} ms,"
            f" DELETE {out['delete'].median * 1000:.1f} ms"
        )
        self.client.close()
        return out

    def put_new(self) -> tuple[float, bytes]:
        name, text = new_card(len(self.created))
        href = self.book + name
        result = self.call(
            "PUT",
            href,
            text,
            {"Content-Type": "text/vcard; charset=utf-8", "If-None-Match": "*"},
            expect=(201,),
        )
        self.created.append(href)
        return result

    def delete_created(self) -> tuple[float, bytes]:
        if not self.created:  # more DELETEs than PUTs: make one more, untimed
            self.put_new()
        return self.call("DELETE", self.created.pop(), expect=(200, 204))

    def wrk_workload(self) -> list[Request]:
        """Small requests: GET of 100 cards and depth-0 PROPFIND (no ctag) of the book, alternating."""
        auth = {"Authorization": self.client.auth}
        out = []
        for index in self.spread(100, offset=5):
            out.append(Request("GET", self.card_href(index), auth, expect=200))
            out.append(
                Request(
                    "PROPFIND",
                    self.book,
                    {**auth, "Depth": "0", "Content-Type": "application/xml"},
                    PROPFIND_SMALL.encode(),
                )
            )
        return out


def _plain(timed: tuple[float, bytes]) -> tuple[float, bytes]:
    """A timed answer asked with gzip, its body decompressed (counting its responses; a server that did not
    compress is measured all the same)."""
    seconds, payload = timed
    return seconds, gzip.decompress(payload) if payload[:2] == b"\x1f\x8b" else payload


def _token(payload: bytes) -> str:
    from _storage_client import sync_token

    token = sync_token(payload)
    if not token:
        raise BenchmarkError(f"sync-collection answered without a sync-token: {payload[-300:]!r}")
    return token


def measure_server(
    prepared: Prepared, dataset: Dataset, args: argparse.Namespace, workdir: Path
) -> ServerResult:
    """Start one prepared server, load it if needed, run every workload and wrk, read its peak RSS."""
    result = ServerResult(prepared)
    log(f"{prepared.name}: starting ({prepared.description})")
    with prepared.process as server:
        if prepared.load_after_start is not None:
            prepared.load_seconds = prepared.load_after_start(server.port)
            log(f"{prepared.name}: loaded in {prepared.load_seconds:.1f} s ({prepared.load_how})")
        bench = Bench(server.port, dataset, args)
        bench.concurrent_listings(server.port)
        result.concurrent_rss_mb = peak_rss_mb(server.pid)
        log(f"  8 concurrent listings: peak RSS {result.concurrent_rss_mb or 0:.0f} MB")
        result.measures = bench.run()
        server.check_alive()
        if not args.no_wrk:
            workload = bench.wrk_workload()
            wrk_load(server.port, workload, args.connections, 1, workdir)  # warm-up, not measured
            runs = [
                wrk_load(
                    server.port,
                    workload,
                    args.connections,
                    args.wrk_seconds,
                    workdir,
                    cpu_of={"server": server.pid},
                )
                for _ in range(3)
            ]
            result.wrk = sorted(runs, key=lambda run: run.rate)[1]
            log(
                f"  wrk (median of 3) {result.wrk.rate:.0f} req/s, p99 {result.wrk.p99_ms:.1f} ms, "
                f"{result.wrk.errors} errors; the runs: {', '.join(f'{run.rate:.0f}' for run in runs)} req/s"
            )
        server.check_alive()
        result.peak_rss_mb = peak_rss_mb(server.pid)
    return result


# --- report -------------------------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """``12.3 ms`` or ``1.23 s``."""
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _ratio(mine: float | None, base: float | None) -> str:
    return f"{mine / base:.2f}x" if mine is not None and base else "-"


def report(results: dict[str, ServerResult], args: argparse.Namespace, dataset: Dataset) -> str:
    """The main table (medians, ratios, Cyrus, targets), then what each server returned."""
    names = [name for name in SERVERS if name in results]
    peers = [peer for peer in (STOCK, XANDIKOS) if peer in results and OURS in results]
    headers = ["workload", *names, *(f"ours/{peer}" for peer in peers), "Cyrus 3.6 (issue)", "target (ours)"]
    rows = []
    reduced = False

    def value(name: str, key: str) -> float | None:
        result = results.get(name)
        if result is None:
            return None
        if key in result.measures:
            return result.measures[key].median
        if result.wrk is not None and key == "wrk_rate":
            return result.wrk.rate
        if result.wrk is not None and key == "wrk_p99":
            return result.wrk.p99_ms / 1000
        if key == "rss":
            return result.peak_rss_mb
        if key == "rss_8":
            return result.concurrent_rss_mb
        return None

    for key, label, cyrus, target in ROWS:
        cells = []
        for name in names:
            number = value(name, key)
            measure = results[name].measures.get(key)
            if number is None:
                cells.append("-")
            elif key in ("rss", "rss_8"):
                cells.append(f"{number:.0f} MB")
            elif key == "wrk_rate":
                cells.append(f"{number:,.0f}")
            else:
                cell = duration(number)
                if measure is not None and measure.first is not None:
                    cell += f" (n={len(measure.samples)}, first {duration(measure.first)})"
                    reduced = True
                cells.append(cell)
        mine = value(OURS, key)
        rows.append([label, *cells, *(_ratio(mine, value(peer, key)) for peer in peers), cyrus, target])
    title = (
        f"Storage: {dataset.contacts:,} contacts, {dataset.events:,} events; medians of {args.repeat} "
        f"requests (at least 10 for requests under 0.2 s, 30 under 20 ms), the cold one once"
    )
    lines = [title, "", markdown_table(headers, rows, "l" + "r" * (len(headers) - 1))]
    if reduced:
        lines.append(
            f"\n(n=…, first …): the first request took over {args.slow:g} s (--slow); it is left out as "
            f"a warm-up and only {args.slow_repeat} more are measured (--slow-repeat), to keep the run "
            "short."
        )
    count_rows = []
    for key in COUNTED:
        count_rows.append([LABELS[key], *(_hits(results[name], key) for name in names)])
    lines += [
        "",
        "Responses in each answer (the same data everywhere; differences are semantics, see notes):",
        "",
        markdown_table(["answer", *names], count_rows),
    ]
    return "\n".join(lines)


def _hits(result: ServerResult, key: str) -> str:
    measure = result.measures.get(key)
    return "-" if measure is None or measure.hits is None else f"{measure.hits:,}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--servers", default=",".join(SERVERS), help=f"comma-separated subset of {', '.join(SERVERS)} (all)"
    )
    parser.add_argument("--contacts", type=int, default=52000, help="cards in the address book (52000)")
    parser.add_argument("--events", type=int, default=5000, help="events in the calendar (5000)")
    parser.add_argument("--repeat", type=int, default=5, help="requests per workload (5)")
    parser.add_argument(
        "--slow", type=float, default=5.0, help="a first request slower than this (s) ... (5)"
    )
    parser.add_argument("--slow-repeat", type=int, default=2, help="... is repeated only this often (2)")
    parser.add_argument("--connections", type=int, default=20, help="wrk connections (20)")
    parser.add_argument(
        "--wrk-seconds", type=float, default=10.0, help="measured wrk seconds per server (10)"
    )
    parser.add_argument("--no-wrk", action="store_true", help="leave out the concurrent-clients run")
    parser.add_argument(
        "--stock-server",
        choices=("waitress", "radicale"),
        default="waitress",
        help="serve stock Radicale under waitress (default) or with its built-in server",
    )
    parser.add_argument(
        "--our-storage",
        default="auto",
        choices=("auto", "default", PLUGIN),
        help=f"ours: {PLUGIN} when installed (auto), or Radicale's default storage",
    )
    parser.add_argument(
        "--our-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one more option for ours' [storage] section (repeatable)",
    )
    parser.add_argument(
        "--load-threads", type=int, default=4, help="parallel clients when loading by PUT (4)"
    )
    parser.add_argument("--seed", type=int, default=1, help="generator seed (1)")
    parser.add_argument(
        "--quick", action="store_true", help="5,000 contacts, 500 events, 3 repetitions, 3 s wrk"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.contacts, args.events = min(args.contacts, 5000), min(args.events, 500)
        args.repeat, args.wrk_seconds = min(args.repeat, 3), min(args.wrk_seconds, 3.0)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(args.servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report."""
    args = parse_args(argv)
    started = time.monotonic()
    results: dict[str, ServerResult] = {}
    try:
        dataset = generated_collections(args.contacts, args.events, args.seed)
        for name in args.servers:
            with tempfile.TemporaryDirectory(prefix=f"groupware-bench-storage-{name}-") as tmp:
                workdir = Path(tmp)
                prepared = prepare(
                    name,
                    dataset,
                    workdir,
                    args.stock_server,
                    args.our_storage,
                    args.our_option,
                    args.load_threads,
                )
                results[name] = measure_server(prepared, dataset, args, workdir)
    except BenchmarkError as exc:
        print(f"storage benchmark: {exc}", file=sys.stderr)
        return 2
    print()
    print(report(results, args, dataset))
    print("\nNotes:\n")
    print(
        "- Radicale's text-match lower-cases both sides (case-insensitive, accent-sensitive), so stock finds "
        'no "Hélène" for "helene"; the issue asks ours to be accent-insensitive too.'
    )
    print(
        "- The machine has 2 cores shared with other work: single runs are noisy; compare ratios of one run."
    )
    print(
        "- The cold PROPFIND is the first request to a server just started on freshly loaded data (stock "
        "builds "
        "its item cache then); the calendar's first read is done untimed before the calendar-query."
    )
    extra = {f"{name} server": r.prepared.description for name, r in results.items()}
    extra |= {
        f"{name} load": f"{r.prepared.load_seconds:.1f} s, {r.prepared.load_how}"
        for name, r in results.items()
    }
    extra |= {
        "xandikos": version_of("xandikos"),
        "dulwich": version_of("dulwich"),
        "client": "one http.client connection (keep-alive), Basic auth; wrk: "
        f"{args.connections} connections, {args.wrk_seconds:g} s after 1 s warm-up",
        "run time": f"{time.monotonic() - started:.0f} s",
    }
    print("\nEnvironment:\n")
    print(markdown_table(["what", "value"], environment(extra), "ll"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
