# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP connection bounds: one address cannot hold more than its share, a slow-header client is cut off, and
everyone else is served meanwhile (``[limits]``, :mod:`groupware.runtime.connections`)."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import LDIF_DIRECTORY, RunningServer, wait_for_port, write_config

from groupware import config as config_module

AUTH = base64.b64encode(b"helene.lefevre:helene.lefevre-demo").decode()
REQUEST = (
    f"PROPFIND /helene.lefevre/ HTTP/1.1\r\nHost: x\r\nDepth: 0\r\nAuthorization: Basic {AUTH}\r\n"
    "Content-Length: 0\r\n\r\n"
).encode()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    path = write_config(tmp_path / "g.conf", LDIF_DIRECTORY)
    limits = "[limits]\nmax_connections_per_address = 3\nheader_timeout = 0.5\n"
    path.write_text(path.read_text() + limits)
    running = RunningServer(config_module.load(path))
    host, port = running.server.addresses[0]
    wait_for_port(host, port)
    yield running
    running.stop()


def _connect(server: RunningServer, source: str) -> socket.socket:
    host, port = server.server.addresses[0]
    return socket.create_connection((host, port), timeout=5, source_address=(source, 0))


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` (EOF or reset) within ``within`` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _served(sock: socket.socket) -> bool:
    sock.sendall(REQUEST)
    sock.settimeout(5)
    return sock.recv(12).startswith(b"HTTP/1.1 207")


def test_one_address_holds_at_most_its_share(server: RunningServer) -> None:
    held = [_connect(server, "127.0.0.1") for _ in range(3)]
    extra = _connect(server, "127.0.0.1")
    assert _closed_by_server(extra, 3)
    with _connect(server, "127.0.0.2") as other:
        assert _served(other)
    assert not _closed_by_server(held[0], 0.2)
    for sock in held:
        sock.close()
    deadline = time.monotonic() + 5
    while True:  # the server sees the closes on its next loop turn
        with _connect(server, "127.0.0.1") as again:
            if not _closed_by_server(again, 0.3) or time.monotonic() > deadline:
                assert _served(again)
                break


def test_slow_headers_are_cut_off_and_others_are_served(server: RunningServer) -> None:
    slow = _connect(server, "127.0.0.3")
    slow.sendall(b"PROPFIND /helene.lefevre/ HTTP/1.1\r\nHost: x\r\n")
    with _connect(server, "127.0.0.4") as other:
        assert _served(other)
    started = time.monotonic()
    assert _closed_by_server(slow, 5)
    assert time.monotonic() - started < 3
    slow.close()


@pytest.mark.parametrize(
    "option", ["max_connections", "max_connections_per_address", "max_xml_depth", "header_timeout"]
)
def test_a_limit_of_zero_is_refused(tmp_path: Path, option: str) -> None:
    """A zero bound would make the door accept nothing: check-config and start-up refuse it."""
    from groupware.errors import ConfigError

    path = write_config(tmp_path / "g.conf", LDIF_DIRECTORY)
    path.write_text(path.read_text() + f"[limits]\n{option} = 0\n")
    with pytest.raises(ConfigError) as error:
        config_module.load(path)
    assert [(p.section, p.key) for p in error.value.problems] == [("limits", option)]


def test_a_trusted_proxy_is_not_bounded_per_address(tmp_path: Path) -> None:
    """A reverse proxy carries everyone's connections: from a ``trusted_proxies`` address more than
    ``max_connections_per_address`` are served, while any other address keeps its bound."""
    path = write_config(tmp_path / "g.conf", LDIF_DIRECTORY)
    text = path.read_text().replace("[server]\n", "[server]\ntrusted_proxies = 127.0.0.1\n")
    path.write_text(text + "[limits]\nmax_connections_per_address = 2\n")
    running = RunningServer(config_module.load(path))
    try:
        proxy = [_connect(running, "127.0.0.1") for _ in range(5)]
        assert all(_served(sock) for sock in proxy), "the proxy's connections are all served"
        other = [_connect(running, "127.0.0.2") for _ in range(3)]
        assert _closed_by_server(other[-1], 5), "another address keeps its bound"
        for sock in proxy + other:
            sock.close()
    finally:
        running.stop()
