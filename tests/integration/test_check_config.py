# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware check-config``: a door that cannot work is a problem (a ManageSieve nobody can log in to),
rules' mail with no relay is a warning; ``--online`` binds to the directory (a real slapd) and greets the
relay; and README's ``sieve-connect`` line works on the demo configuration (the real sieve-connect)."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from smtp_sink import SmtpSink
from support import (
    PASSWORD,
    ROOT,
    USER,
    free_port,
    ldap_directory_section,
    require_binaries,
    self_signed_certificate,
    wait_for_port,
    write_config,
    write_sieve_config,
)

GROUPWARE = [sys.executable, "-m", "groupware.cli"]
NOBODY_CAN_LOG_IN = "[sieve] tls_certificate: ManageSieve is enabled but nobody could log in"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GROUPWARE, *args], capture_output=True, text=True, timeout=60, check=False)


def with_sections(path: Path, sections: dict[str, dict[str, str]]) -> Path:
    """Append sections to a configuration file."""
    with path.open("a", encoding="utf-8") as handle:
        for name, options in sections.items():
            handle.write(f"\n[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in options.items()))
    return path


def test_a_managesieve_nobody_can_log_in_to_is_refused_by_check_config_and_serve(tmp_path: Path) -> None:
    config = write_sieve_config(tmp_path / "g.conf", {"allow_plaintext": "false"})
    checked = run("check-config", str(config))
    assert checked.returncode == 1 and f"{config}: {NOBODY_CAN_LOG_IN}" in checked.stderr
    served = run("serve", "--config", str(config))
    assert served.returncode == 1 and NOBODY_CAN_LOG_IN in served.stderr


def test_the_example_without_its_certificate_is_refused(tmp_path: Path) -> None:
    example = (
        (ROOT / "config" / "groupware.conf")
        .read_text()
        .replace("bind_password_file = /etc/groupware/ldap-password", "bind_password = x")
    )
    example = re.sub(r"(?m)^(tls_certificate|tls_key) = .*$", "", example)
    (tmp_path / "groupware.conf").write_text(example)
    result = run("check-config", str(tmp_path / "groupware.conf"))
    assert result.returncode == 1 and NOBODY_CAN_LOG_IN in result.stderr


@pytest.mark.parametrize(
    "sieve",
    [{"allow_plaintext": "true"}, {"allow_plaintext": "false", "tls": "yes"}, {"enabled": "false"}],
    ids=["plaintext-on-loopback", "starttls", "disabled"],
)
def test_a_managesieve_someone_can_log_in_to_passes(tmp_path: Path, sieve: dict[str, str]) -> None:
    options = dict(sieve)
    if options.pop("tls", None):
        cert, key = self_signed_certificate(tmp_path)
        options.update(tls_certificate=str(cert), tls_key=str(key))
    result = run("check-config", str(write_sieve_config(tmp_path / "g.conf", options)))
    assert result.returncode == 0, result.stderr
    assert "nobody could log in" not in result.stderr


def test_plaintext_beyond_loopback_is_a_warning(tmp_path: Path) -> None:
    config = write_sieve_config(tmp_path / "g.conf", {"hosts": f"0.0.0.0:{free_port()}"})
    result = run("check-config", str(config))
    assert result.returncode == 0 and "OK (1 warning(s))" in result.stdout
    assert (
        "warning: " in result.stderr
        and "[sieve] allow_plaintext: passwords may travel in clear" in result.stderr
    )


def lmtp_config(tmp_path: Path, lmtp: dict[str, str], sieve: dict[str, str] | None = None) -> Path:
    config = write_sieve_config(tmp_path / "g.conf", sieve or {})
    return with_sections(config, {"lmtp": {"enabled": "true", "hosts": f"127.0.0.1:{free_port()}", **lmtp}})


def test_rules_mail_with_no_relay_is_a_warning_not_an_error(tmp_path: Path) -> None:
    result = run("check-config", str(lmtp_config(tmp_path, {})))
    assert result.returncode == 0, result.stderr
    assert "OK (1 warning(s))" in result.stdout
    assert (
        "warning: " in result.stderr
        and "[lmtp] relay: no relay: the redirect, vacation, notify" in result.stderr
    )


def test_no_warning_when_the_rules_cannot_send_or_a_relay_is_set(tmp_path: Path) -> None:
    silent = lmtp_config(tmp_path, {}, {"max_redirects": "0", "extensions": "fileinto envelope"})
    result = run("check-config", str(silent))
    assert result.returncode == 0 and "warning:" not in result.stderr and "warning(s)" not in result.stdout
    (tmp_path / "g.conf").unlink()
    relayed = run("check-config", str(lmtp_config(tmp_path, {"relay": "127.0.0.1:25"})))
    assert relayed.returncode == 0 and "warning:" not in relayed.stderr


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_online_greets_the_relay_and_reads_the_directory(tmp_path: Path) -> None:
    with SmtpSink() as sink:
        result = run(
            "check-config", "--online", str(lmtp_config(tmp_path, {"relay": f"127.0.0.1:{sink.port}"}))
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok: relay 127.0.0.1:{sink.port}: EHLO answered 250 sink" in result.stdout
    assert "ok: directory " in result.stdout


def test_online_reports_a_relay_that_does_not_answer(tmp_path: Path) -> None:
    port = closed_port()
    result = run("check-config", str(lmtp_config(tmp_path, {"relay": f"127.0.0.1:{port}"})), "--online")
    assert result.returncode == 1
    assert f"FAILED: relay 127.0.0.1:{port}: cannot talk SMTP" in result.stdout
    assert "1 online check(s) failed" in result.stderr


def ldap_config(tmp_path: Path, slapd: Any, **overrides: str) -> Path:
    return write_config(tmp_path / "ldap.conf", ldap_directory_section(slapd, **overrides))


def test_online_binds_to_a_real_slapd_as_the_service_account(tmp_path: Path, slapd: Any) -> None:
    result = run("check-config", "--online", "--config", str(ldap_config(tmp_path, slapd)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok: directory {slapd.uri} as {slapd.service_dn}: bound and searched people" in result.stdout


def test_online_reports_a_refused_service_account(tmp_path: Path, slapd: Any) -> None:
    config = ldap_config(tmp_path, slapd, bind_password="wrong")
    result = run("check-config", "--online", str(config))
    assert result.returncode == 1
    assert (
        f"FAILED: directory {slapd.uri} as {slapd.service_dn}: service account bind refused" in result.stdout
    )


def test_online_reports_an_unreachable_directory(tmp_path: Path, slapd: Any) -> None:
    uri = f"ldap://127.0.0.1:{closed_port()}"
    result = run("check-config", "--online", str(ldap_config(tmp_path, slapd, uri=uri, connect_timeout="1")))
    assert result.returncode == 1 and f"FAILED: directory {uri} as" in result.stdout


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """The demo configuration, served from ``tmp_path`` with its ports moved to free ones."""
    ports = {5232: free_port(), 4190: free_port(), 2424: free_port()}
    text = (ROOT / "config" / "demo.conf").read_text(encoding="utf-8")
    for port, free in ports.items():
        text = text.replace(f"127.0.0.1:{port}", f"127.0.0.1:{free}")
    config = tmp_path / "demo.conf"
    config.write_text(
        text.replace("file = demo-directory.ldif", f"file = {ROOT / 'config' / 'demo-directory.ldif'}")
    )
    process = subprocess.Popen(
        [*GROUPWARE, "serve", "--config", str(config)], cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_port("127.0.0.1", ports[4190], timeout=30)
        yield config, ports[4190]
    finally:
        process.terminate()
        process.communicate(timeout=15)


def readme_sieve_connect_line() -> list[str]:
    """The sieve-connect command README gives for the demo."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(line for line in readme.splitlines() if line.startswith("sieve-connect ") and "demo" in line)
    return shlex.split(line.split("#", 1)[0])


def test_readme_sieve_connect_line_works_on_the_demo(demo: tuple[Path, int], tmp_path: Path) -> None:
    require_binaries("sieve-connect", packages="sieve-connect")
    _, port = demo
    argv = readme_sieve_connect_line()
    assert argv[argv.index("--port") + 1] == "4190" and argv[argv.index("--user") + 1] == USER
    argv[argv.index("--port") + 1] = str(port)
    (tmp_path / "vacances.sieve").write_text('require "vacation";\nvacation "En congés.";\n')
    read, write = os.pipe()
    os.write(write, PASSWORD.encode() + b"\n")
    os.close(write)
    try:
        result = subprocess.run(
            [
                *argv,
                "--passwordfd",
                str(read),
                "--upload",
                "--localsieve",
                "vacances.sieve",
                "--remotesieve",
                "vacances",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            pass_fds=(read,),
            check=False,
        )
    finally:
        os.close(read)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "var" / "mail" / USER / "sieve" / "vacances.sieve").is_file()
