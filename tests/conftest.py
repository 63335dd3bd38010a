# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures: configuration files, an in-process server on a free port, a real slapd."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from groupware import config as config_module, registry

ROOT = Path(__file__).resolve().parents[1]
DEMO_LDIF = ROOT / "config" / "demo-directory.ldif"
ADMIN_GROUP = "cn=groupware-admins,ou=groups,dc=ac-montpellier,dc=fr"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binaries(*names: str, packages: str) -> None:
    """Fail (never skip) when a Debian component the tests need is missing."""
    missing = [name for name in names if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists()]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `apt-get install -y {packages}`", pytrace=False)


def write_config(path: Path, directory: dict[str, str], accounts: dict[str, str] | None = None,
                 port: int | None = None, storage: Path | None = None) -> Path:
    """Write a groupware configuration file for a test."""
    accounts = {"admin_group": ADMIN_GROUP, "failure_delay": "0.05", **(accounts or {})}
    lines = ["[server]", f"hosts = 127.0.0.1:{port or free_port()}", "", "[storage]",
             f"filesystem_folder = {storage or path.parent / 'collections'}", "", "[logging]", "level = warning", "",
             "[directory]", *(f"{k} = {v}" for k, v in directory.items()), "", "[accounts]",
             *(f"{k} = {v}" for k, v in accounts.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


LDIF_DIRECTORY = {"type": "ldif", "file": str(DEMO_LDIF), "disabled_filter": "(employeeType=inactif)"}


class RunningServer:
    """A groupware server running in a thread of the test process."""

    def __init__(self, config: config_module.Config) -> None:
        from groupware.server import Server

        self.config = config
        self.server = Server(config)
        host, port = self.server.addresses[0]
        self.url = f"http://{host}:{port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(100):
            try:
                socket.create_connection((host, port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.02)

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(timeout=5)
        registry.clear()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start servers from a directory section (and accounts options); all are stopped after the test."""
    servers: list[RunningServer] = []

    def start(directory: dict[str, str] | None = None, accounts: dict[str, str] | None = None) -> RunningServer:
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


def ldap_directory_section(server: object, **overrides: str) -> dict[str, str]:
    """The [directory] section for the slapd fixture."""
    section = {"type": "ldap", "uri": server.uri, "base_dn": server.base_dn,  # type: ignore[attr-defined]
               "people_dn": f"ou=people,{server.base_dn}", "groups_dn": f"ou=groups,{server.base_dn}",  # type: ignore[attr-defined]
               "bind_dn": server.service_dn, "bind_password": server.service_password,  # type: ignore[attr-defined]
               "disabled_filter": "(employeeType=inactif)", "connect_timeout": "2", "timeout": "5",
               "cache_ttl": "0"}
    section.update(overrides)
    return section
