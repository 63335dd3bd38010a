# SPDX-License-Identifier: GPL-3.0-or-later
"""Delivery through ``groupware serve``: swaks (Debian) over LMTP, rules into Maildir++, vacation to an SMTP
sink, and no message lost or duplicated when the server is killed with SIGKILL in the middle of a burst."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from lmtp_client import LmtpClient
from smtp_sink import SmtpSink
from support import ServeProcess, free_port, require_binaries, wait_for_port, wait_until, write_sieve_config

from groupware.sieve.scripts import ScriptStore

HELENE = "helene.lefevre@ac-montpellier.fr"
MARIE = "marie.martin@ac-montpellier.fr"
RULES = """\
require ["fileinto", "imap4flags", "mailbox", "vacation"];
# rule:[Absence]
vacation :days 1 :subject "Absente" :addresses ["h.lefevre@ac-montpellier.fr"]
	"Je suis absente cette semaine.";
# rule:[Collègues]
if address :is "from" "francois.muller@ac-montpellier.fr" { fileinto :create "Collègues/Lefèvre"; stop; }
# rule:[Lu]
if header :contains "subject" "[lu]" { addflag "\\\\Seen"; }
"""
SPAM = 'require "fileinto";\nif header :is "x-spam-flag" "YES" { fileinto "Junk"; stop; }\n'


class Serve:
    """``groupware serve`` with [sieve] and [lmtp] (relay: the sink) on free ports; restartable."""

    def __init__(self, folder: Path, relay: int) -> None:
        spam = folder / "spam.sieve"
        spam.write_text(SPAM)
        self.config = write_sieve_config(folder / "groupware.conf", {"before": str(spam)})
        self.port = free_port()
        with self.config.open("a", encoding="utf-8") as handle:
            handle.write(
                f"\n[lmtp]\nenabled = true\nhosts = 127.0.0.1:{self.port}\nrelay = 127.0.0.1:{relay}\n"
                "hostname = mx.test\nautocreate = false\n"
            )
        self.mail = folder / "mail"
        self.process = self.start()

    def start(self) -> ServeProcess:
        process = ServeProcess(self.config)
        wait_for_port("127.0.0.1", self.port)
        return process

    def maildir(self, user: str) -> Path:
        return self.mail / user / "Maildir"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


@pytest.fixture
def serve(tmp_path: Path, sink: SmtpSink) -> Iterator[Serve]:
    running = Serve(tmp_path, sink.port)
    store = ScriptStore(running.mail)
    store.put("helene.lefevre", "roundcube", RULES.encode())
    store.set_active("helene.lefevre", "roundcube")
    yield running
    if running.process.process.poll() is None:
        running.process.stop()


def swaks(
    port: int, to: str, sender: str = "paul@example.org", *headers: str, body: str = "Bonjour"
) -> subprocess.CompletedProcess[str]:
    require_binaries("swaks", packages="swaks")
    command = [
        "swaks",
        "--protocol",
        "LMTP",
        "--server",
        f"127.0.0.1:{port}",
        "--from",
        sender,
        "--to",
        to,
        "--body",
        body,
        "--helo",
        "mta.test",
    ]
    for header in headers:
        command += ["--header", header]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def messages(folder: Path) -> list[Path]:
    return sorted(p for sub in ("new", "cur") if (folder / sub).is_dir() for p in (folder / sub).iterdir())


def test_swaks_messages_land_where_the_rules_say(serve: Serve) -> None:
    assert swaks(serve.port, HELENE, "francois.muller@ac-montpellier.fr").returncode == 0
    assert swaks(serve.port, HELENE, "x@example.org", "X-Spam-Flag: YES").returncode == 0
    assert swaks(serve.port, HELENE, "y@example.org", "Subject: compte rendu [lu]").returncode == 0
    done = swaks(serve.port, HELENE.upper(), "z@example.org")
    assert done.returncode == 0 and f"250 2.0.0 <{HELENE.upper()}> delivered" in done.stdout
    home = serve.maildir("helene.lefevre")
    assert len(messages(home / ".Coll&AOg-gues.Lef&AOg-vre")) == 1  # Dovecot's name for Collègues/Lefèvre
    assert not (home / ".Junk").exists()  # the admin script's fileinto "Junk" has no :create: kept in INBOX
    inbox = messages(home)
    assert len(inbox) == 3
    assert [p.name.rpartition(":2,")[2] for p in inbox if ":2," in p.name] == ["S"]
    (home / ".Junk" / "cur").mkdir(parents=True)
    for sub in ("new", "tmp"):
        (home / ".Junk" / sub).mkdir()
    assert swaks(serve.port, HELENE, "x@example.org", "X-Spam-Flag: YES", body="encore").returncode == 0
    assert len(messages(home / ".Junk")) == 1


def test_unknown_and_disabled_recipients_are_refused_with_550(serve: Serve) -> None:
    for address in ("personne@ac-montpellier.fr", "paul.durand@ac-montpellier.fr"):
        refused = swaks(serve.port, address)
        assert refused.returncode != 0
        assert f"550 5.1.1 <{address}> User doesn't exist" in refused.stdout


def test_several_recipients_get_one_reply_each_after_data(serve: Serve) -> None:
    client = LmtpClient("127.0.0.1", serve.port)
    answer = client.send(
        "paul@example.org",
        [HELENE, "ghost@ac-montpellier.fr", MARIE, "helene.lefevre"],
        b"Subject: pour tous\r\nMessage-ID: <tous@example.org>\r\n\r\nTexte\r\n",
    )
    client.close()
    assert answer.rcpt[1].startswith("550 5.1.1")
    assert answer.data == [
        f"250 2.0.0 <{HELENE}> delivered",
        f"250 2.0.0 <{MARIE}> delivered",
        "250 2.0.0 <helene.lefevre> delivered",
    ]
    assert len(messages(serve.maildir("helene.lefevre"))) == 2  # one per RCPT (each its own Delivered-To)
    assert len(messages(serve.maildir("marie.martin"))) == 1


def test_vacation_reply_reaches_the_sink_once_and_never_for_automatic_or_list_mail(
    serve: Serve, sink: SmtpSink
) -> None:
    to_her = f"To: Hélène <{HELENE}>"
    for n in range(3):
        assert (
            swaks(
                serve.port,
                HELENE,
                "paul@example.org",
                "Subject: question",
                f"Message-Id: <q{n}@example.org>",
            ).returncode
            == 0
        )
    assert swaks(serve.port, HELENE, "robot@example.org", "Auto-Submitted: auto-generated").returncode == 0
    assert (
        swaks(serve.port, HELENE, "liste@example.org", "List-Id: <profs.ac-montpellier.fr>").returncode == 0
    )
    assert swaks(serve.port, HELENE, "bulk@example.org", "Precedence: bulk").returncode == 0
    assert swaks(serve.port, HELENE, "cc@example.org", "To: quelquun@example.org").returncode == 0
    assert swaks(serve.port, HELENE, "alias@example.org", "To: h.lefevre@ac-montpellier.fr").returncode == 0
    assert swaks(serve.port, HELENE, "<>", to_her).returncode == 0
    replies = sink.wait_for(2, timeout=5)
    assert [(r.sender, r.recipients) for r in replies] == [
        ("", ("paul@example.org",)),
        ("", ("alias@example.org",)),
    ]
    reply = replies[0].data.decode()
    assert re.search(r"(?m)^Auto-Submitted: auto-replied", reply)
    assert re.search(r"(?m)^In-Reply-To: <q0@example.org>", reply)
    assert re.search(r"(?m)^References: <q0@example.org>", reply)
    assert re.search(r"(?m)^Subject: Absente", reply)
    assert len(messages(serve.maildir("helene.lefevre"))) == 9  # every message is kept


def burst_message(n: int) -> bytes:
    return (
        f"From: p{n % 7}@example.org\r\nTo: {HELENE}\r\nSubject: rafale {n}\r\nMessage-ID: "
        f"<burst-{n}@example.org>"
        f"\r\n\r\n" + "ligne de texte assez longue pour remplir le message\r\n" * 40
    ).encode()


def burst(port: int, numbers: list[int], acked: set[tuple[int, str]], stop: threading.Event) -> None:
    """Send ``numbers`` to Hélène and Marie, one connection, recording each acknowledged (message,
    recipient).
    """
    try:
        client = LmtpClient("127.0.0.1", port, timeout=10)
        for n in numbers:
            if stop.is_set():
                return
            answer = client.send(f"p{n % 7}@example.org", [HELENE, MARIE], burst_message(n))
            acked.update((n, r) for r in answer.delivered())
    except (OSError, ConnectionError):
        return


def stored_ids(serve: Serve, user: str) -> Counter[int]:
    found: Counter[int] = Counter()
    home = serve.maildir(user)
    for path in messages(home):
        match = re.search(rb"Message-ID: <burst-(\d+)@", path.read_bytes())
        if match:
            found[int(match.group(1))] += 1
    return found


def test_sigkill_in_a_burst_loses_nothing_acknowledged_and_retries_add_no_duplicates(serve: Serve) -> None:
    serve.mail.joinpath("helene.lefevre").mkdir(exist_ok=True)
    total, acked, stop = 400, set[tuple[int, str]](), threading.Event()
    threads = [
        threading.Thread(target=burst, args=(serve.port, list(range(i, total, 4)), acked, stop))
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    wait_until(
        lambda: len(acked) >= 150 or not any(t.is_alive() for t in threads),
        60,
        lambda: f"{len(acked)} deliveries acknowledged after 60 s",
        interval=0.01,
    )
    serve.process.process.send_signal(signal.SIGKILL)
    serve.process.process.wait(10)
    stop.set()
    for thread in threads:
        thread.join(15)
    assert 150 <= len(acked) < 2 * total, "the kill came in the middle of the burst"
    by_user = {HELENE: stored_ids(serve, "helene.lefevre"), MARIE: stored_ids(serve, "marie.martin")}
    for n, recipient in acked:
        assert by_user[recipient][n] == 1, (
            f"acknowledged message {n} for {recipient} is not there exactly once"
        )
    assert all(count == 1 for found in by_user.values() for count in found.values())
    early = sum(1 for r, found in by_user.items() for n in found if (n, r) not in acked)
    print(f"killed after {len(acked)} acknowledged deliveries; {early} stored but not yet acknowledged")
    serve.process = serve.start()  # the MTA retries what was not acknowledged, with the same bytes
    client = LmtpClient("127.0.0.1", serve.port)
    for n in range(total):
        missing = [r for r in (HELENE, MARIE) if (n, r) not in acked]
        if missing:
            assert client.send(f"p{n % 7}@example.org", missing, burst_message(n)).delivered() == missing
    client.close()
    for user in ("helene.lefevre", "marie.martin"):
        assert stored_ids(serve, user) == Counter(range(total)), f"{user}: every message exactly once"
