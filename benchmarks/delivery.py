# SPDX-License-Identifier: GPL-3.0-or-later
"""Delivery throughput: messages per second through LMTP with a 30-rule script per user, groupware beside
Dovecot.

Each of ``--users`` people (from a generated directory) has the 30-rule script of ``benchmarks/sieve.py``
(with its vacation rule) active, in Dovecot's layout. ``--connections`` LMTP clients (RFC 2033, pipelined)
share ``--messages`` messages of about 13 KB, each to 1–4 of those people (2.3 on average), and count the
messages and deliveries acknowledged per second. The same client drives ``groupware serve`` ([lmtp] on
loopback, ``autocreate``) and Dovecot's LMTP with Pigeonhole (Debian ``dovecot-lmtpd``, a private
configuration under /tmp, ``mail_uid = nobody``, ``lda_mailbox_autocreate``), one after the other; vacation
replies of both go to one SMTP sink. Both keep their default durability (``fsync`` of each message).

    python benchmarks/delivery.py                 # 2,000 messages, 4 connections, 20 users python
    benchmarks/delivery.py --quick         # 300 messages
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import ROOT, active_uids, environment, generated_directory, log, markdown_table

from sieve import messages as sample_messages
from sieve import script_30_rules

sys.path.insert(0, str(ROOT / "tests"))
from dovecot_conf import private_conf
from lmtp_client import LmtpClient
from smtp_sink import SmtpSink
from support import ServeProcess, free_port, wait_for_port, write_sieve_config

DOMAIN = "ac-montpellier.fr"
WARM_UP = 20
LMTPD_SETTINGS = {
    "auth_username_format": "%Ln",
    "postmaster_address": f"postmaster@{DOMAIN}",
    "hostname": f"lmtp.{DOMAIN}",
    "lda_mailbox_autocreate": "yes",
}
LMTPD_BLOCKS = """\
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
}}
protocol lmtp {{
  mail_plugins = $mail_plugins sieve
}}
plugin {{
  sieve = file:~/sieve;active=~/.dovecot.sieve
  sieve_extensions = +vacation-seconds +editheader
}}
"""


def install_script(home: Path, text: str) -> None:
    """The script as the active one of ``home``, in the layout both servers read."""
    (home / "sieve").mkdir(parents=True, exist_ok=True)
    (home / "sieve" / "roundcube.sieve").write_text(text, encoding="utf-8")
    (home / ".dovecot.sieve").symlink_to("sieve/roundcube.sieve")


def workload(count: int, people: list[str], seed: int = 8) -> list[tuple[str, list[str], bytes]]:
    """``count`` messages of about 13 KB, each to 1–4 people (2.3 on average), addressed to them."""
    rng = random.Random(seed)
    filler = (
        "Lorem ipsum dolor sit amet, réunion du conseil pédagogique, ordre du jour et pièces jointes.\n" * 140
    )
    out = []
    for i, raw in enumerate(sample_messages(count, seed)):
        recipients = rng.sample(people, rng.choices([1, 2, 3, 4], [0.3, 0.25, 0.3, 0.15])[0])
        to = ", ".join(f"{r}@{DOMAIN}" for r in recipients).encode()
        body = raw.replace(b"To: me@ac-exemple.fr", b"To: " + to) + filler.encode()
        sender = f"sender{i % 97}@example.com"
        out.append((sender, [f"{r}@{DOMAIN}" for r in recipients], body))
    return out


def drive(
    port: int, work: list[tuple[str, list[str], bytes]], connections: int
) -> tuple[float, int, int, int]:
    """Send the workload over ``connections`` connections; seconds, messages, deliveries, errors."""
    totals = [0, 0, 0]
    lock = threading.Lock()

    def worker(share: list[tuple[str, list[str], bytes]]) -> None:
        client = LmtpClient("127.0.0.1", port)
        done = [0, 0, 0]
        for sender, recipients, message in share:
            answer = client.send(sender, recipients, message)
            ok = answer.delivered()
            done[0] += 1
            done[1] += len(ok)
            done[2] += len(recipients) - len(ok)
        client.close()
        with lock:
            for i in range(3):
                totals[i] += done[i]

    threads = [threading.Thread(target=worker, args=(work[i::connections],)) for i in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, totals[0], totals[1], totals[2]


def expected_replies(work: list[tuple[str, list[str], bytes]], skip: int) -> int:
    """Vacation replies due after the first ``skip`` messages: one per new (person, sender), none to lists."""

    def pairs(part: list[tuple[str, list[str], bytes]]) -> set[tuple[str, str]]:
        return {(r, s) for s, rs, m in part if b"\nList-Id:" not in m for r in rs}

    return len(pairs(work)) - len(pairs(work[:skip]))


def count_stored(homes: Path) -> int:
    """Messages stored in every Maildir folder below ``homes``."""
    return sum(
        1 for path in homes.glob("*/Maildir/**/*") if path.is_file() and path.parent.name in ("new", "cur")
    )


class Lmtpd:
    """Dovecot's LMTP with Pigeonhole under a private configuration (never /etc/dovecot)."""

    def __init__(self, people: list[str], script: str, sink_port: int) -> None:
        self.root, self.port = Path(tempfile.mkdtemp(prefix="bench-lmtpd-")), free_port()
        self.root.chmod(0o755)
        for sub in ("run", "state"):
            (self.root / sub).mkdir()
        self.home = self.root / "home"
        for person in people:
            install_script(self.home / person, script)
        subprocess.run(["chown", "-R", "nobody:nogroup", str(self.home)], check=True)
        self.conf = self.root / "dovecot.conf"
        settings = {**LMTPD_SETTINGS, "submission_host": f"127.0.0.1:{sink_port}"}
        blocks = LMTPD_BLOCKS.format(port=self.port)
        self.conf.write_text(private_conf(self.root, f"{self.home}/%Ln", "lmtp", settings, blocks))
        self.dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
        with (self.root / "start.log").open("wb") as out:
            subprocess.run([self.dovecot, "-c", str(self.conf)], check=True, stdout=out, stderr=out)
        wait_for_port("127.0.0.1", self.port)

    def stop(self) -> None:
        subprocess.run([self.dovecot, "-c", str(self.conf), "stop"], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def run(
    label: str,
    port: int,
    work: list[tuple[str, list[str], bytes]],
    connections: int,
    homes: Path,
    sink: SmtpSink,
) -> list[str]:
    """One measured run: warm-up of a few messages first (script compiled, folders made), not counted."""
    warm = work[:WARM_UP]
    drive(port, warm, connections)
    replies_before = len(sink.messages)
    log(f"{label}: {len(work) - len(warm)} messages over {connections} connections")
    seconds, messages, deliveries, errors = drive(port, work[len(warm) :], connections)
    time.sleep(0.5)
    return [
        label,
        f"{messages:,}",
        f"{deliveries:,}",
        str(errors),
        f"{seconds:.1f}",
        f"{messages / seconds:,.0f}",
        f"{deliveries / seconds:,.0f}",
        f"{count_stored(homes):,}",
        str(len(sink.messages) - replies_before),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="300 messages")
    args = parser.parse_args()
    if args.quick:
        args.messages = 300
    ldif = generated_directory(200)
    people = active_uids(ldif, args.users)
    work = workload(args.messages, people)
    script = script_30_rules()
    folder = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    with SmtpSink() as sink:
        config = write_sieve_config(
            folder / "groupware.conf",
            {"min_vacation_period": "0"},
            directory={"type": "ldif", "file": str(ldif)},
        )
        lmtp_port = free_port()
        with config.open("a", encoding="utf-8") as handle:
            handle.write(
                f"\n[lmtp]\nenabled = true\nhosts = 127.0.0.1:{lmtp_port}\nrelay = 127.0.0.1:{sink.port}\n"
                "autocreate = true\n"
            )
        for person in people:
            install_script(folder / "mail" / person, script)
        ours = ServeProcess(config)
        try:
            wait_for_port("127.0.0.1", lmtp_port)
            rows = [run("groupware", lmtp_port, work, args.connections, folder / "mail", sink)]
        finally:
            ours.stop()
        dovecot = Lmtpd(people, script, sink.port)
        try:
            rows.append(
                run("dovecot lmtp + pigeonhole", dovecot.port, work, args.connections, dovecot.home, sink)
            )
        finally:
            dovecot.stop()
    shutil.rmtree(folder, ignore_errors=True)
    headers = [
        "server",
        "messages",
        "deliveries",
        "errors",
        "seconds",
        "messages/s",
        "deliveries/s",
        "stored (with warm-up)",
        f"vacation replies (due: {expected_replies(work, WARM_UP)})",
    ]
    print(markdown_table(headers, rows, "lrrrrrrrr"))
    ratio = float(rows[0][5].replace(",", "")) / max(float(rows[1][5].replace(",", "")), 1e-9)
    print(f"\ngroupware / dovecot messages per second: {ratio:.2f} (target ≥ 0.8)\n")
    print(
        markdown_table(
            ["", ""], environment({"connections": str(args.connections), "users": str(args.users)})
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
