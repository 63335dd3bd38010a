# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the tests: configuration files, an in-process server on a free port, HTTP requests."""

from __future__ import annotations

import base64
import http.client
import shutil
import socket
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from groupware import config as config_module
from groupware import registry

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
                 port: int | None = None, storage: Path | None = None,
                 storage_options: dict[str, str] | None = None) -> Path:
    """Write a groupware configuration file for a test (``storage_options``: more ``[storage]`` options)."""
    accounts = {"admin_group": ADMIN_GROUP, "failure_delay": "0.05", **(accounts or {})}
    lines = ["[server]", f"hosts = 127.0.0.1:{port or free_port()}", "", "[storage]",
             f"filesystem_folder = {storage or path.parent / 'collections'}",
             *(f"{k} = {v}" for k, v in (storage_options or {}).items()), "", "[logging]", "level = warning", "",
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


def start_with_storage(path: Path, storage: Path, **storage_options: str) -> RunningServer:
    """A server on the LDIF directory whose ``[storage]`` uses the folder ``storage`` and ``storage_options``."""
    config = write_config(path, LDIF_DIRECTORY, storage=storage, storage_options=storage_options)
    return RunningServer(config_module.load(config))


def ldap_directory_section(server: object, **overrides: str) -> dict[str, str]:
    """The [directory] section for the slapd fixture."""
    section = {"type": "ldap", "uri": server.uri, "base_dn": server.base_dn,  # type: ignore[attr-defined]
               "people_dn": f"ou=people,{server.base_dn}", "groups_dn": f"ou=groups,{server.base_dn}",  # type: ignore[attr-defined]
               "bind_dn": server.service_dn, "bind_password": server.service_password,  # type: ignore[attr-defined]
               "disabled_filter": "(employeeType=inactif)", "connect_timeout": "2", "timeout": "5",
               "cache_ttl": "0"}
    section.update(overrides)
    return section


USER, PASSWORD = "helene.lefevre", "helene.lefevre-demo"
MAIL = "helene.lefevre@ac-montpellier.fr"
DAV, CALDAV, CARDDAV = "{DAV:}", "{urn:ietf:params:xml:ns:caldav}", "{urn:ietf:params:xml:ns:carddav}"


def request(server: RunningServer, method: str, path: str, login: str | None = USER, password: str = PASSWORD,
            body: str = "", headers: dict[str, str] | None = None,
            conn: http.client.HTTPConnection | None = None) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request with Basic credentials; returns status, lower-cased headers and body."""
    parts = urlsplit(server.url)
    conn = conn or http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    all_headers = {"Content-Type": "application/xml; charset=utf-8", **(headers or {})}
    if login is not None:
        token = base64.b64encode(f"{login}:{password}".encode()).decode()
        all_headers["Authorization"] = f"Basic {token}"
    conn.request(method, path, body=body.encode(), headers=all_headers)
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def responses(body: bytes) -> dict[str, ET.Element]:
    """The D:response elements of a multistatus body, by href."""
    tree = ET.fromstring(body)
    return {r.findtext(DAV + "href") or "": r for r in tree.iterfind(DAV + "response")}


def ok_prop(response: ET.Element, name: str) -> ET.Element | None:
    """The property ``name`` of a D:response if it came with status 200."""
    for propstat in response.iterfind(DAV + "propstat"):
        if "200" in (propstat.findtext(DAV + "status") or ""):
            found = propstat.find(f"{DAV}prop/{name}")
            if found is not None:
                return found
    return None
