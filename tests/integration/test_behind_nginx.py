# SPDX-License-Identifier: GPL-3.0-or-later
"""groupware behind a real nginx (Debian package ``nginx``) running the site of
``config/nginx-groupware.conf``, only its ports, certificate and upstream replaced: discovery through the
well-known URIs (RFC 6764 §5), logins, and the real client address (X-Forwarded-For from a trusted proxy) in
lockouts and logs.

Two clients on one machine: nginx listens on 127.0.0.1, and a client connecting from 127.0.0.2 is another
address as nginx sees it (Linux routes all of 127.0.0.0/8 to the loopback).
"""

from __future__ import annotations

import base64
import http.client
import logging
import os
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import (
    LDIF_DIRECTORY,
    MAIL,
    PASSWORD,
    ROOT,
    USER,
    RunningServer,
    free_port,
    require_binaries,
    self_signed_certificate,
    wait_for_port,
    write_config,
)

from groupware import config as config_module

SITE = ROOT / "config" / "nginx-groupware.conf"
ATTACKER, CLIENT = "127.0.0.2", "127.0.0.1"
OTHERS = {"nathalie.roux": "nathalie.roux-demo", "chloe.mas": "chloe.mas-demo"}


@dataclass
class Proxied:
    """nginx on ``port`` (HTTPS) and ``http_port`` in front of ``server``; ``cert`` verifies it."""

    server: RunningServer
    port: int
    http_port: int
    cert: Path
    log: Path

    def request(
        self,
        method: str,
        path: str,
        login: str | None = USER,
        password: str = PASSWORD,
        source: str = CLIENT,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTPS request through nginx from the address ``source``."""
        context = ssl.create_default_context(cafile=str(self.cert))
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=context, timeout=20, source_address=(source, 0)
        )
        all_headers = dict(headers or {})
        if login is not None:
            token = base64.b64encode(f"{login}:{password}".encode()).decode()
            all_headers["Authorization"] = f"Basic {token}"
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()


def _replace(text: str, old: str, new: str) -> str:
    """``text`` with its one ``old`` replaced: the example changed under the test is a loud failure."""
    assert text.count(old) == 1, f"{SITE.name} no longer has exactly one {old!r}: update this test"
    return text.replace(old, new)


def nginx_conf(folder: Path, upstream: int, port: int, http_port: int, cert: Path, key: Path) -> Path:
    """A private nginx.conf around the repository's site, with its paths under ``folder``."""
    site = SITE.read_text(encoding="utf-8")
    site = _replace(site, "server 127.0.0.1:5232;", f"server 127.0.0.1:{upstream};")
    site = _replace(site, "listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;")
    site = _replace(site, "listen [::]:443 ssl http2;", "")
    site = _replace(site, "listen 80;", f"listen 127.0.0.1:{http_port};")
    site = _replace(site, "listen [::]:80;", "")
    site = _replace(site, "/etc/letsencrypt/live/groupware.example/fullchain.pem", str(cert))
    site = _replace(site, "/etc/letsencrypt/live/groupware.example/privkey.pem", str(key))
    site = site.replace("server_name groupware.example;", "server_name 127.0.0.1;")
    temp = "\n".join(f"    {kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi"))
    temp += f"\n    uwsgi_temp_path {folder}/uwsgi;\n    scgi_temp_path {folder}/scgi;"
    conf = folder / "nginx.conf"
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log info;\n"
        + "events { worker_connections 512; }\n"
        + f"http {{\n    access_log {folder}/access.log;\n{temp}\n{site}\n}}\n",
        encoding="utf-8",
    )
    return conf


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[Proxied]:
    """groupware (trusting 127.0.0.1) behind a private nginx on random ports; fails when nginx is missing."""
    require_binaries("nginx", packages="nginx")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    config = write_config(
        tmp_path / "groupware.conf",
        LDIF_DIRECTORY,
        {"max_failures_per_address": "50", "max_failure_delay": "0.3", "failure_delay": "0.05"},
    )
    text = config.read_text(encoding="utf-8").replace("[server]\n", "[server]\ntrusted_proxies = 127.0.0.1\n")
    config.write_text(text + "\n[operations]\nallowed = 127.0.0.1\n", encoding="utf-8")
    server = RunningServer(config_module.load(config))
    folder = tmp_path / "nginx"
    folder.mkdir()
    cert, key = self_signed_certificate(folder)
    upstream = int(server.url.rpartition(":")[2])
    port, http_port = free_port(), free_port()
    conf = nginx_conf(folder, upstream, port, http_port, cert, key)
    check = subprocess.run([nginx, "-t", "-p", str(folder), "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, f"nginx refuses the example site: {check.stderr}"
    process = subprocess.Popen(
        [nginx, "-p", str(folder), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_port("127.0.0.1", port)
        yield Proxied(server, port, http_port, cert, folder / "error.log")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server.stop()


def test_well_known_discovery_and_login_through_nginx(proxied: Proxied) -> None:
    """RFC 6764 §5 then RFC 5397: the well-known URIs redirect to the root, where the client finds its
    principal; plain HTTP is sent to HTTPS."""
    for service in ("caldav", "carddav"):
        status, headers, _ = proxied.request("GET", f"/.well-known/{service}", login=None)
        assert status == 301 and headers["location"] == f"https://127.0.0.1:{proxied.port}/", headers
    asked = b'<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>'
    status, _, answer = proxied.request(
        "PROPFIND", "/", headers={"Depth": "0", "Content-Type": "application/xml"}, body=asked
    )
    principal = re.search(rb"<current-user-principal><href>([^<]*)</href>", answer)
    assert status == 207 and principal is not None and principal.group(1) == f"/{USER}/".encode(), answer
    status, _, _ = proxied.request("PROPFIND", f"/{USER}/", login=MAIL, headers={"Depth": "0"})
    assert status == 207, "login by mail through nginx"
    status, _, _ = proxied.request("PROPFIND", f"/{USER}/", password="wrong", headers={"Depth": "0"})
    assert status == 401
    conn = http.client.HTTPConnection("127.0.0.1", proxied.http_port, timeout=10)
    conn.request("GET", "/.well-known/caldav")
    response = conn.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == "https://127.0.0.1/.well-known/caldav"
    conn.close()


def test_sixty_failures_from_one_client_lock_nobody_else_out(
    proxied: Proxied, caplog: pytest.LogCaptureFixture
) -> None:
    """60 failed logins from 127.0.0.2, each claiming another address in X-Forwarded-For: the lockouts and
    the slow-down are 127.0.0.2's, the person attacked by name is locked out, everyone else logs in, from
    127.0.0.1 and from 127.0.0.2 itself, and the log names 127.0.0.2, never the proxy or a spoofed address."""
    caplog.set_level(logging.INFO, logger="groupware")
    durations = []
    for number in range(60):
        login = "francois.muller" if number % 5 == 0 else f"nobody{number}"
        spoofed = {"X-Forwarded-For": f"10.0.{number}.1", "Forwarded": f"for=10.1.{number}.1"}
        started = time.monotonic()
        status, _, _ = proxied.request(
            "PROPFIND", "/", login=login, password="guess", source=ATTACKER, headers={"Depth": "0", **spoofed}
        )
        durations.append(time.monotonic() - started)
        assert status == 401, number
    assert min(durations[-5:]) >= 0.3, f"the address is slowed down beyond 50 failures: {durations[-5:]}"
    for source in (CLIENT, ATTACKER):
        assert proxied.request("PROPFIND", f"/{USER}/", source=source, headers={"Depth": "0"})[0] == 207
        for person, password in OTHERS.items():
            status = proxied.request(
                "PROPFIND",
                f"/{person}/",
                login=person,
                password=password,
                source=source,
                headers={"Depth": "0"},
            )[0]
            assert status == 207, (person, source)
    status = proxied.request(
        "PROPFIND",
        "/francois.muller/",
        login="francois.muller@ac-montpellier.fr",
        password="francois.muller-demo",
    )[0]
    assert status == 401, "the person attacked by name is locked out, under their mail too"

    failed = [r for r in caplog.records if getattr(r, "event", "") == "login_failed"]
    assert len(failed) >= 60 and {getattr(r, "remote_addr", "") for r in failed[:60]} == {ATTACKER}
    slowed = [
        getattr(r, "subject", "") for r in caplog.records if getattr(r, "event", "") == "address_slowed"
    ]
    assert slowed == [ATTACKER]
    lockouts = [getattr(r, "subject", "") for r in caplog.records if getattr(r, "event", "") == "lockout"]
    assert lockouts == ["francois.muller"]
    assert not re.search(r"\b10\.[01]\.\d+\.1\b", caplog.text), "no spoofed address reached the logs"


def test_the_health_check_sees_the_real_client(proxied: Proxied) -> None:
    """``[operations] allowed = 127.0.0.1``: through nginx (whose address is 127.0.0.1) only the client at
    127.0.0.1 reads the health check; 127.0.0.2 does not pass for the proxy."""
    status, _, body = proxied.request("GET", "/.groupware/health", login=None, source=CLIENT)
    assert status == 200 and b"database" in body, body
    assert proxied.request("GET", "/.groupware/health", login=None, source=ATTACKER)[0] == 404
