# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware sieve list|show|put|activate|deactivate|delete|vacation`` on the configured store, and the
door's pieces that need no network: the accounts-backed authenticator, the site policy, admin scripts; and
``groupware sieve queue list|flush`` on the outgoing queue."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from smtp_sink import SmtpSink
from support import USER, free_port, write_sieve_config

from groupware import config as config_module
from groupware.errors import DirectoryUnavailable, InvalidCredentials
from groupware.runtime import mail as managesieve_door
from groupware.sieve.delivery import Outgoing, OutgoingQueue, Relay
from groupware.sieve.host import AuthenticationUnavailable
from groupware.sieve.rules import parse_rules

GROUPWARE = [sys.executable, "-m", "groupware.cli", "sieve"]
FILTERS = (
    'require ["fileinto"];\r\n# rule:[Lists]\r\nif header :contains "list-id" "profs"\r\n{\r\n'
    '\tfileinto "Listes";\r\n}\r\n'
)


def sieve(
    config: Path, command: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GROUPWARE, command, "--config", str(config), *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        check=False,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_sieve_config(tmp_path / "groupware.conf", {"redirect_domains": "ac-montpellier.fr"})


def test_put_list_show_activate_deactivate_delete(config: Path, tmp_path: Path) -> None:
    (tmp_path / "filters.sieve").write_text(FILTERS, newline="")
    assert (
        sieve(config, "put", USER, "filtres", str(tmp_path / "filters.sieve"), "--activate").returncode == 0
    )
    assert sieve(config, "list", USER).stdout == "filtres\tACTIVE\n"
    assert sieve(config, "show", USER, "filtres").stdout.replace("\r\n", "\n") == FILTERS.replace(
        "\r\n", "\n"
    )
    refused = sieve(config, "delete", USER, "filtres")
    assert refused.returncode == 1 and "(ACTIVE)" in refused.stderr
    assert sieve(config, "deactivate", USER).returncode == 0
    assert sieve(config, "list", USER).stdout == "filtres\n"
    assert sieve(config, "delete", USER, "filtres").returncode == 0
    assert sieve(config, "list", USER).stdout == ""
    home = tmp_path / "mail" / USER
    assert not os.path.lexists(home / ".dovecot.sieve")


def test_put_applies_the_same_policy_as_managesieve(config: Path) -> None:
    refused = sieve(config, "put", USER, "fwd", "-", stdin='redirect "moi@gmail.com";\n')
    assert refused.returncode == 1
    assert "fwd: 1:10: redirect to 'moi@gmail.com' is not allowed" in refused.stderr
    script = 'require "enotify";\nnotify "mailto:moi@gmail.com";\n'
    notify = sieve(config, "put", USER, "note", "-", stdin=script)
    assert notify.returncode == 1
    assert "note: 2:8: notify 'moi@gmail.com' is not allowed" in notify.stderr
    bad = sieve(config, "put", USER, "bad", "-", stdin="keep;\nif true {\n")
    assert bad.returncode == 1 and "bad: 3:1: expected end of compound block" in bad.stderr
    assert sieve(config, "list", USER).stdout == ""


def test_vacation_on_and_off_keeps_the_other_rules(config: Path, tmp_path: Path) -> None:
    (tmp_path / "filters.sieve").write_text(FILTERS, newline="")
    sieve(config, "put", USER, "roundcube", str(tmp_path / "filters.sieve"), "--activate")
    on = sieve(
        config,
        "vacation",
        USER,
        "on",
        "--from",
        "2026-07-01",
        "--until",
        "2026-07-31",
        "--subject",
        "Congés",
        "--message",
        "Je suis en congés jusqu'au 31 juillet.",
        "--zone",
        "+0200",
    )
    assert on.returncode == 0, on.stderr
    stored = tmp_path / "mail" / USER / "sieve" / "roundcube.sieve"
    text = stored.read_bytes().decode()
    rules = parse_rules(text)
    assert [r.name for r in rules.rules] == ["Vacation", "Lists"]
    assert 'currentdate :zone "+0200" :value "ge" "date" "2026-07-01"' in text and "Congés" in text
    off = sieve(config, "vacation", USER, "off")
    assert off.returncode == 0
    assert [r.name for r in parse_rules(stored.read_bytes().decode()).rules] == ["Lists"]


def test_vacation_on_a_rules_script_saved_with_lf_keeps_its_rules(config: Path, tmp_path: Path) -> None:
    (tmp_path / "filters.sieve").write_text(FILTERS.replace("\r\n", "\n"), newline="")
    put = sieve(config, "put", USER, "filtres", str(tmp_path / "filters.sieve"), "--activate")
    assert put.returncode == 0, put.stderr
    on = sieve(config, "vacation", USER, "on", "--message", "Absente.")
    assert on.returncode == 0, on.stderr
    assert "script 'filtres'" in on.stdout
    text = (tmp_path / "mail" / USER / "sieve" / "filtres.sieve").read_bytes().decode()
    assert [r.name for r in parse_rules(text).rules] == ["Vacation", "Lists"]
    assert "\n" not in text.replace("\r\n", "")  # written back with CRLF (RFC 5228 §2.2)
    assert sieve(config, "vacation", USER, "off").returncode == 0
    assert [r.name for r in parse_rules(sieve(config, "show", USER, "filtres").stdout).rules] == ["Lists"]


def test_vacation_without_a_script_creates_and_activates_roundcube(config: Path) -> None:
    assert sieve(config, "vacation", USER, "on", "--message", "Absente.").returncode == 0
    assert sieve(config, "list", USER).stdout == "roundcube\tACTIVE\n"
    assert sieve(config, "vacation", USER, "on").returncode == 2  # --message is required


def test_vacation_days_0_means_the_minimum(config: Path) -> None:
    """RFC 5230 §4.1: a period under min_vacation_period is raised to it, as Pigeonhole, never refused."""
    done = sieve(config, "vacation", USER, "on", "--days", "0", "--message", "Absente.")
    assert done.returncode == 0, done.stderr
    assert "vacation :days 0" in sieve(config, "show", USER, "roundcube").stdout


class FakeAccounts:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def authenticate(self, login: str, password: str, remote_addr: str = "") -> object:
        if self.error is not None:
            raise self.error
        return type("Account", (), {"user": login.lower()})()


def test_authenticator_maps_accounts_outcomes() -> None:
    assert managesieve_door.AccountsAuthenticator(FakeAccounts()).authenticate("Helene.Lefevre", "x") == USER  # type: ignore[arg-type]
    refused = managesieve_door.AccountsAuthenticator(FakeAccounts(InvalidCredentials("no")))  # type: ignore[arg-type]
    assert refused.authenticate(USER, "x") is None
    down = managesieve_door.AccountsAuthenticator(FakeAccounts(DirectoryUnavailable("ldap down")))  # type: ignore[arg-type]
    with pytest.raises(AuthenticationUnavailable):
        down.authenticate(USER, "x")
    other = managesieve_door.AccountsAuthenticator(FakeAccounts())  # type: ignore[arg-type]
    assert other.authenticate(USER, "x", authzid="someone.else") is None


def test_admin_scripts_are_checked_like_users_scripts(tmp_path: Path) -> None:
    (tmp_path / "junk.sieve").write_text(
        'require "fileinto";\nif header :is "X-Spam" "yes" { fileinto "Junk"; }\n'
    )
    (tmp_path / "bad.sieve").write_text('redirect "archive@example.com";\n')
    config = write_sieve_config(
        tmp_path / "g.conf",
        {"before": "junk.sieve", "after": "bad.sieve", "redirect_domains": "ac-montpellier.fr"},
    )
    problems = managesieve_door.admin_script_problems(config_module.load(config))
    assert [(p.key, "not allowed" in p.message) for p in problems] == [("after", True)]


def test_check_config_reports_a_refused_admin_script(tmp_path: Path) -> None:
    (tmp_path / "fwd.sieve").write_text('redirect "archive@example.com";\n')
    config = write_sieve_config(
        tmp_path / "g.conf", {"after": "fwd.sieve", "redirect_domains": "ac-montpellier.fr"}
    )
    result = subprocess.run(
        [sys.executable, "-m", "groupware.cli", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1 and "[sieve] after: fwd: 1:10: redirect to" in result.stderr


def test_queue_list_and_flush(config: Path) -> None:
    """``groupware sieve queue``: what waits for the relay, and a flush that sends it once it is back."""
    assert "no [lmtp] relay" in sieve(config, "queue", "list").stderr
    with SmtpSink() as sink:
        with config.open("a", encoding="utf-8") as handle:
            handle.write(f"\n[lmtp]\nrelay = 127.0.0.1:{sink.port}\n")
        folder = Path(config_module.load(config).lmtp.queue)
        down = OutgoingQueue(folder, Relay("127.0.0.1", free_port()))
        assert down.send(Outgoing("vacation", "", ("paul@example.org",)), b"Subject: x\n\nhi\n") is False
        listed = sieve(config, "queue", "list")
        assert listed.returncode == 0 and listed.stdout.count("\tvacation\tpaul@example.org\t") == 1
        assert "1 attempt(s)" in listed.stdout and "1 message(s)" in listed.stderr
        flushed = sieve(config, "queue", "flush")
        assert flushed.returncode == 0 and flushed.stdout.strip() == "sent 1, deferred 0, given up 0"
        assert [m.recipients for m in sink.wait_for(1)] == [("paul@example.org",)]
        assert sieve(config, "queue", "list").stdout == ""
