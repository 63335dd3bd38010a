# SPDX-License-Identifier: GPL-3.0-or-later
"""The `groupware` command: check-config reports every problem; serve logs where it listens and stops on
Ctrl-C; ``--config`` anywhere and ``GROUPWARE_CONFIG``, the configuration named by every admin command, help
at every level."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support import (
    LDIF_DIRECTORY,
    ROOT,
    USER,
    free_port,
    self_signed_certificate,
    write_config,
    write_sieve_config,
)

from groupware.cli import build_parser

GROUPWARE = [sys.executable, "-m", "groupware.cli"]
EXAMPLE_CERTIFICATE = "tls_certificate = /etc/ssl/certs/sieve.ac-montpellier.fr.pem"
EXAMPLE_KEY = "tls_key = /etc/ssl/private/sieve.ac-montpellier.fr.key"


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GROUPWARE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def test_demo_and_example_configurations_are_valid(tmp_path: Path) -> None:
    assert run("check-config", str(ROOT / "config" / "demo.conf")).returncode == 0
    cert, key = self_signed_certificate(tmp_path)
    example = (
        (ROOT / "config" / "groupware.conf")
        .read_text()
        .replace("bind_password_file = /etc/groupware/ldap-password", "bind_password = x")
        .replace(EXAMPLE_CERTIFICATE, f"tls_certificate = {cert}")
        .replace(EXAMPLE_KEY, f"tls_key = {key}")
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


def lockouts_config(tmp_path: Path, name: str) -> Path:
    """A configuration whose database lies in its own folder, ``tmp_path/name``."""
    (tmp_path / name).mkdir()
    return write_config(tmp_path / name / "groupware.conf", LDIF_DIRECTORY)


@pytest.mark.parametrize(
    "where",
    ["first", "between", "last", "environment"],
)
def test_config_anywhere_or_from_the_environment_is_the_one_acted_on(tmp_path: Path, where: str) -> None:
    config = lockouts_config(tmp_path, "site")
    argv = {
        "first": ["--config", str(config), "accounts", "lockouts"],
        "between": ["accounts", "--config", str(config), "lockouts"],
        "last": ["accounts", "lockouts", f"--config={config}"],
        "environment": ["accounts", "lockouts"],
    }[where]
    env = {"GROUPWARE_CONFIG": str(config)} if where == "environment" else {"GROUPWARE_CONFIG": ""}
    result = run(*argv, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"groupware: configuration {config}" in result.stderr
    assert (tmp_path / "site" / "collections" / "groupware.sqlite").exists()
    assert not (tmp_path / "var").exists()  # the demo's data folder was not touched


def test_config_option_wins_over_the_environment(tmp_path: Path) -> None:
    chosen, other = lockouts_config(tmp_path, "chosen"), lockouts_config(tmp_path, "other")
    result = run("accounts", "lockouts", "--config", str(chosen), env={"GROUPWARE_CONFIG": str(other)})
    assert result.returncode == 0 and f"configuration {chosen}" in result.stderr
    assert not (tmp_path / "other" / "collections").exists()


def test_without_a_configuration_an_admin_command_says_it_acts_on_the_demo(tmp_path: Path) -> None:
    result = run("accounts", "lockouts", env={"GROUPWARE_CONFIG": ""}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "acting on the built-in demo configuration" in result.stderr
    assert "--config" in result.stderr and "GROUPWARE_CONFIG" in result.stderr


@pytest.mark.parametrize(
    ("command", "status"),
    [
        (["agenda", "list"], 1),
        (["accounts", "lockouts"], 1),
        (["addressbooks", "sync"], 1),
        (["storage", "export", "out"], 1),
        (["storage", "backup", "copy.sqlite"], 1),
        (["sieve", "list", USER], 2),
        (["serve"], 1),
    ],
    ids=lambda value: "-".join(value) if isinstance(value, list) else str(value),
)
def test_a_missing_configuration_file_is_named_and_refused(
    tmp_path: Path, command: list[str], status: int
) -> None:
    result = run(*command, "--config", str(tmp_path / "absent.conf"), cwd=tmp_path)
    assert result.returncode == status, result.stderr
    assert "absent.conf" in result.stderr and "cannot read" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing made anywhere


def test_commands_that_read_no_configuration_do_not_name_one(tmp_path: Path) -> None:
    (tmp_path / "keep.sieve").write_text("keep;\n")
    result = run("sieve", "check", str(tmp_path / "keep.sieve"), env={"GROUPWARE_CONFIG": ""})
    assert result.returncode == 0 and "configuration" not in result.stderr


def groups(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], list[str]]]:
    """Every parser that has sub-commands, by its path, with their names."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.append((path, list(action.choices)))
            for name, child in action.choices.items():
                found += groups(child, (*path, name))
    return found


def test_help_works_at_every_level_and_lists_every_subcommand() -> None:
    tree = groups(build_parser())
    top = {"serve", "check-config", "sieve", "agenda", "addressbooks", "directory", "storage", "accounts"}
    assert top <= set(dict(tree)[()])
    sieve_commands = dict(tree)[("sieve",)]
    assert {"check", "test", "list", "show", "put", "activate", "deactivate", "delete", "vacation"} <= set(
        sieve_commands
    )
    for path, commands in tree:
        result = run(*path, "--help")
        assert result.returncode == 0, (path, result.stderr)
        for command in commands:
            assert command in result.stdout, (path, command, result.stdout)
        bare = run(*path)  # a group given no sub-command prints its help, listing them all
        assert bare.returncode == 2, (path, bare.stderr)
        assert all(command in bare.stderr for command in commands), (path, bare.stderr)
        assert "--config" in bare.stderr


def test_help_of_a_leaf_command_shows_config() -> None:
    result = run("sieve", "vacation", "--help")
    assert result.returncode == 0 and "--config FILE" in result.stdout and "--message" in result.stdout


def test_sieve_store_command_takes_config_at_every_position(tmp_path: Path) -> None:
    config = write_sieve_config(tmp_path / "g.conf", {})
    script = tmp_path / "k.sieve"
    script.write_text("keep;\r\n")
    assert run("--config", str(config), "sieve", "put", USER, "k", str(script), "--activate").returncode == 0
    for argv in (
        ["sieve", "list", USER, "--config", str(config)],
        ["sieve", "--config", str(config), "list", USER],
        ["--config", str(config), "sieve", "list", USER],
    ):
        result = run(*argv, env={"GROUPWARE_CONFIG": ""})
        assert result.stdout == "k\tACTIVE\n", (argv, result.stderr)
        assert f"configuration {config}" in result.stderr


def test_a_command_declaring_its_own_config_keeps_one_given_higher_up() -> None:
    from groupware.cli import _finish

    parser = argparse.ArgumentParser(prog="groupware")
    sub = parser.add_subparsers(dest="command")
    own = sub.add_parser("own")
    own.add_argument("--config", help="its own")
    _finish(parser, top=True)
    assert parser.parse_args(["--config", "top.conf", "own"]).config == "top.conf"
    assert parser.parse_args(["own", "--config", "low.conf"]).config == "low.conf"
    assert parser.parse_args(["own"]).config is None
    assert parser.parse_args([]).help_parser is parser
    assert parser.parse_args(["own"]).help_parser is None
