# SPDX-License-Identifier: GPL-3.0-or-later
"""Lockout per person across the doors of one ``groupware serve`` (in the test process): failures made over
DAV under one form of a login lock the person out over ManageSieve under another (uid, mail, case), and the
other way round; another person, and the same address, keep logging in."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    MAIL,
    PASSWORD,
    USER,
    RunningServer,
    request,
    sieve_plain,
    sieve_status,
    wait_for_port,
    write_sieve_config,
)

from groupware import config as config_module

OTHER, OTHER_PASSWORD = "chloe.mas", "chloe.mas-demo"


def sieve_login(address: tuple[str, int], login: str, password: str) -> bytes:
    """One ManageSieve connection, one ``AUTHENTICATE "PLAIN"`` (RFC 4616): the server's answer."""
    with socket.create_connection(address, timeout=10) as sock:
        sieve_status(sock)
        sock.sendall(sieve_plain(login, password))
        return sieve_status(sock)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[RunningServer, tuple[str, int]]]:
    path = write_sieve_config(tmp_path / "groupware.conf", {})
    text = path.read_text(encoding="utf-8").replace(
        "[accounts]\n", "[accounts]\nmax_failures_per_login = 3\nfailure_window = 60\nlockout = 60\n"
    )
    path.write_text(text, encoding="utf-8")
    config = config_module.load(path)
    running = RunningServer(config)
    host, port = config.sieve.hosts[0]
    wait_for_port(host, port)
    yield running, (host, port)
    running.stop()


def test_failures_over_dav_by_uid_lock_managesieve_by_mail(
    server: tuple[RunningServer, tuple[str, int]],
) -> None:
    dav, sieve = server
    assert sieve_login(sieve, MAIL, PASSWORD) == b'OK "Logged in."\r\n'
    for login in (USER, USER.upper(), USER):
        assert request(dav, "PROPFIND", f"/{USER}/", login=login, password="wrong")[0] == 401
    assert sieve_login(sieve, MAIL, PASSWORD) == b'NO "Authentication failed."\r\n', "locked under the mail"
    assert sieve_login(sieve, MAIL.title(), PASSWORD) == b'NO "Authentication failed."\r\n'
    assert request(dav, "PROPFIND", f"/{USER}/", login=MAIL, headers={"Depth": "0"})[0] == 401
    assert sieve_login(sieve, OTHER, OTHER_PASSWORD) == b'OK "Logged in."\r\n', "from the same address"
    assert (
        request(dav, "PROPFIND", f"/{OTHER}/", login=OTHER, password=OTHER_PASSWORD, headers={"Depth": "0"})[
            0
        ]
        == 207
    )


def test_failures_over_managesieve_by_mail_lock_dav_by_uid(
    server: tuple[RunningServer, tuple[str, int]],
) -> None:
    dav, sieve = server
    for login in (MAIL, MAIL.upper(), f" {MAIL} "):
        assert sieve_login(sieve, login, "wrong") == b'NO "Authentication failed."\r\n'
    assert request(dav, "PROPFIND", f"/{USER}/", headers={"Depth": "0"})[0] == 401, "locked under the uid"
    assert request(dav, "PROPFIND", f"/{USER}/", login="Helene.Lefevre", headers={"Depth": "0"})[0] == 401


def test_the_agenda_api_counts_against_the_same_person(
    server: tuple[RunningServer, tuple[str, int]],
) -> None:
    dav, sieve = server
    for _ in range(3):
        assert request(dav, "GET", "/.groupware/api/v1/agendas", login=MAIL, password="wrong")[0] == 401
    assert sieve_login(sieve, USER, PASSWORD) == b'NO "Authentication failed."\r\n'
