# SPDX-License-Identifier: GPL-3.0-or-later
"""The asyncio ManageSieve server (RFC 5804) in a thread of the test process: idle timeout, BYE on abuse,
STARTTLS with the configured certificate, clean shutdown with open connections."""

from __future__ import annotations

import base64
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import OnLoop, self_signed_certificate, sieve_status, wait_until

from groupware.sieve.host import DEFAULT_EXTENSIONS
from groupware.sieve.managesieve import Capabilities, ManageSieveServer, ServerSettings, Session
from groupware.sieve.scripts import ScriptStore


class Accounts:
    def authenticate(self, login: str, password: str, authzid: str = "", remote_addr: str = "") -> str | None:
        return login if password == "secret" else None


def start(tmp_path: Path, **settings: object) -> OnLoop:
    context = settings.pop("ssl_context", None)
    caps = Capabilities(
        DEFAULT_EXTENSIONS, tls_available=context is not None, allow_plaintext=context is None
    )
    store = ScriptStore(tmp_path / "mail")
    server = ManageSieveServer(
        ServerSettings(hosts=(("127.0.0.1", 0),), ssl_context=context, **settings),  # type: ignore[arg-type]
        lambda remote: Session(store, Accounts(), caps, remote),
    )
    return OnLoop(server)


def tls_server(tmp_path: Path, servers: list[OnLoop]) -> tuple[OnLoop, Path]:
    """A server offering STARTTLS with a fresh self-signed certificate."""
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    servers.append(server := start(tmp_path, ssl_context=context))
    return server, cert


@pytest.fixture
def servers() -> Iterator[list[OnLoop]]:
    running: list[OnLoop] = []
    yield running
    for server in running:
        server.stop()


def test_idle_connections_get_bye(tmp_path: Path, servers: list[OnLoop]) -> None:
    servers.append(server := start(tmp_path, idle_timeout=0.3))
    with socket.create_connection(server.addresses[0], timeout=5) as sock:
        assert sieve_status(sock).endswith(b'OK "groupware ManageSieve ready."\r\n')
        assert sieve_status(sock) == b'BYE "Disconnected for inactivity."\r\n'
        assert sock.recv(10) == b""


@pytest.mark.parametrize(
    "abuse, reason",
    [(b"X" * 20000, b"Command line too long."), (b'PUTSCRIPT "a" {999999999+}\r\n', b"Literal too large")],
)
def test_protocol_abuse_gets_bye(tmp_path: Path, servers: list[OnLoop], abuse: bytes, reason: bytes) -> None:
    servers.append(server := start(tmp_path))
    with socket.create_connection(server.addresses[0], timeout=5) as sock:
        sieve_status(sock)
        sock.sendall(abuse)
        answer = sieve_status(sock)
        assert answer.startswith(b'BYE "' + reason)
        assert sock.recv(10) == b""


def test_starttls_with_the_configured_certificate(tmp_path: Path, servers: list[OnLoop]) -> None:
    server, cert = tls_server(tmp_path, servers)
    with socket.create_connection(server.addresses[0], timeout=5) as raw:
        greeting = sieve_status(raw)
        assert b'"STARTTLS"' in greeting and b'"SASL" ""' in greeting
        raw.sendall(b"STARTTLS\r\n")
        assert sieve_status(raw) == b'OK "Begin TLS negotiation now."\r\n'
        client = ssl.create_default_context(cafile=str(cert))
        with client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            capabilities = sieve_status(tls)
            assert b'"SASL" "PLAIN LOGIN"' in capabilities and b"STARTTLS" not in capabilities
            token = base64.b64encode(b"\0helene.lefevre\0secret")
            tls.sendall(b'AUTHENTICATE "PLAIN" "' + token + b'"\r\nLISTSCRIPTS\r\n')
            assert sieve_status(tls) == b'OK "Logged in."\r\n'


