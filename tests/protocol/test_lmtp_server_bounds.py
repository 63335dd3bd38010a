# SPDX-License-Identifier: GPL-3.0-or-later
"""The LMTP server's connection bounds (RFC 2033 over RFC 5321): connections per process and per client
address answered ``421`` at once (RFC 5321 §3.8), the deadline for ``LHLO``, a failure of ours answered
``421`` instead of a dropped connection; another client still delivers while one address holds its share."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lmtp_client import LmtpClient
from support import OnLoop, wait_until

from groupware.sieve.delivery import Delivery, LmtpServer, LmtpSettings
from groupware.sieve.host import Policy, Recipient
from groupware.sieve.scripts import ScriptStore


class Lookup:
    def lookup(self, address: str) -> Recipient | None:
        if address == "bug@ac.fr":
            raise RuntimeError("a bug of ours")
        return Recipient("helene", (address,)) if address == "helene@ac.fr" else None


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., OnLoop]]:
    """Start LMTP servers with some settings; all are stopped after the test."""
    running: list[OnLoop] = []

    def run(**settings: Any) -> OnLoop:
        store = ScriptStore(tmp_path / "mail")
        base = LmtpSettings(hosts=(("127.0.0.1", 0),), hostname="mx.test", timeout=5)
        bounded = dataclasses.replace(base, **settings)
        server = LmtpServer(bounded, Lookup(), Delivery(store, Policy(), hostname="mx.test"))
        running.append(on_loop := OnLoop(server))
        return on_loop

    yield run
    for server in running:
        server.stop()


def raw(server: OnLoop, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(server.addresses[0], timeout=5, source_address=(source, 0))


def first_reply(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def deliver(server: OnLoop, source: str = "127.0.0.1") -> list[str]:
    client = LmtpClient.__new__(LmtpClient)  # LmtpClient, connected from ``source``
    client.sock = raw(server, source)
    client.file = client.sock.makefile("rb")
    client.greeting = client.reply()
    client.command(b"LHLO client.example.org")
    answer = client.send("a@b.org", ["helene@ac.fr"], b"Subject: hi\r\n\r\nbody\r\n")
    client.close()
    return answer.data


def test_connections_per_address_get_421_beyond_the_bound(start: Callable[..., OnLoop]) -> None:
    server = start(max_connections_per_address=3)
    held = [raw(server, "127.0.0.2") for _ in range(3)]
    for sock in held:
        assert first_reply(sock) == b"220 mx.test LMTP ready\r\n"
    with raw(server, "127.0.0.2") as extra:
        assert first_reply(extra) == b"421 4.7.0 Too many connections from your address, try again later\r\n"
        assert extra.recv(10) == b""
    assert deliver(server, "127.0.0.1") == ["250 2.0.0 <helene@ac.fr> delivered"]
    held.pop().close()
    wait_until(
        lambda: server.server._admission.held("127.0.0.2") == 2, 5, "the closed connection is released"
    )
    assert deliver(server, "127.0.0.2") == ["250 2.0.0 <helene@ac.fr> delivered"]
    for sock in held:
        sock.close()


def test_connections_per_process_get_421_beyond_the_bound(start: Callable[..., OnLoop]) -> None:
    server = start(max_connections=2)
    held = [raw(server, f"127.0.0.{n}") for n in (2, 3)]
    for sock in held:
        first_reply(sock)
    with raw(server) as extra:
        assert first_reply(extra) == b"421 4.3.2 Too many connections, try again later\r\n"
    for sock in held:
        sock.close()


def test_lhlo_must_come_within_the_handshake_timeout(start: Callable[..., OnLoop]) -> None:
    """Commands other than LHLO do not extend the deadline; after LHLO only ``timeout`` applies."""
    server = start(handshake_timeout=0.5, timeout=5)
    with raw(server) as sock:
        first_reply(sock)
        started = time.monotonic()
        answers = b""
        while b"421" not in answers and time.monotonic() - started < 5:
            sock.sendall(b"NOOP\r\n")
            answers += first_reply(sock)
            time.sleep(0.05)
        assert answers.endswith(b"421 4.4.2 mx.test Timeout exceeded, closing connection\r\n")
        assert 0.4 < time.monotonic() - started < 2
    with raw(server) as sock:
        first_reply(sock)
        sock.sendall(b"LHLO client.example.org\r\n")
        time.sleep(0.8)
        sock.sendall(b"NOOP\r\n")
        answer = b""
        while not answer.endswith(b"250 2.0.0 Ok\r\n"):  # LHLO's lines, then NOOP's, in as many reads as come
            line = first_reply(sock)
            assert line, f"the connection closed after {answer!r}"
            answer += line
        assert answer.startswith(b"250-mx.test"), answer


def test_a_failure_of_ours_is_421_not_a_dropped_connection(start: Callable[..., OnLoop]) -> None:
    server = start()
    with raw(server) as sock:
        first_reply(sock)
        sock.sendall(b"LHLO x\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bug@ac.fr>\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        assert data.endswith(b"421 4.3.0 Internal server error, try again later\r\n"), data
