# SPDX-License-Identifier: GPL-3.0-or-later
"""Byte-level transcripts of the sans-IO ManageSieve core (RFC 5804): wire format and command state
machine.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from groupware.sieve.checks import check_script
from groupware.sieve.host import AuthenticationUnavailable, Policy
from groupware.sieve.managesieve.commands import Capabilities, Session
from groupware.sieve.managesieve.protocol import Atom, Oversized, ProtocolViolation, Reader, response, string
from groupware.sieve.scripts import Quotas, ScriptStore

POLICY = Policy(redirect_domains=frozenset({"ac-montpellier.fr"}), min_vacation_seconds=86400)


class Accounts:
    """An authenticator from a dictionary; the login ``down`` stands for a directory outage."""

    def authenticate(self, login: str, password: str, authzid: str = "", remote_addr: str = "") -> str | None:
        if login == "down":
            raise AuthenticationUnavailable("directory down")
        ok = {"helene.lefevre": "secret"}.get(login) == password and authzid in ("", login)
        return login if ok else None


def session(
    tmp_path: Path, *, plaintext: bool = True, tls: bool = False, quotas: Quotas | None = None
) -> Session:
    store = ScriptStore(
        tmp_path,
        quotas or Quotas(max_scripts=3, max_script_size=200),
        lambda name, text: check_script(text, POLICY),
    )
    caps = Capabilities(POLICY.extensions, POLICY.max_redirects, tls_available=tls, allow_plaintext=plaintext)
    return Session(store, Accounts(), caps, "127.0.0.1")


def run(sess: Session, wire: bytes) -> bytes:
    """Feed client bytes, answer every complete line, return what the server sent."""
    reader = Reader(max_line=1024, max_literal=300, max_skip=4096)
    reader.feed(wire)
    out = b""
    while (line := reader.next_line()) is not None:
        out += sess.handle(line).data
    return out


PLAIN = base64.b64encode(b"\0helene.lefevre\0secret")


def login(sess: Session) -> None:
    assert run(sess, b'AUTHENTICATE "PLAIN" "' + PLAIN + b'"\r\n') == b'OK "Logged in."\r\n'


# -- wire format -------------------------------------------------------------------------------------------


def test_reader_tokens_quoted_literals_numbers_across_chunks() -> None:
    reader = Reader()
    wire = b'PUTSCRIPT "a \\"b\\" \\\\" {5+}\r\nkeep;\r\nHAVESPACE "x" 42\r\nCHECKSCRIPT {2}\r\nab\r\n'
    lines = []
    for i in range(len(wire)):  # one octet at a time: framing must not depend on chunking
        reader.feed(wire[i : i + 1])
        while (line := reader.next_line()) is not None:
            lines.append(line)
    assert lines == [
        [Atom("PUTSCRIPT"), b'a "b" \\', b"keep;"],
        [Atom("HAVESPACE"), b"x", 42],
        [Atom("CHECKSCRIPT"), b"ab"],
    ]
    assert isinstance(lines[0][0], Atom)


@pytest.mark.parametrize(
    "wire, reason",
    [
        (b"X" * 2000, "too long"),
        (b'NOOP "unterminated\r\n', "closing quote"),
        (b'NOOP "\\n"\r\n', "escape"),
        (b"PUTSCRIPT {99999999+}\r\n", "too large"),
        (b"NOOP {3+} x\r\n", "Malformed literal"),
        (b"NOOP " + b"a " * 20 + b"\r\n", "Too many"),
    ],
)
def test_reader_violations(wire: bytes, reason: str) -> None:
    reader = Reader(max_line=1024, max_skip=1 << 20)
    reader.feed(wire)
    with pytest.raises(ProtocolViolation, match=reason):
        reader.next_line()


def test_oversized_literal_is_dropped_and_marked() -> None:
    reader = Reader(max_literal=10, max_skip=100)
    reader.feed(b'PUTSCRIPT "s" {50+}\r\n' + b"k" * 50 + b"\r\nNOOP\r\n")
    assert reader.next_line() == [Atom("PUTSCRIPT"), b"s", Oversized(50)]
    assert reader.next_line() == [Atom("NOOP")]


def test_response_strings() -> None:
    assert response("OK", "Done", b'TAG "x"') == b'OK (TAG "x") "Done"\r\n'
    assert string('a"b\\') == b'"a\\"b\\\\"'
    assert string("two\r\nlines") == b"{10}\r\ntwo\r\nlines"


# -- sessions ----------------------------------------------------------------------------------------------


def test_greeting_lists_capabilities_like_pigeonhole(tmp_path: Path) -> None:
    greeting = session(tmp_path).greeting().decode()
    lines = greeting.splitlines()
    assert lines[0] == '"IMPLEMENTATION" "groupware"'
    assert lines[1].startswith('"SIEVE" "fileinto reject envelope encoded-character vacation subaddress')
    assert '"SASL" "PLAIN LOGIN"' in lines and '"VERSION" "1.0"' in lines and '"NOTIFY" "mailto"' in lines
    assert lines[-1] == 'OK "groupware ManageSieve ready."'
    assert "mime" not in lines[1].split()  # not supported by our engine, so not announced


def test_plaintext_refused_without_tls_unless_allowed(tmp_path: Path) -> None:
    sess = session(tmp_path, plaintext=False, tls=True)
    assert '"SASL" ""' in sess.greeting().decode() and '"STARTTLS"' in sess.greeting().decode()
    out = run(sess, b'AUTHENTICATE "PLAIN" "' + PLAIN + b'"\r\n')
    assert out.startswith(b"NO (ENCRYPT-NEEDED)")
    assert run(sess, b"STARTTLS\r\n") == b'OK "Begin TLS negotiation now."\r\n'
    assert b'"SASL" "PLAIN LOGIN"' in sess.tls_started()
    login(sess)


def test_full_cycle_transcript(tmp_path: Path) -> None:
    sess = session(tmp_path)
    assert run(sess, b"LISTSCRIPTS\r\n").startswith(b"NO ")
    login(sess)
    transcript = [
        (b'PUTSCRIPT "a" {7+}\r\nkeep;\r\n\r\n', b'OK "PUTSCRIPT completed."\r\n'),
        (b'PUTSCRIPT "b" "discard;"\r\n', b'OK "PUTSCRIPT completed."\r\n'),
        (b"LISTSCRIPTS\r\n", b'"a"\r\n"b"\r\nOK "Listscripts completed."\r\n'),
        (b'SETACTIVE "a"\r\n', b'OK "Setactive completed."\r\n'),
        (b'SETACTIVE "a"\r\n', b'OK "Script is already active."\r\n'),
        (b'DELETESCRIPT "a"\r\n', b'NO (ACTIVE) "Cannot delete the active Sieve script."\r\n'),
        (
            b'RENAMESCRIPT "a" "b"\r\n',
            b'NO (ALREADYEXISTS) "A sieve script with that name already exists."\r\n',
        ),
        (b'RENAMESCRIPT "a" "c"\r\n', b'OK "Renamescript completed."\r\n'),
        (b"LISTSCRIPTS\r\n", b'"b"\r\n"c" ACTIVE\r\nOK "Listscripts completed."\r\n'),
        (b'GETSCRIPT "c"\r\n', b'{7}\r\nkeep;\r\n\r\nOK "Getscript completed."\r\n'),
        (b'GETSCRIPT "zz"\r\n', b'NO (NONEXISTENT) "Sieve script `zz\' not found"\r\n'),
        (b'SETACTIVE ""\r\n', b'OK "Active script is now deactivated."\r\n'),
        (b'DELETESCRIPT "c"\r\n', b'OK "Deletescript completed."\r\n'),
        (b'NOOP "t1"\r\n', b'OK (TAG "t1") "Done"\r\n'),
        (b'HAVESPACE "x" 100\r\n', b'OK "Putscript would succeed."\r\n'),
        (b'HAVESPACE "x" 1000\r\n', b'NO (QUOTA/MAXSIZE) "Script is too large (max 200 bytes)."\r\n'),
        (b'PUTSCRIPT "a/b" "keep;"\r\n', b'NO "Invalid Sieve script name `a/b\'."\r\n'),
        (b"UNAUTHENTICATE\r\n", b'OK "Unauthenticate completed."\r\n'),
        (b"LOGOUT\r\n", b'OK "Logout completed."\r\n'),
    ]
    for sent, expected in transcript:
        assert run(sess, sent) == expected, sent


def test_invalid_script_refused_with_line_number(tmp_path: Path) -> None:
    sess = session(tmp_path)
    login(sess)
    out = run(sess, b'PUTSCRIPT "bad" {27+}\r\nrequire "fileinto";\r\nfoo;\r\n\r\n')
    text = "bad: 2:1: unknown command 'foo'.\r\nbad: error: validation failed.\r\n"
    assert out == b"NO {%d}\r\n%s\r\n" % (len(text), text.encode())
    out = run(sess, b"CHECKSCRIPT {5+}\r\nfoo;\n\r\n")
    assert out.startswith(b"NO {") and b"1:1: unknown command 'foo'" in out and b"bad:" not in out
    assert run(sess, b"CHECKSCRIPT {6+}\r\nkeep;\r\n") == b'OK "Script checked successfully."\r\n'
    assert not (tmp_path / "helene.lefevre" / "sieve" / "bad.sieve").exists()


def test_policy_refusals_say_why(tmp_path: Path) -> None:
    sess = session(tmp_path)
    login(sess)
    out = run(sess, b'PUTSCRIPT "fwd" "redirect \\"me@gmail.com\\";"\r\n').decode()
    assert out.startswith("NO ") and "redirect to 'me@gmail.com' is not allowed" in out
    assert "ac-montpellier.fr" in out
    ok = run(sess, b'PUTSCRIPT "fwd" "redirect \\"col@ac-montpellier.fr\\";"\r\n')
    assert ok == b'OK "PUTSCRIPT completed."\r\n'
    out = run(sess, b'CHECKSCRIPT "require \\"vacation\\"; vacation :days 0 \\"away\\";"\r\n').decode()
    assert out == 'OK "Script checked successfully."\r\n'  # raised to the minimum (RFC 5230 §4.1)
    out = run(sess, b'CHECKSCRIPT "require \\"mime\\";"\r\n').decode()
    assert "unknown Sieve capability 'mime'" in out


def test_quotas(tmp_path: Path) -> None:
    sess = session(tmp_path)
    login(sess)
    for name in (b"a", b"b", b"c"):
        assert run(sess, b'PUTSCRIPT "' + name + b'" "keep;"\r\n').startswith(b"OK")
    assert run(sess, b'PUTSCRIPT "d" "keep;"\r\n').startswith(b"NO (QUOTA/MAXSCRIPTS)")
    assert run(sess, b'PUTSCRIPT "a" "discard;"\r\n').startswith(b"OK")  # replacing is not a new script
    big = b"#" + b"x" * 299 + b"\n"
    assert run(sess, b'PUTSCRIPT "a" {301+}\r\n' + big + b"\r\n").startswith(b"NO (QUOTA/MAXSIZE)")


def test_sasl_login_exchange_and_failures(tmp_path: Path) -> None:
    sess = session(tmp_path)
    assert run(sess, b'AUTHENTICATE "LOGIN"\r\n') == b'"VXNlcm5hbWU6"\r\n'
    assert run(sess, b'"' + base64.b64encode(b"helene.lefevre") + b'"\r\n') == b'"UGFzc3dvcmQ6"\r\n'
    assert run(sess, b'"' + base64.b64encode(b"wrong") + b'"\r\n') == b'NO "Authentication failed."\r\n'
    assert run(sess, b'AUTHENTICATE "PLAIN"\r\n') == b'""\r\n'
    assert run(sess, b'"*"\r\n').startswith(b'NO "Authentication aborted')
    down = base64.b64encode(b"\0down\0x")
    assert run(sess, b'AUTHENTICATE "PLAIN" "' + down + b'"\r\n').startswith(b"NO (TRYLATER)")
    assert run(sess, b'AUTHENTICATE "CRAM-MD5"\r\n').startswith(b"NO ")
    assert run(sess, b'AUTHENTICATE "PLAIN" "%%%"\r\n') == b'NO "Invalid SASL response."\r\n'
    login(sess)
    assert b'"OWNER" "helene.lefevre"' in run(sess, b"CAPABILITY\r\n")


def test_bye_after_too_many_errors(tmp_path: Path) -> None:
    sess = session(tmp_path)
    out = run(sess, b"FOO\r\n" * 10)
    assert out.count(b"NO ") == 10 and out.endswith(b'BYE "Too many invalid commands."\r\n')


def test_oversized_literals_get_no_with_a_reason(tmp_path: Path) -> None:
    """A literal beyond the reader's bound (dropped unread) is refused with ``NO`` and a reason wherever it
    stands (RFC 5804 §2.1 for SASL, §1.3 ``QUOTA/MAXSIZE`` for a script), and the session goes on."""
    sess = session(tmp_path)
    big = b"QUFB" * 100  # 400 octets of base64, over the 300 octets the test reader keeps

    def literal(before: bytes) -> bytes:
        return before + b"{400+}\r\n" + big + b"\r\n"

    too_long = b'NO "Invalid SASL response: too long (400 bytes)."\r\n'
    assert run(sess, literal(b'AUTHENTICATE "PLAIN" ')) == too_long
    assert run(sess, literal(b"AUTHENTICATE ")) == b'NO "Unsupported authentication mechanism."\r\n'
    assert run(sess, b'AUTHENTICATE "LOGIN"\r\n') == b'"VXNlcm5hbWU6"\r\n'
    assert run(sess, literal(b"")) == too_long
    assert run(sess, b"NOOP\r\n") == b'OK "NOOP completed."\r\n'
    login(sess)
    out = run(sess, literal(b"GETSCRIPT "))
    assert out == b'NO "Error in MANAGESIEVE command GETSCRIPT: Argument too long (400 bytes)."\r\n'
    assert (
        run(sess, literal(b'PUTSCRIPT "a" ')) == b'NO (QUOTA/MAXSIZE) "Script is too large (400 bytes)."\r\n'
    )
    assert run(sess, literal(b"CHECKSCRIPT ")).startswith(b"NO (QUOTA/MAXSIZE)")
    assert run(sess, literal(b"PUTSCRIPT ") + b"\r\n").startswith(b"NO ")


@pytest.mark.parametrize(
    ("script", "refused"),
    [
        ('require "enotify"; notify "mailto:someone@outside.example";', "notify 'someone@outside.example'"),
        (
            'require "enotify"; notify "mailto:col@ac-montpellier.fr?to=x@outside.example";',
            "notify 'x@outside.example'",
        ),
        ('require ["enotify", "variables"]; set "m" "mailto:x@outside.example"; notify "${m}";', "computed"),
        ('require "vacation"; vacation :from "Moi <boss@outside.example>" "absent";', "vacation :from"),
        ('require "vacation"; vacation :addresses ["x@outside.example"] "absent";', "vacation :addresses"),
        (
            'require "enotify"; notify :from "boss@outside.example" "mailto:a@ac-montpellier.fr";',
            "notify :from 'boss@outside.example'",
        ),
        (
            'require ["vacation", "variables"]; set "h" "${1}"; vacation :handle "${h}" "absent";',
            "vacation :handle with a computed value",
        ),
    ],
)
def test_notify_and_vacation_held_to_the_forwarding_policy(tmp_path: Path, script: str, refused: str) -> None:
    """RFC 5435 §3, RFC 5230 §4.2-4.5: what leaves or speaks for the user keeps to redirect_domains, and a
    vacation handle is written in the script, at PUTSCRIPT and CHECKSCRIPT alike."""
    sess = session(tmp_path, quotas=Quotas(max_scripts=3, max_script_size=2000))
    login(sess)
    data = script.encode()
    put = run(sess, b'PUTSCRIPT "s" {%d+}\r\n%s\r\n' % (len(data), data)).decode()
    assert put.startswith("NO ") and refused in put and "ac-montpellier.fr" in put, put
    check = run(sess, b"CHECKSCRIPT {%d+}\r\n%s\r\n" % (len(data), data)).decode()
    assert check.startswith("NO ") and refused in check, check
    inside = (
        script.replace("outside.example", "ac-montpellier.fr")
        .replace('"${m}"', '"mailto:a@ac-montpellier.fr"')
        .replace('"${h}"', '"h"')
    )
    data = inside.encode()
    assert run(sess, b'PUTSCRIPT "s" {%d+}\r\n%s\r\n' % (len(data), data)) == b'OK "PUTSCRIPT completed."\r\n'