def test_stop_says_bye_to_open_connections(tmp_path: Path) -> None:
    server = start(tmp_path)
    with socket.create_connection(server.addresses[0], timeout=5) as sock:
        sieve_status(sock)
        server.stop()
        assert sieve_status(sock) == b'BYE "Server shutting down."\r\n'
    with pytest.raises(OSError):
        socket.create_connection(server.addresses[0], timeout=1)


def test_plaintext_pipelined_after_starttls_is_refused(tmp_path: Path, servers: list[OnLoop]) -> None:
    server, _cert = tls_server(tmp_path, servers)
    with socket.create_connection(server.addresses[0], timeout=5) as sock:
        sieve_status(sock)
        sock.sendall(b'STARTTLS\r\nAUTHENTICATE "PLAIN" "AGEAYg=="\r\n')  # RFC 5804 §2.2: no injection
        answer = sieve_status(sock) + sieve_status(sock)
        assert b'BYE "Data sent before the TLS handshake."' in answer


def connect_from(address: tuple[str, int], source: str) -> socket.socket:
    """A connection from the loopback address ``source`` (127.0.0.N), greeting read."""
    sock = socket.create_connection(address, timeout=5, source_address=(source, 0))
    sieve_status(sock)
    return sock


def login_ok(sock: socket.socket) -> bytes:
    sock.sendall(b'AUTHENTICATE "PLAIN" "' + base64.b64encode(b"\0helene.lefevre\0secret") + b'"\r\n')
    return sieve_status(sock)


def test_connections_per_address_are_bounded(tmp_path: Path, servers: list[OnLoop]) -> None:
    """One address holding its share gets ``BYE`` at once on its next connection; others still log in."""
    servers.append(server := start(tmp_path, max_connections_per_address=3))
    held = [connect_from(server.addresses[0], "127.0.0.2") for _ in range(3)]
    with socket.create_connection(server.addresses[0], timeout=5, source_address=("127.0.0.2", 0)) as extra:
        assert sieve_status(extra) == b'BYE "Too many connections from your address."\r\n'
        assert extra.recv(10) == b""
    with connect_from(server.addresses[0], "127.0.0.1") as other:
        assert login_ok(other) == b'OK "Logged in."\r\n'
    held.pop().close()
    wait_until(
        lambda: server.server._admission.held("127.0.0.2") == 2, 5, "the closed connection is released"
    )
    with connect_from(server.addresses[0], "127.0.0.2") as again:
        assert login_ok(again) == b'OK "Logged in."\r\n'
    for sock in held:
        sock.close()


def test_connections_per_process_are_bounded(tmp_path: Path, servers: list[OnLoop]) -> None:
    servers.append(server := start(tmp_path, max_connections=2))
    held = [connect_from(server.addresses[0], f"127.0.0.{n}") for n in (2, 3)]
    with socket.create_connection(server.addresses[0], timeout=5) as extra:
        assert sieve_status(extra) == b'BYE "Too many connections, try again later."\r\n'
    for sock in held:
        sock.close()


def test_unauthenticated_connections_get_bye_after_auth_timeout(
    tmp_path: Path, servers: list[OnLoop]
) -> None:
    """Keeping busy does not extend the time to log in; once logged in, only ``idle_timeout`` applies; after
    UNAUTHENTICATE the clock starts again."""
    servers.append(server := start(tmp_path, auth_timeout=0.5, idle_timeout=5))
    with connect_from(server.addresses[0], "127.0.0.1") as sock:
        started = time.monotonic()
        answers = b""
        while b"BYE" not in answers and time.monotonic() - started < 5:
            sock.sendall(b"NOOP\r\n")
            answers += sieve_status(sock)
            time.sleep(0.05)
        assert answers.endswith(b'BYE "Disconnected: authentication took too long."\r\n')
        assert 0.4 < time.monotonic() - started < 2
    with connect_from(server.addresses[0], "127.0.0.1") as sock:
        assert login_ok(sock) == b'OK "Logged in."\r\n'
        time.sleep(0.8)
        sock.sendall(b"UNAUTHENTICATE\r\n")
        assert sieve_status(sock) == b'OK "Unauthenticate completed."\r\n'
        assert sieve_status(sock) == b'BYE "Disconnected: authentication took too long."\r\n'


