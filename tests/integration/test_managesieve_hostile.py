# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile ManageSieve clients against ``groupware serve``'s door (RFC 5804), in the test process: passwords
the directory refuses to send (SASLprep, RFC 4013) with a real slapd, oversized SASL literals, and idle
connections held from one address while another logs in."""

from __future__ import annotations

import resource
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import (
    LDIF_DIRECTORY,
    PASSWORD,
    USER,
    RunningServer,
    free_port,
    ldap_directory_section,
    sieve_plain,
    sieve_status,
    wait_for_port,
    wait_until,
    write_config,
)

from groupware import config as config_module


@pytest.fixture
def sieve_server(tmp_path: Path) -> Iterator[Callable[..., tuple[str, int]]]:
    """Start ``groupware serve``'s doors in this process with a [sieve] section; returns its address."""
    running: list[RunningServer] = []

    def start(
        directory: dict[str, str] | None = None,
        accounts: dict[str, str] | None = None,
        sieve: dict[str, str] | None = None,
        lmtp: dict[str, str] | None = None,
    ) -> tuple[str, int]:
        path = write_config(tmp_path / f"groupware{len(running)}.conf", directory or LDIF_DIRECTORY, accounts)
        port = free_port()
        options = {
            "enabled": "true",
            "hosts": f"127.0.0.1:{port}",
            "mail_root": str(tmp_path / "mail"),
            "allow_plaintext": "true",
            "trusted_clients": "",  # these tests play hostile clients from loopback addresses
            **(sieve or {}),
        }
        with path.open("a", encoding="utf-8") as handle:
            handle.write("\n[sieve]\n" + "".join(f"{k} = {v}\n" for k, v in options.items()))
            if lmtp is not None:
                handle.write("\n[lmtp]\nenabled = true\n" + "".join(f"{k} = {v}\n" for k, v in lmtp.items()))
        running.append(RunningServer(config_module.load(path)))
        wait_for_port("127.0.0.1", port)
        return "127.0.0.1", port

    yield start
    for server in running:
        server.stop()


@pytest.mark.slapd
@pytest.mark.parametrize("bad", ["\x01", "\ufffe", "\x7f"])
def test_password_saslprep_refuses_is_an_ordinary_failure_that_counts(
    sieve_server: Callable[..., tuple[str, int]], slapd: object, bad: str
) -> None:
    """RFC 4013 §2.3 forbids control characters and non-characters in a password: over ManageSieve that is
    ``NO "Authentication failed."`` on a connection that stays open (RFC 5804 §2.1), counted toward the
    lockout, not a dropped connection."""
    address = sieve_server(
        ldap_directory_section(slapd),
        {"max_failures_per_login": "2", "failure_window": "60", "lockout": "60"},
    )
    with socket.create_connection(address, timeout=10) as sock:
        sieve_status(sock)
        for _ in range(2):
            sock.sendall(sieve_plain(USER, PASSWORD + bad))
            assert sieve_status(sock) == b'NO "Authentication failed."\r\n'
        sock.sendall(b"NOOP\r\n")
        assert sieve_status(sock) == b'OK "NOOP completed."\r\n'
        sock.sendall(sieve_plain(USER, PASSWORD))
        assert sieve_status(sock) == b'NO "Authentication failed."\r\n', "locked out, even with the password"


def test_a_literal_over_a_mebibyte_in_authenticate_gets_no(
    sieve_server: Callable[..., tuple[str, int]],
) -> None:
    """The SASL initial response as a 1.5 MiB literal: ``NO`` with a reason, and the session goes on."""
    address = sieve_server()
    with socket.create_connection(address, timeout=10) as sock:
        sieve_status(sock)
        size = 3 << 19
        sock.sendall(b'AUTHENTICATE "PLAIN" {%d+}\r\n' % size + b"A" * size + b"\r\n")
        assert sieve_status(sock) == b'NO "Invalid SASL response: too long (%d bytes)."\r\n' % size
        sock.sendall(sieve_plain(USER, PASSWORD))
        assert sieve_status(sock) == b'OK "Logged in."\r\n'


