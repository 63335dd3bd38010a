# SPDX-License-Identifier: GPL-3.0-or-later
"""Outgoing mail of ``groupware serve`` through a real Postfix that refuses bare LF (RFC 5321 §2.3.8): a
vacation reply (RFC 5230) and a redirect (RFC 5228 §4.2) arrive intact; with the relay down they wait in the
outgoing queue, across a restart, and are sent once it is back, exactly once; SMTPUTF8 (RFC 6531) and
8BITMIME (RFC 6152) are asked for when the message needs them, and only then."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lmtp_client import LmtpClient
from postfix_relay import PostfixRelay
from support import ServeProcess, free_port, wait_for_port, write_sieve_config

from groupware.sieve.scripts import ScriptStore

HELENE = "helene.lefevre@ac-montpellier.fr"
MARIE = "marie.martin@ac-montpellier.fr"
FORWARD_TO = "paul.martin@example.org"


def vacation(reason: str) -> str:
    return f'require "vacation";\nvacation :days 1 :subject "Absente" "{reason}";\n'


def message(n: int, body: str = "Bonjour,\n.une ligne qui commence par un point\nfin\n") -> bytes:
    return (
        f"From: Paul <paul@example.org>\nTo: {HELENE}, {MARIE}\nSubject: =?utf-8?q?R=C3=A9union?= {n}\n"
        f"Date: Mon, 7 Dec 2026 09:00:00 +0100\nMessage-ID: <r{n}@example.org>\n\n{body}"
    ).encode()


class Server:
    """``groupware serve`` delivering over LMTP with Postfix as ``[lmtp] relay``; restartable."""

    def __init__(self, folder: Path, relay: int) -> None:
        self.config = write_sieve_config(folder / "groupware.conf", {})
        self.lmtp = free_port()
        with self.config.open("a", encoding="utf-8") as handle:
            handle.write(
                f"\n[lmtp]\nenabled = true\nhosts = 127.0.0.1:{self.lmtp}\nrelay = 127.0.0.1:{relay}\n"
                "hostname = mx.test\nqueue_retry = 1\nqueue_max_retry = 2\n"
            )
        self.store = ScriptStore(folder / "mail")
        self.process: ServeProcess | None = None

    def scripts(self, helene: str, marie: str) -> None:
        for user, text in (("helene.lefevre", helene), ("marie.martin", marie)):
            self.store.put(user, "rules", text.encode())
            self.store.set_active(user, "rules")

    def start(self) -> None:
        self.process = ServeProcess(self.config)
        wait_for_port("127.0.0.1", self.lmtp)

    def stop(self) -> str:
        """Stop the server; what it logged."""
        err = ""
        if self.process is not None and self.process.process.poll() is None:
            err = self.process.stop()[1]
        self.process = None
        return err

    def deliver(self, sender: str, raw: bytes) -> None:
        """Deliver ``raw`` to Hélène and Marie; both must get 250 (stored, redirect sent or queued)."""
        client = LmtpClient("127.0.0.1", self.lmtp, timeout=90)
        try:
            answer = client.send(sender, [HELENE, MARIE], raw)
        finally:
            client.close()
        assert answer.delivered() == [HELENE, MARIE], answer

    def queue(self) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "groupware.cli", "sieve", "queue", "list", "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout


@pytest.fixture
def postfix() -> Iterator[PostfixRelay]:
    relay = PostfixRelay()
    yield relay
    relay.close()


@pytest.fixture
def server(tmp_path: Path, postfix: PostfixRelay) -> Iterator[Server]:
    running = Server(tmp_path, postfix.port)
    running.scripts(vacation("Je suis absente cette semaine."), f'redirect "{FORWARD_TO}";')
    yield running
    running.stop()


def by_recipient(received: list[bytes]) -> dict[str, bytes]:
    return {delivered_to(data): data for data in received}


def delivered_to(data: bytes) -> str:
    match = re.search(rb"(?m)^Delivered-To: (.+)$", data)
    assert match is not None, data
    return match.group(1).decode()


def mail_from_lines(postfix: PostfixRelay) -> list[str]:
    """The MAIL FROM commands Postfix received (its debug log of 127.0.0.1), without the SIZE parameter."""
    found = re.findall(r"< localhost\[127\.0\.0\.1\]: mail (FROM:.*)", postfix.log_text(), re.IGNORECASE)
    return [re.sub(r" size=\d+", "", "MAIL " + line, flags=re.IGNORECASE) for line in found]


def test_a_vacation_reply_and_a_redirect_reach_postfix_intact(server: Server, postfix: PostfixRelay) -> None:
    postfix.start()
    server.start()
    raw = message(1)
    server.deliver("paul@example.org", raw)
    got = by_recipient(postfix.wait_for(2))
    assert set(got) == {"paul@example.org", FORWARD_TO}
    reply, forwarded = got["paul@example.org"], got[FORWARD_TO]
    assert reply.startswith(b"Return-Path: <>\n")  # the null reverse-path (RFC 3834 §3.3)
    for field in (
        f"From: {HELENE}",
        "To: paul@example.org",
        "Subject: Absente",
        "In-Reply-To: <r1@example.org>",
        "References: <r1@example.org>",
        "Auto-Submitted: auto-replied (vacation)",
    ):
        assert re.search(rb"(?m)^" + re.escape(field.encode()) + rb"$", reply), field
    assert reply.endswith(b"\n\nJe suis absente cette semaine.\n")
    assert forwarded.startswith(b"Return-Path: <paul@example.org>\n")
    assert forwarded.endswith(f"X-Sieve-Redirected-From: {MARIE}\n".encode() + raw)
    log = postfix.log_text()
    assert "bare <LF>" not in log and "status=sent (delivered to maildir)" in log
    assert sorted(mail_from_lines(postfix)) == ["MAIL FROM:<>", "MAIL FROM:<paul@example.org>"]


def test_with_postfix_down_they_are_queued_and_sent_once_it_is_back(
    server: Server, postfix: PostfixRelay
) -> None:
    server.start()
    for n in range(3):  # three messages from Paul: one vacation reply, three redirects
        server.deliver("paul@example.org", message(n))
    listing = server.queue()
    assert listing.count("\tvacation\t") == 1 and listing.count("\tredirect\t") == 3
    assert "Connection refused" in listing
    server.stop()  # the queue is on disk: it survives the restart
    postfix.start()
    server.start()
    received = postfix.wait_for(4)
    time.sleep(4)  # several more rounds of the queue: nothing is sent twice
    received = postfix.messages()
    recipients = sorted(delivered_to(m) for m in received)
    assert recipients == [FORWARD_TO] * 3 + ["paul@example.org"]
    assert server.queue() == ""
    # the reply was recorded once Postfix took it: Paul's next message gets none, its redirect goes
    server.deliver("paul@example.org", message(9))
    assert len(postfix.wait_for(5)) == 5
    time.sleep(2)
    assert len(postfix.messages()) == 5


def test_non_ascii_addresses_and_bodies_use_smtputf8_and_8bitmime(
    server: Server, postfix: PostfixRelay
) -> None:
    server.scripts(vacation("Je suis absente jusqu’à lundi."), f'redirect "{FORWARD_TO}";')
    postfix.start()
    server.start()
    elodie = "élodie@exemple.fr"
    ascii_body, eight_bit = message(1), message(2, body="Voilà le compte rendu, déjà relu.\n")
    server.deliver(elodie, ascii_body)
    server.deliver("paul@example.org", eight_bit)
    received = postfix.wait_for(4)
    assert sorted(mail_from_lines(postfix)) == sorted(
        [
            "MAIL FROM:<> BODY=8BITMIME SMTPUTF8",  # the reply to Élodie: UTF-8 address, 8-bit text
            f"MAIL FROM:<{elodie}> SMTPUTF8",  # her message redirected: UTF-8 sender, ASCII content
            "MAIL FROM:<> BODY=8BITMIME",  # the reply to Paul: ASCII address, 8-bit text
            "MAIL FROM:<paul@example.org> BODY=8BITMIME",  # his 8-bit message redirected
        ]
    )
    reply = next(m for m in received if delivered_to(m) == elodie)
    assert re.search(rb"(?m)^\s+by relay\.test \(Postfix\) with UTF8SMTP ", reply)  # RFC 6531 §4.3
    assert f"To: {elodie}\n".encode() in reply and "jusqu’à lundi.".encode() in reply
    forwarded = [m for m in received if delivered_to(m) == FORWARD_TO]
    assert sorted(m.endswith(eight_bit) for m in forwarded) == [False, True]
    pauls = next(m for m in forwarded if m.endswith(eight_bit))
    assert re.search(rb"(?m)^\s+by relay\.test \(Postfix\) with ESMTP ", pauls)
    assert any(m.endswith(ascii_body) for m in forwarded)


def test_a_relay_without_smtputf8_is_a_logged_refusal_and_the_message_is_kept(
    server: Server, postfix: PostfixRelay
) -> None:
    """RFC 6531 §3.2: no SMTPUTF8 at the relay, no non-ASCII envelope: the redirect is kept in INBOX."""
    with (postfix.etc / "main.cf").open("a", encoding="utf-8") as handle:
        handle.write("smtputf8_enable = no\n")
    postfix.start()
    server.start()
    server.deliver("élodie@exemple.fr", message(1))
    time.sleep(2)
    assert postfix.messages() == []
    assert server.queue() == "", postfix.log_text()[-4000:]
    inbox = server.store.home("marie.martin") / "Maildir" / "new"
    (kept,) = inbox.iterdir()
    assert kept.read_bytes().endswith(message(1))
    log = server.stop()
    assert "does not offer SMTPUTF8 (RFC 6531)" in log and "redirect_refused" in log
