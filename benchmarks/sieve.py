# SPDX-License-Identifier: GPL-3.0-or-later
"""Sieve benchmark: compile a realistic 30-rule script (plus vacation) once, evaluate it on 10,000 messages.

Prints a table: compile time (the script compiled anew each time, ``cached=False``), the same text compiled
again (the program kept by the digest of its text, as ManageSieve's CHECKSCRIPT then PUTSCRIPT gets it),
evaluations per second (messages already parsed by the email library, as delivery does once per message), the
same including the parse, the compile time and evaluation rate with two threads compiling in parallel (a
process-wide parse lock would show here), and Pigeonhole's ``sieve-test`` per message for scale. Targets
(issue 15): compile ≤ 2 ms of CPU, ≥ 30,000 evaluations/s on one core, both also with two threads compiling
in parallel.

    python benchmarks/sieve.py [--messages 10000] [--passes 5] [--sieve-test-samples 20]

Every figure is a median (of 200 compiles, of ``--passes`` runs through the messages), measured in CPU time of
the benchmark's thread (the targets are per core); ``sieve-test``, a process per message, in wall-clock time.
The two-thread rows also give the wall-clock time of one compile while the other thread compiles: with one
interpreter lock it is about twice the CPU time, more if parses waited on each other.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.parser
import email.policy
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from groupware.sieve import Environment, MessageFacts, compile_script, evaluate

DOMAINS = ["ac-exemple.fr", "education.gouv.fr", "lists.example.org", "example.com", "mairie-exemple.fr"]
WORDS = [
    "réunion",
    "budget",
    "conseil",
    "classe",
    "urgent",
    "facture",
    "projet",
    "inspection",
    "note",
    "examen",
    "voyage",
    "cantine",
    "planning",
    "rappel",
    "newsletter",
    "promo",
    "alerte",
    "sécurité",
]


def script_30_rules() -> str:
    """A 30-rule script of the kind Roundcube writes, plus a vacation rule first."""
    rules = [
        (
            '# rule:[Vacation]\r\nif allof (currentdate :zone "+0100" :value "ge" "date" "2020-01-01", '
            'currentdate :zone "+0100" :value "le" "date" "2099-12-31", not exists ["list-id", '
            '"list-unsubscribe"], '
            'not header :contains "precedence" ["list", "bulk", "junk"])\r\n{\r\n\tvacation :days 7 '
            ':subject "Absent" :from "me@ac-exemple.fr" "Je suis absent.";\r\n}\r\n'
        )
    ]
    for i in range(30):
        word, domain = WORDS[i % len(WORDS)], DOMAINS[i % len(DOMAINS)]
        kind = i % 6
        if kind == 0:
            test = f'header :contains "subject" "{word}"'
        elif kind == 1:
            test = f'address :domain :is "from" "{domain}"'
        elif kind == 2:
            test = f'allof (header :contains "list-id" "{word}", address :is "to" "me@ac-exemple.fr")'
        elif kind == 3:
            test = f'header :matches "subject" "*[{word}]*"'
        elif kind == 4:
            test = f'anyof (address :localpart :is "from" "{word}", header :regex "subject" "^{word}[0-9]+")'
        else:
            test = f'header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "{10 + i}"'
        action = (
            f'fileinto "Dossiers/{word}{i}";' if i % 5 else f'addflag "\\\\Flagged";\r\n\tfileinto "{word}";'
        )
        rules.append(
            f"# rule:[Règle {i}]\r\nif {test}\r\n{{\r\n\t{action}\r\n\tstop;\r\n}}\r\n"
            if i % 7 == 6
            else f"# rule:[Règle {i}]\r\nif {test}\r\n{{\r\n\t{action}\r\n}}\r\n"
        )
    require = (
        'require ["comparator-i;ascii-numeric","date","fileinto","imap4flags","regex","relational",'
        '"vacation"];'
    )
    return require + "\r\n" + "".join(rules)


def messages(n: int, seed: int = 6) -> list[bytes]:
    """``n`` generated messages: varied senders, subjects, lists, spam scores."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        sender = f"{rng.choice(WORDS)}.{i % 97}@{rng.choice(DOMAINS)}"
        subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
        headers = [
            f"Received: from mx{i % 7}.example.net by mx.ac-exemple.fr;"
            f" Tue, 5 Mar 2024 10:00:0{i % 10} +0100",
            f"From: Personne {i} <{sender}>",
            "To: me@ac-exemple.fr",
            f"Subject: {subject}",
            f"Date: Tue, 5 Mar 2024 10:{i % 60:02d}:00 +0100",
            f"Message-ID: <bench-{i}@example.net>",
            f"X-Spam-Score: {rng.randint(0, 40)}",
        ]
        if i % 4 == 0:
            headers += [f"List-Id: <{rng.choice(WORDS)}.lists.example.org>", "Precedence: list"]
        body = "\n".join(" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(20))
        out.append(
            ("\n".join(headers) + "\nContent-Type: text/plain; charset=utf-8\n\n" + body + "\n").encode()
        )
    return out


def _clock() -> float:
    """CPU time of this thread: the targets are per core, and time spent waiting for a busy machine's CPU is
    not the engine's."""
    return time.thread_time()


def bench_compile(text: str, rounds: int = 200, cached: bool = False) -> float:
    """Median time of one compile (of the program kept for this text with ``cached``)."""
    compile_script(text)
    times = []
    for _ in range(rounds):
        start = _clock()
        compile_script(text, cached=cached)
        times.append(_clock() - start)
    return statistics.median(times)


def bench_eval(text: str, raws: list[bytes], passes: int) -> tuple[float, float]:
    """Median rate over ``passes`` runs through all messages: evaluation alone, and parse + evaluation.

    Each message comes with its own :class:`Environment` (its own delivery time, as delivery makes one per
    recipient), built before the clock starts: the host's work, not the evaluation's.
    """
    program = compile_script(text)
    parser = email.parser.BytesParser(policy=email.policy.compat32)
    parsed = [parser.parsebytes(r) for r in raws]
    eval_rates, parse_rates = [], []
    for _ in range(passes):
        envs = _envs(len(raws))
        start = _clock()
        for raw, msg, env in zip(raws, parsed, envs, strict=True):
            evaluate(program, MessageFacts(raw, msg), env)
        eval_rates.append(len(raws) / (_clock() - start))
    for _ in range(max(1, passes // 2)):
        envs = _envs(len(raws))
        start = _clock()
        for raw, env in zip(raws, envs, strict=True):
            evaluate(program, MessageFacts(raw), env)
        parse_rates.append(len(raws) / (_clock() - start))
    return statistics.median(eval_rates), statistics.median(parse_rates)


def bench_parallel(text: str, raws: list[bytes], rounds: int = 200) -> tuple[float, float, float]:
    """Two threads compiling ``text`` at the same time, then one evaluating while the other compiles.

    Returns the median CPU time of one compile (over both threads), its median wall-clock time, and the
    evaluation rate (CPU of the evaluating thread) measured while the other thread keeps compiling.
    """
    compile_script(text)
    cpu: list[float] = []
    wall: list[float] = []
    barrier = threading.Barrier(2)

    def compiler(times_cpu: list[float], times_wall: list[float]) -> None:
        barrier.wait()
        for _ in range(rounds):
            start, start_wall = _clock(), time.perf_counter()
            compile_script(text, cached=False)
            times_cpu.append(_clock() - start)
            times_wall.append(time.perf_counter() - start_wall)

    threads = [threading.Thread(target=compiler, args=(cpu, wall)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    program = compile_script(text)
    parser = email.parser.BytesParser(policy=email.policy.compat32)
    parsed = [parser.parsebytes(r) for r in raws]
    envs = _envs(len(raws))
    done = threading.Event()

    def background() -> None:
        while not done.is_set():
            compile_script(text, cached=False)

    other = threading.Thread(target=background)
    other.start()
    try:
        start = _clock()
        for raw, msg, env in zip(raws, parsed, envs, strict=True):
            evaluate(program, MessageFacts(raw, msg), env)
        rate = len(raws) / (_clock() - start)
    finally:
        done.set()
        other.join()
    return statistics.median(cpu), statistics.median(wall), rate


def _envs(n: int) -> list[Environment]:
    now = dt.datetime.now().astimezone()
    return [
        Environment(
            envelope_from="sender@example.com",
            envelope_to="me@ac-exemple.fr",
            now=now + dt.timedelta(milliseconds=i),
        )
        for i in range(n)
    ]


def bench_sieve_test(text: str, raws: list[bytes]) -> float | None:
    if shutil.which("sieve-test") is None:
        return None
    root = Path(tempfile.mkdtemp(prefix="sieve-bench-"))
    try:
        for sub in ("run", "mail"):
            (root / sub).mkdir()
        os.chmod(root, 0o1777)
        conf = root / "dovecot.conf"
        conf.write_text(
            f"mail_uid = nobody\nmail_gid = nogroup\nbase_dir = {root}/run\n"
            f"mail_location = maildir:{root}/mail\nlog_path = /dev/null\n"
        )
        script = root / "bench.sieve"
        script.write_text(text, encoding="utf-8")
        subprocess.run(["sievec", "-c", str(conf), str(script)], capture_output=True, check=False)
        start = time.perf_counter()
        for i, raw in enumerate(raws):
            path = root / f"m{i}.eml"
            path.write_bytes(raw)
            subprocess.run(
                ["sieve-test", "-c", str(conf), str(script), str(path)], capture_output=True, check=False
            )
        return (time.perf_counter() - start) / len(raws)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--sieve-test-samples", type=int, default=20)
    parser.add_argument(
        "--passes", type=int, default=5, help="runs through the messages; the median is shown"
    )
    args = parser.parse_args()
    load = os.getloadavg()[0]
    text = script_30_rules()
    raws = messages(args.messages)
    compile_s = bench_compile(text)
    cached_s = bench_compile(text, cached=True)
    eval_only, with_parse = bench_eval(text, raws, args.passes)
    par_cpu, par_wall, par_eval = bench_parallel(text, raws)
    per_message = bench_sieve_test(text, raws[: args.sieve_test_samples])
    rows = [
        ("script", f"30 rules + vacation, {len(text)} bytes"),
        ("load average at the start (1 min)", f"{load:.1f} on {os.cpu_count()} CPUs"),
        ("compile (median of 200, CPU)", f"{compile_s * 1000:.2f} ms   (target ≤ 2 ms)"),
        ("same text compiled again (kept program)", f"{cached_s * 1000:.3f} ms"),
        (
            f"evaluate, {len(raws)} parsed messages (median of {args.passes})",
            f"{eval_only:,.0f} eval/s   (target ≥ 30,000)",
        ),
        ("parse + evaluate (median)", f"{with_parse:,.0f} msg/s"),
        (
            "compile, 2 threads in parallel (median of 2×200)",
            f"{par_cpu * 1000:.2f} ms CPU, {par_wall * 1000:.2f} ms wall   (target ≤ 2 ms CPU)",
        ),
        (
            "evaluate while another thread compiles",
            f"{par_eval:,.0f} eval/s   (target ≥ 30,000)",
        ),
        (
            "sieve-test per message (process)",
            "n/a"
            if per_message is None
            else f"{per_message * 1000:.1f} ms  = {1 / per_message:,.0f} msg/s, "
            f"×{eval_only * per_message:,.0f} slower",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)} | result")
    print(f"{'-' * width}-+-{'-' * 50}")
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")


if __name__ == "__main__":
    main()