def test_idle_connections_from_one_address_do_not_lock_others_out(
    sieve_server: Callable[..., tuple[str, int]],
) -> None:
    """1,000 idle connections from 127.0.0.2 (the door's default bounds): 127.0.0.1 still logs in, quickly."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    address = sieve_server()
    held: list[socket.socket] = []
    try:
        for _ in range(1000):
            held.append(socket.create_connection(address, timeout=10, source_address=("127.0.0.2", 0)))
        assert sieve_status(held[-1]).startswith(b'BYE "Too many connections'), "the burst is answered"
        started = time.monotonic()
        with socket.create_connection(address, timeout=10, source_address=("127.0.0.1", 0)) as sock:
            greeting = sieve_status(sock)
            assert greeting.endswith(b'OK "groupware ManageSieve ready."\r\n'), greeting
            sock.sendall(sieve_plain(USER, PASSWORD))
            assert sieve_status(sock) == b'OK "Logged in."\r\n'
        assert time.monotonic() - started < 1.0
    finally:
        for sock in held:
            sock.close()


def admitted(address: tuple[str, int], greeting: bytes) -> socket.socket:
    """A connection whose first answer starts with ``greeting``, once the port probe's one is released."""
    found: list[socket.socket] = []

    def connect() -> bool:
        sock = socket.create_connection(address, timeout=5)
        if sock.recv(100).startswith(greeting):
            found.append(sock)
            return True
        sock.close()
        return False

    wait_until(connect, 5, f"no connection to {address} admitted")
    return found[0]


def test_bounds_come_from_the_configuration(sieve_server: Callable[..., tuple[str, int]]) -> None:
    """``[sieve]`` and ``[lmtp]`` ``max_connections_per_address`` reach the doors of ``groupware serve``."""
    lmtp = ("127.0.0.1", free_port())
    address = sieve_server(
        sieve={"max_connections_per_address": "2"},
        lmtp={"hosts": f"{lmtp[0]}:{lmtp[1]}", "max_connections_per_address": "1"},
    )
    wait_for_port(*lmtp)
    held = [admitted(address, b'"IMPLEMENTATION"') for _ in range(2)]
    with socket.create_connection(address, timeout=5) as extra:
        assert sieve_status(extra) == b'BYE "Too many connections from your address."\r\n'
    with admitted(lmtp, b"220 "), socket.create_connection(lmtp, timeout=5) as second:
        assert second.recv(100).startswith(b"421 4.7.0 Too many connections from your address")
    for sock in held:
        sock.close()


def test_a_trusted_client_is_held_to_no_per_address_bound(
    sieve_server: Callable[..., tuple[str, int]],
) -> None:
    """``[sieve] trusted_clients`` (a webmail acting for many people): its address opens more connections
    than ``max_connections_per_address``; any other address is still held to it."""
    address = sieve_server(sieve={"max_connections_per_address": "2", "trusted_clients": "127.0.0.5"})
    webmail = [
        socket.create_connection(address, timeout=5, source_address=("127.0.0.5", 0)) for _ in range(4)
    ]
    other = [socket.create_connection(address, timeout=5, source_address=("127.0.0.6", 0)) for _ in range(3)]
    try:
        assert all(b'"IMPLEMENTATION"' in sieve_status(sock) for sock in webmail)
        answers = [sieve_status(sock) for sock in other]
        assert sum(b'"IMPLEMENTATION"' in answer for answer in answers) == 2
        assert b'BYE "Too many connections from your address."\r\n' in answers
    finally:
        for sock in webmail + other:
            sock.close()


def test_failing_logins_from_many_addresses_do_not_delay_others(
    sieve_server: Callable[..., tuple[str, int]],
) -> None:
    """15 addresses × 20 connections, each pipelining 9 wrong logins that take ``failure_delay`` (0.4 s)
    each: the delays are waited on the event loop, not in the worker threads, so 127.0.0.1 still logs in
    within a second."""
    address = sieve_server(accounts={"failure_delay": "0.4"})
    attackers: list[socket.socket] = []
    try:
        for n in range(2, 17):
            for i in range(20):
                sock = socket.create_connection(address, timeout=10, source_address=(f"127.0.0.{n}", 0))
                sock.sendall(sieve_plain(f"nobody{n}.{i}", "wrong") * 9)
                attackers.append(sock)
        time.sleep(0.2)  # the failures are under way
        started = time.monotonic()
        with socket.create_connection(address, timeout=10, source_address=("127.0.0.1", 0)) as sock:
            sieve_status(sock)
            sock.sendall(sieve_plain(USER, PASSWORD))
            assert sieve_status(sock) == b'OK "Logged in."\r\n'
        assert time.monotonic() - started < 1.0
    finally:
        for sock in attackers:
            sock.close()
