# SPDX-License-Identifier: GPL-3.0-or-later
"""The `groupware` command: check-config reports every problem; serve logs where it listens and stops on
Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support import LDIF_DIRECTORY, ROOT, free_port, write_config

GROUPWARE = [sys.executable, "-m", "groupware.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GROUPWARE, *args], capture_output=True, text=True, timeout=60, check=False)


def test_demo_and_example_configurations_are_valid(tmp_path: Path) -> None:
    assert run("check-config", str(ROOT / "config" / "demo.conf")).returncode == 0
    example = (
        (ROOT / "config" / "groupware.conf")
        .read_text()
        .replace("bind_password_file = /etc/groupware/ldap-password", "bind_password = x")
    )
    (tmp_path / "groupware.conf").write_text(example)
    result = run("check-config", str(tmp_path / "groupware.conf"))
    assert result.returncode == 0, result.stderr


def test_check_config_reports_every_problem_with_file_section_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.conf"
    path.write_text("""[server]
hosts = not-an-address
timeout = soon
workers = many
[storage]
nonsense = 1
[auth]
type = htpasswd
[directory]
type = ldap
uri = http://ldap.example
starttls = maybe
disabled_filter = employeeType=inactif
[accounts]
principal = cn
lockout = -5
[nosuchsection]
x = 1
""")
    result = run("check-config", str(path))
    assert result.returncode == 1
    expected = [
        ("server", "hosts"),
        ("server", "timeout"),
        ("server", "workers"),
        ("storage", "nonsense"),
        ("auth", "type"),
        ("directory", "uri"),
        ("directory", "starttls"),
        ("directory", "disabled_filter"),
        ("directory", "base_dn"),
        ("accounts", "principal"),
        ("accounts", "lockout"),
        ("nosuchsection", ""),
    ]
    for section, key in expected:
        assert f"{path}: [{section}]{' ' + key if key else ''}:" in result.stderr, (
            section,
            key,
            result.stderr,
        )


def test_check_config_on_a_missing_or_broken_file(tmp_path: Path) -> None:
    assert run("check-config", str(tmp_path / "absent.conf")).returncode == 1
    (tmp_path / "broken.conf").write_text("no section header\n")
    result = run("check-config", str(tmp_path / "broken.conf"))
    assert result.returncode == 1 and "broken.conf" in result.stderr


def test_serve_logs_where_it_listens_serves_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "serve.conf", LDIF_DIRECTORY, port=port)
    config.write_text(config.read_text().replace("level = warning", "level = info"))
    process = subprocess.Popen(
        [*GROUPWARE, "serve", "--config", str(config)], stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        line = ""
        while "listening" not in line and time.monotonic() < deadline:
            line = process.stderr.readline() if process.stderr else ""
        assert f"http://127.0.0.1:{port}/" in line
        for path, status in (
            ("/.well-known/caldav", 301),
            ("/", 401),
        ):  # RFC 6764 §5 redirect; no credentials
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="PROPFIND")
            with pytest.raises(urllib.error.HTTPError) as error:
                urllib.request.urlopen(request, timeout=5)
            assert error.value.code == status
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert "stopped" in (process.stderr.read() if process.stderr else "")
    finally:
        process.kill()
