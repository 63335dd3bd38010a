# SPDX-License-Identifier: GPL-3.0-or-later
"""The page at ``/`` and ``/.groupware/health`` (:mod:`groupware.dav.operations`) on a real server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from support import LDIF_DIRECTORY, RunningServer, dead_ldap_directory, request, write_config

from groupware import config as config_module
from groupware.errors import ConfigError

HEALTH = "/.groupware/health"


def test_a_browser_at_the_root_gets_our_page_and_dav_still_answers_there(
    start_server: Callable[..., RunningServer],
) -> None:
    server = start_server()
    status, headers, body = request(server, "GET", "/", login=None, headers={"Host": "agendas.example.fr"})
    assert status == 200 and headers["content-type"].startswith("text/html"), (status, headers)
    assert b"http://agendas.example.fr/" in body and b"Radicale" not in body, body
    assert request(server, "HEAD", "/", login=None)[2] == b""
    status, _, body = request(server, "PROPFIND", "/", headers={"Depth": "0"})
    assert status == 207 and b"multistatus" in body, body
    status, _, body = request(server, "GET", "/", login=None, headers={"Host": '"><script>x</script>'})
    assert b"<script>" not in body


def test_health_answers_what_works_from_loopback(start_server: Callable[..., RunningServer]) -> None:
    server = start_server()
    status, headers, body = request(server, "GET", HEALTH, login=None)
    assert status == 200 and headers["content-type"].startswith("application/json"), (status, body)
    answer = json.loads(body)
    assert answer["status"] == "ok" and answer["checks"] == {"database": "ok", "directory": "ok"}, answer
    assert request(server, "POST", HEALTH, login=None)[0] == 405


def test_health_and_metrics_are_not_public(tmp_path: Path) -> None:
    path = write_config(tmp_path / "g.conf", LDIF_DIRECTORY)
    path.write_text(path.read_text() + "\n[operations]\nallowed = 10.0.0.0/8\n")
    server = RunningServer(config_module.load(path))
    try:
        status, _, body = request(server, "GET", HEALTH, login=None)
        assert status == 404 and b"database" not in body, (status, body)
        status, _, body = request(server, "GET", "/.groupware/metrics", login=None)
        assert status == 404 and b"groupware_" not in body, (status, body)
    finally:
        server.stop()


def test_health_names_a_directory_that_is_down(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(dead_ldap_directory())
    status, _, body = request(server, "GET", HEALTH, login=None)
    answer = json.loads(body)
    assert status == 503 and answer["status"] == "unavailable", (status, answer)
    assert answer["checks"]["database"] == "ok"
    assert answer["checks"]["directory"].startswith("unavailable: "), answer


def test_a_bad_allowed_network_is_a_configuration_error(tmp_path: Path) -> None:
    path = write_config(tmp_path / "g.conf", LDIF_DIRECTORY)
    path.write_text(path.read_text() + "\n[operations]\nallowed = 10.0.0.0/33\n")
    try:
        config_module.load(path)
    except ConfigError as exc:
        assert "operations" in str(exc) and "allowed" in str(exc), str(exc)
    else:
        raise AssertionError("a network of /33 was accepted")


def test_metrics_count_requests_with_bounded_labels(start_server: Callable[..., RunningServer]) -> None:
    server = start_server()
    for _ in range(3):
        assert request(server, "PROPFIND", "/helene.lefevre/", headers={"Depth": "0"})[0] == 207
    assert request(server, "BREW", "/", login=None)[0] >= 400
    status, headers, body = request(server, "GET", "/.groupware/metrics", login=None)
    assert status == 200 and headers["content-type"].startswith("text/plain"), (status, headers)
    lines = body.decode().splitlines()
    counted = [line for line in lines if line.startswith('groupware_http_requests_total{method="PROPFIND"')]
    assert any('status="207"' in line and float(line.split()[-1]) >= 3 for line in counted), lines
    assert not any('method="BREW"' in line for line in lines), "methods are a bounded label"
    assert any(line.startswith('groupware_http_request_seconds_count{method="PROPFIND"}') for line in lines)


def test_metrics_count_logins_by_outcome(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(accounts={"max_failures_per_login": "2"})

    def logins(outcome: str) -> float:
        body = request(server, "GET", "/.groupware/metrics", login=None)[2].decode()
        line = next(
            (x for x in body.splitlines() if x.startswith(f'groupware_logins_total{{outcome="{outcome}"}}')),
            "",
        )
        return float(line.split()[-1]) if line else 0.0

    before = {outcome: logins(outcome) for outcome in ("ok", "failed", "locked")}
    depth = {"Depth": "0"}
    assert request(server, "PROPFIND", "/chloe.mas/", "chloe.mas", "chloe.mas-demo", headers=depth)[0] == 207
    for _ in range(3):
        assert request(server, "PROPFIND", "/helene.lefevre/", password="wrong")[0] == 401
    assert logins("ok") == before["ok"] + 1
    assert logins("failed") == before["failed"] + 2
    assert logins("locked") == before["locked"] + 1
