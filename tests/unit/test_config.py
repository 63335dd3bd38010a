# SPDX-License-Identifier: GPL-3.0-or-later
"""The configuration loader: typed values, relative paths, every problem located."""

from __future__ import annotations

from pathlib import Path

import pytest

from groupware import config
from groupware.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "groupware.conf"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_types_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "people.ldif").write_text("")
    (tmp_path / "secret").write_text("s3cret\n")
    loaded = config.load(
        write(
            tmp_path,
            """
[storage]
filesystem_folder = data
[directory]
type = ldif
file = people.ldif
[accounts]
lockout = 60
""",
        )
    )
    assert loaded.directory.file == str(tmp_path / "people.ldif")
    assert loaded.radicale_sections["storage"]["filesystem_folder"] == str(tmp_path / "data")
    assert loaded.accounts.lockout == 60.0 and loaded.accounts.max_failures_per_login == 10
    assert loaded.directory.login_attributes == ("uid", "mail")


def test_ldap_section_with_password_file_and_failover_uris(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s3cret\n")
    loaded = config.load(
        write(
            tmp_path,
            """
[directory]
type = ldap
uri = ldap://a.example ldaps://b.example
base_dn = dc=ac-montpellier,dc=fr
bind_password_file = secret
starttls = yes
""",
        )
    )
    assert loaded.directory.uri == ("ldap://a.example", "ldaps://b.example")
    assert loaded.directory.bind_password == "s3cret" and loaded.directory.starttls is True
    assert "s3cret" not in repr(loaded.directory)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[directory]
type = ldap
uri = ldap://a.example
user_dn_template = uid=x,ou=people
page_size = -1
colour = blue
[accounts]
principal = nickname
""",
    )
    with pytest.raises(ConfigError) as info:
        config.load(path)
    located = {(p.section, p.key) for p in info.value.problems}
    assert located == {
        ("directory", "user_dn_template"),
        ("directory", "page_size"),
        ("directory", "colour"),
        ("directory", "base_dn"),
        ("accounts", "principal"),
    }
    assert all(p.file == str(path) for p in info.value.problems)
    assert f"{path}: [directory] colour: unknown option" in str(info.value)


def test_missing_ldif_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[directory\] file: no such file"):
        config.load(write(tmp_path, "[directory]\ntype = ldif\nfile = absent.ldif\n"))


def test_demo_configuration_loads() -> None:
    loaded = config.load(config.DEMO_CONFIG)
    assert loaded.directory.type == "ldif" and Path(loaded.directory.file).name == "demo-directory.ldif"


def test_storage_database_is_found_relative_to_the_file(tmp_path: Path) -> None:
    """``[storage] database`` and ``filesystem_folder`` are relative to the configuration file, like our
    paths."""
    path = tmp_path / "groupware.conf"
    directory = f"[directory]\ntype = ldif\nfile = {config.DEMO_CONFIG.parent / 'demo-directory.ldif'}\n"
    path.write_text(directory + "[storage]\nfilesystem_folder = data\n")
    assert config.storage_database(config.load(path)) == str(tmp_path / "data" / "groupware.sqlite")
    path.write_text(directory + "[storage]\nfilesystem_folder = data\ndatabase = db/main.sqlite\n")
    assert config.storage_database(config.load(path)) == str(tmp_path / "db" / "main.sqlite")


def test_outgoing_queue_options(tmp_path: Path) -> None:
    (tmp_path / "people.ldif").write_text("")
    base = "[directory]\ntype = ldif\nfile = people.ldif\n[sieve]\nmail_root = mail\n"
    loaded = config.load(write(tmp_path, base))
    assert loaded.lmtp.queue == str(tmp_path / "mail" / ".queue")
    assert (loaded.lmtp.queue_retry, loaded.lmtp.queue_max_retry, loaded.lmtp.queue_lifetime) == (
        300.0,
        3600.0,
        432000.0,
    )
    loaded = config.load(write(tmp_path, base + "[lmtp]\nqueue = spool/out\nqueue_retry = 30\n"))
    assert loaded.lmtp.queue == str(tmp_path / "spool" / "out") and loaded.lmtp.queue_retry == 30.0
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, base + "[lmtp]\nqueue_retry = 0\nqueue_lifetime = soon\n"))
    assert {(p.section, p.key) for p in caught.value.problems} == {
        ("lmtp", "queue_retry"),
        ("lmtp", "queue_lifetime"),
    }
