# SPDX-License-Identifier: GPL-3.0-or-later
"""Real ManageSieve clients against ``groupware serve`` (RFC 5804), logging in with a demo directory account.

sievelib's ``managesieve.Client``, Debian's ``sieve-connect`` and ``sievemgr`` each list, put, check,
activate, deactivate, rename, get and delete. Client gaps, worked around here: ``sieve-connect`` has no rename
command (it is done with sievelib in the same test's server); ``sievemgr`` 0.7.4.7's ``check`` command opens
the file with an invalid mode, so its check goes through sievemgr's own library
(``SieveManager.checkscript``); its ``cafile`` option cannot be set, so our test certificate is trusted
through ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sievelib.managesieve import Client
from support import (
    PASSWORD,
    USER,
    ServeProcess,
    require_binaries,
    self_signed_certificate,
    write_sieve_config,
)

SIEVEMGR = [sys.executable, "-c", "import sys, sievemgr; sys.exit(sievemgr.main())"]
BAD = 'require "fileinto";\r\nif true {\r\n  fileinto "Junk";\r\n}\r\nfoo;\r\n'
FORWARD = 'redirect "helene.perso@gmail.com";\r\n'


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    folder = tmp_path_factory.mktemp("managesieve")
    cert, key = self_signed_certificate(folder)
    config = write_sieve_config(
        folder / "groupware.conf",
        {"redirect_domains": "ac-montpellier.fr", "tls_certificate": str(cert), "tls_key": str(key)},
    )
    server = ServeProcess(config)
    server.cert = cert  # type: ignore[attr-defined]
    yield server
    status, log = server.stop()
    assert status == 0, log


def client(serve: ServeProcess) -> Client:
    c = Client("127.0.0.1", serve.sieve_port)
    assert c.connect(USER, PASSWORD, starttls=False, authmech="PLAIN")
    return c


def test_sievelib_full_cycle(serve: ServeProcess) -> None:
    c = client(serve)
    assert c.putscript("lib", "keep;\r\n")
    assert c.checkscript('require "fileinto";\r\nfileinto "Archives";\r\n')
    assert c.setactive("lib")
    assert c.listscripts() == ("lib", [])
    assert c.renamescript("lib", "lib2")
    assert c.listscripts() == ("lib2", [])
    assert c.getscript("lib2") == "keep;"  # sievelib strips the final line end
    assert (serve.mail_root / USER / "sieve" / "lib2.sieve").read_bytes() == b"keep;\r\n"
    assert c.setactive("")
    assert c.listscripts() == (None, ["lib2"])
    assert c.havespace("lib3", 100)
    assert c.deletescript("lib2")
    assert c.listscripts() == (None, [])
    c.logout()


def test_invalid_script_is_refused_with_its_line_number(serve: ServeProcess) -> None:
    c = client(serve)
    assert not c.putscript("bad", BAD)
    assert "bad: 5:1: unknown command 'foo'" in c.errmsg.decode()
    assert not c.checkscript(BAD)
    assert "5:1: unknown command 'foo'" in c.errmsg.decode()
    c.logout()


def test_forward_outside_the_academie_is_refused_with_the_reason(serve: ServeProcess) -> None:
    c = client(serve)
    assert not c.putscript("forward", FORWARD)
    message = c.errmsg.decode()
    assert "redirect to 'helene.perso@gmail.com' is not allowed" in message
    assert "forwarded to addresses in ac-montpellier.fr" in message
    assert c.putscript("forward", 'redirect "secretariat@ac-montpellier.fr";\r\n')
    assert c.deletescript("forward")
    c.logout()


def test_the_active_script_cannot_be_deleted(serve: ServeProcess) -> None:
    c = client(serve)
    assert c.putscript("active", "keep;\r\n") and c.setactive("active")
    assert not c.deletescript("active")
    assert c.errcode == b"ACTIVE"
    assert c.setactive("") and c.deletescript("active")
    c.logout()


def test_stored_script_is_accepted_by_sievec_as_it_lies_on_disk(serve: ServeProcess, tmp_path: Path) -> None:
    require_binaries("sievec", packages="dovecot-sieve")
    script = (
        'require ["fileinto", "vacation", "imap4flags", "variables"];\r\n# rule:[Junk]\r\n'
        'if header :contains "X-Spam-Flag" "YES" { fileinto "Junk"; stop; }\r\n'
        'vacation :days 3 :subject "Absente" "Je suis absente.";\r\n'
    )
    c = client(serve)
    assert c.putscript("sievec", script) and c.setactive("sievec")
    c.logout()
    home = serve.mail_root / USER
    stored = home / "sieve" / "sievec.sieve"
    assert (
        stored.read_bytes() == script.encode()
        and os.readlink(home / ".dovecot.sieve") == "sieve/sievec.sieve"
    )
    conf = tmp_path / "dovecot.conf"
    conf.write_text(f"base_dir = {tmp_path}\nmail_uid = nobody\nmail_gid = nogroup\nlog_path = /dev/stderr\n")
    result = subprocess.run(
        ["sievec", "-c", str(conf), str(home / ".dovecot.sieve"), str(tmp_path / "out.svbin")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    c = client(serve)
    assert c.setactive("") and c.deletescript("sievec")
    c.logout()


def test_sieve_connect_full_cycle(serve: ServeProcess, tmp_path: Path) -> None:
    require_binaries("sieve-connect", packages="sieve-connect")
    (tmp_path / "mine.sieve").write_text('require "fileinto";\nfileinto "Lu";\n')
    (tmp_path / "bad.sieve").write_text(BAD)
    commands = [
        "list",
        "put mine.sieve sc",
        "checkscript mine.sieve",
        "activate sc",
        "list",
        "deactivate",
        "list",
        "get sc got.sieve",
        "delete sc",
        "list",
        "checkscript bad.sieve",
        "quit",
    ]
    (tmp_path / "commands").write_text("\n".join(commands) + "\n")
    read, write = os.pipe()
    os.write(write, PASSWORD.encode() + b"\n")
    os.close(write)
    result = subprocess.run(
        [
            "sieve-connect",
            "--server",
            "127.0.0.1",
            "--port",
            str(serve.sieve_port),
            "--user",
            USER,
            "--passwordfd",
            str(read),
            "--notlsverify",
            "-e",
            "commands",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        pass_fds=(read,),
        check=False,
    )
    os.close(read)
    out = result.stdout.splitlines()
    assert '"sc" ACTIVE' in out and out.count('"sc"') == 1, result.stdout + result.stderr
    assert (tmp_path / "got.sieve").read_text() == 'require "fileinto";\nfileinto "Lu";\n'
    assert "bad: 5:1" not in result.stderr and "5:1: unknown command 'foo'" in result.stderr
    assert "saw 1 problems" in result.stderr  # only the invalid script's check failed
    c = client(serve)
    assert "sc" not in c.listscripts()[1]
    c.logout()


def sievemgr(
    serve: ServeProcess, tmp_path: Path, *expressions: str, tls: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run sievemgr; with ``tls`` it verifies our certificate, trusted through SSL_CERT_FILE (its ``cafile``
    option cannot be set in 0.7.4.7)."""
    options = [
        "-o",
        f"port={serve.sieve_port}",
        "-o",
        f"login={USER}",
        "-o",
        f"password={PASSWORD}",
        "-o",
        "ocsp=no",
    ]
    env = {**os.environ, "HOME": str(tmp_path)}
    if tls:
        env["SSL_CERT_FILE"] = str(serve.cert)  # type: ignore[attr-defined]
        options += ["-o", "x509strict=no"]
    else:
        options += ["-o", "tls=no"]
    args = [*SIEVEMGR, "-f", *options, *(a for e in expressions for a in ("-e", e)), "127.0.0.1"]
    return subprocess.run(
        args, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False, env=env
    )


