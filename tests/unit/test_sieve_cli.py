# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware sieve check|test`` through ``groupware.sieve.cli.main`` and ``python -m``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from groupware.sieve.cli import main

MESSAGES = Path(__file__).resolve().parents[1] / "data" / "sieve" / "messages"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "script.sieve"
    path.write_text(text, encoding="utf-8")
    return path


def test_check_ok_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(write(tmp_path, 'require "fileinto"; fileinto "a";'))]) == 0
    assert main(["check", str(write(tmp_path, "keep;\nfoo;\n"))]) == 1
    assert capsys.readouterr().err == "2:1: unknown command 'foo'\n"


def test_check_refuses_invalid_utf8_like_managesieve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """RFC 5228 §1 (scripts are UTF-8): the CLI refuses what PUTSCRIPT refuses, with the same position."""
    path = tmp_path / "latin1.sieve"
    path.write_bytes(b'require "fileinto";\nfileinto "r\xe9union";\n')
    assert main(["check", str(path)]) == 1
    assert capsys.readouterr().err == "2:12: invalid UTF-8 in the script\n"


def test_check_applies_the_forwarding_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same policy as PUTSCRIPT: notify outside the allowed domains is refused (RFC 5435 §3)."""
    path = write(tmp_path, 'require "enotify";\nnotify "mailto:someone@outside.example";\n')
    assert main(["check", str(path)]) == 0
    assert main(["check", "--redirect-domain", "ac-montpellier.fr", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("2:8: notify 'someone@outside.example' is not allowed: "), err


def test_check_refuses_a_computed_vacation_handle_under_the_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """RFC 5230 §4.2: a handle built from the message could answer one sender for every message."""
    path = write(tmp_path, 'require ["vacation", "variables"];\nvacation :handle "${1}" "absent";\n')
    assert main(["check", str(path)]) == 0
    assert main(["check", "--redirect-domain", "ac-montpellier.fr", str(path)]) == 1
    assert capsys.readouterr().err.startswith("2:18: vacation :handle with a computed value is not allowed")


def test_test_reports_too_many_redirects_at_run_time_as_sieve_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pigeonhole's sieve_max_redirects is a run-time failure: the message is kept (RFC 5228 §2.10.6)."""
    script = write(tmp_path, "".join(f'redirect "u{n}@example.org";\n' for n in range(5)))
    assert main(["test", str(script), str(MESSAGES / "plain.eml")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("error runtime ") and out[1:] == ["implicit_keep"], out


def test_test_prints_actions_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = write(
        tmp_path,
        'require ["fileinto", "imap4flags", "copy", "vacation"];\n'
        'addflag "\\\\Seen";\nfileinto :copy "Box";\nredirect "a@example.org";\n'
        'vacation :days 1 :subject "Away" "Back \\"soon\\"";\n',
    )
    code = main(
        ["test", str(script), str(MESSAGES / "plain.eml"), "--from", "a@b.c", "--to", "me@example.net"]
    )
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        'fileinto "Box" :copy :flags "\\\\seen"',
        'redirect "a@example.org"',
        'vacation :seconds 86400 :subject "Away" :reason "Back \\"soon\\""',
    ]


def test_test_compile_error_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(write(tmp_path, "nope;")), str(MESSAGES / "plain.eml")]) == 3
    assert capsys.readouterr().out == "error compile\n"


def test_runtime_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["test", str(write(tmp_path, 'require "ihave"; error "x";')), str(MESSAGES / "plain.eml")]) == 0
    )
    assert capsys.readouterr().out == 'error runtime "x"\nimplicit_keep\n'


def test_usage_and_missing_file(tmp_path: Path) -> None:
    assert main([]) == 2
    assert main(["check", str(tmp_path / "missing.sieve")]) == 2


def test_python_dash_m(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "groupware.sieve.cli", "check", str(write(tmp_path, "keep;"))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
