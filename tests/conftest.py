# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures: an in-process server on a free port, a real slapd."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import DEMO_LDIF, LDIF_DIRECTORY, RunningServer, require_binaries, write_config

from groupware import config as config_module


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start servers from a directory section (and accounts options); all are stopped after the test."""
    servers: list[RunningServer] = []

    def start(
        directory: dict[str, str] | None = None, accounts: dict[str, str] | None = None
    ) -> RunningServer:
        path = write_config(tmp_path / f"groupware{len(servers)}.conf", directory or LDIF_DIRECTORY, accounts)
        running = RunningServer(config_module.load(path))
        servers.append(running)
        return running

    yield start
    for running in servers:
        running.stop()


@pytest.fixture(scope="session")
def slapd() -> Iterator[object]:
    """A real OpenLDAP slapd on 127.0.0.1 (random port, temp dir) loaded with the demo directory."""
    require_binaries("slapd", "slapadd", "ldapsearch", packages="slapd ldap-utils")
    from groupware.directory.slapd import Slapd

    with Slapd(str(DEMO_LDIF), memberof=True) as server:
        yield server