def test_sievemgr_full_cycle_over_starttls(serve: ServeProcess, tmp_path: Path) -> None:
    (tmp_path / "mine.sieve").write_text("discard;\n")
    result = sievemgr(
        serve,
        tmp_path,
        "put -o sm mine.sieve",
        "activate sm",
        "ls",
        "mv sm sm2",
        "ls",
        "get -o got.sieve sm2",
        "deactivate",
        "rm sm2",
        "ls",
        tls=True,
    )
    assert result.returncode == 0, result.stderr
    for event in (
        "Uploaded sm",
        "Activated sm",
        "Renamed sm to sm2",
        "Downloaded sm2",
        "Deactivated",
        "Removed sm2",
    ):
        assert event in result.stderr
    assert result.stdout.split() == ["sm", "sm2"]  # the last ls is empty
    assert (tmp_path / "got.sieve").read_text() == "discard;\n"
    (tmp_path / "forward.sieve").write_text(FORWARD)
    refused = sievemgr(serve, tmp_path, "put -o fwd forward.sieve")
    assert refused.returncode != 0 and "is not allowed" in refused.stderr


def test_sievemgr_library_checks_scripts(serve: ServeProcess) -> None:
    import sievemgr as sievemgr_module

    with sievemgr_module.SieveManager("127.0.0.1", port=serve.sieve_port, tls=False) as mgr:
        mgr.authenticate(USER, PASSWORD)
        mgr.checkscript("keep;\r\n")
        with pytest.raises(sievemgr_module.SieveOperationError, match="5:1: unknown command"):
            mgr.checkscript(BAD)


def test_plaintext_login_is_refused_without_tls_when_not_allowed(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    config = write_sieve_config(
        tmp_path / "strict.conf",
        {"allow_plaintext": "false", "tls_certificate": str(cert), "tls_key": str(key)},
    )
    server = ServeProcess(config)
    try:
        c = Client("127.0.0.1", server.sieve_port)
        assert not c.connect(USER, PASSWORD, starttls=False, authmech="PLAIN")
        server.cert = cert  # type: ignore[attr-defined]
        result = sievemgr(server, tmp_path, "ls", tls=True)
        assert result.returncode == 0 and "Authenticated as helene.lefevre" in result.stderr, result.stderr
    finally:
        server.stop()


def test_sievelib_sasl_login_and_wrong_password(serve: ServeProcess) -> None:
    c = Client("127.0.0.1", serve.sieve_port)
    assert c.connect(USER, PASSWORD, starttls=False, authmech="LOGIN")
    c.logout()
    c = Client("127.0.0.1", serve.sieve_port)
    assert not c.connect(USER, "wrong", starttls=False, authmech="LOGIN")
    assert c.errmsg == b"Authentication failed."