def test_a_failure_of_ours_is_no_trylater_not_a_dropped_connection(
    tmp_path: Path, servers: list[OnLoop], monkeypatch: pytest.MonkeyPatch
) -> None:
    servers.append(server := start(tmp_path))

    def broken(self: ScriptStore, user: str) -> list[tuple[str, bool]]:
        raise OSError("disk on fire")

    monkeypatch.setattr(ScriptStore, "list", broken)
    with connect_from(server.addresses[0], "127.0.0.1") as sock:
        assert login_ok(sock) == b'OK "Logged in."\r\n'
        sock.sendall(b"LISTSCRIPTS\r\nNOOP\r\n")
        expected = b'NO (TRYLATER) "Internal server error; try again later."\r\nOK "NOOP completed."\r\n'
        answer = sieve_status(sock)  # both answers may come in one read
        while len(answer) < len(expected) and (more := sieve_status(sock)):
            answer += more
        assert answer == expected


def test_a_tls_handshake_that_never_comes_is_closed(tmp_path: Path, servers: list[OnLoop]) -> None:
    """STARTTLS (RFC 5804 §2.2), then silence: the connection ends with the time to authenticate."""
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    servers.append(server := start(tmp_path, ssl_context=context, auth_timeout=0.5))
    with connect_from(server.addresses[0], "127.0.0.1") as sock:
        sock.sendall(b"STARTTLS\r\n")
        assert sieve_status(sock) == b'OK "Begin TLS negotiation now."\r\n'
        started = time.monotonic()
        assert sock.recv(10) == b""
        assert time.monotonic() - started < 3


def test_a_refused_login_is_answered_after_the_failure_delay(tmp_path: Path, servers: list[OnLoop]) -> None:
    """The minimum time of a failed login is waited by the server on its loop; a good login is not delayed."""
    servers.append(server := start(tmp_path, failure_delay=0.4))
    with connect_from(server.addresses[0], "127.0.0.1") as sock:
        started = time.monotonic()
        sock.sendall(b'AUTHENTICATE "PLAIN" "' + base64.b64encode(b"\0helene.lefevre\0wrong") + b'"\r\n')
        assert sieve_status(sock) == b'NO "Authentication failed."\r\n'
        assert time.monotonic() - started >= 0.4
        started = time.monotonic()
        assert login_ok(sock) == b'OK "Logged in."\r\n'
        assert time.monotonic() - started < 0.3


def test_literals_before_authentication_are_kept_small(tmp_path: Path, servers: list[OnLoop]) -> None:
    """Before login a literal over ``max_auth_literal`` is dropped unread and refused; after it, scripts of
    the full ``max_literal`` go through."""
    servers.append(server := start(tmp_path, max_auth_literal=1000))
    token = base64.b64encode(b"\0helene.lefevre\0secret" + b"\0" * 1000)
    script = b"#" + b"x" * 4998 + b"\n"
    with connect_from(server.addresses[0], "127.0.0.1") as sock:
        sock.sendall(b'AUTHENTICATE "PLAIN" {%d+}\r\n%s\r\n' % (len(token), token))
        assert sieve_status(sock) == b'NO "Invalid SASL response: too long (%d bytes)."\r\n' % len(token)
        assert login_ok(sock) == b'OK "Logged in."\r\n'
        sock.sendall(b'PUTSCRIPT "big" {%d+}\r\n%s\r\n' % (len(script), script))
        assert sieve_status(sock) == b'OK "PUTSCRIPT completed."\r\n'
