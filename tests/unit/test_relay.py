# SPDX-License-Identifier: GPL-3.0-or-later
"""What the relay client puts on the wire: CRLF line ends only (RFC 5321 §2.3.8), SMTPUTF8 (RFC 6531) and
8BITMIME (RFC 6152) exactly when needed, a clear refusal when the relay lacks one, and 4xx/5xx told apart."""

from __future__ import annotations

import re
import socket

import pytest
from smtp_sink import SmtpSink

from groupware.sieve.delivery import (
    Relay,
    RelayExtensionMissing,
    RelayPermanentError,
    RelayTemporaryError,
    canonical_crlf,
    extensions_needed,
)

BARE = re.compile(rb"(?<!\r)\n|\r(?!\n)")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n"),
        (b"a\rb", b"a\r\nb\r\n"),
        (b"a\r\n\nb\r\r\n", b"a\r\n\r\nb\r\n\r\n"),
        (b"no end", b"no end\r\n"),
        (b"", b""),
        (b"\n.\n..\n", b"\r\n.\r\n..\r\n"),
    ],
)
def test_canonical_crlf_leaves_no_bare_cr_or_lf(given: bytes, expected: bytes) -> None:
    out = canonical_crlf(given)
    assert out == expected
    assert not BARE.search(out)
    assert canonical_crlf(out) == out


def test_extensions_needed_only_for_what_is_not_ascii() -> None:
    plain = b"Subject: hi\r\n\r\nhello\r\n"
    assert extensions_needed("a@example.org", ["b@example.org"], plain) == ()
    body8 = b"Subject: hi\r\n\r\nd\xc3\xa9j\xc3\xa0\r\n"
    assert extensions_needed("a@example.org", ["b@example.org"], body8) == ("BODY=8BITMIME",)
    header8 = b"Subject: \xc3\xa9t\xc3\xa9\r\n\r\nhello\r\n"
    assert extensions_needed("", ["b@example.org"], header8) == ("BODY=8BITMIME", "SMTPUTF8")
    assert extensions_needed("", ["\u00e9lodie@example.org"], plain) == ("SMTPUTF8",)
    assert extensions_needed("h\u00e9l\u00e8ne@example.org", ["b@example.org"], plain) == ("SMTPUTF8",)


def test_a_message_with_lf_line_ends_reaches_the_relay_with_crlf() -> None:
    with SmtpSink() as sink:
        Relay("127.0.0.1", sink.port).send("", ["paul@example.org"], b"Subject: hi\n\nline 1\n.dot\nlast")
        (got,) = sink.wait_for(1)
    assert got.data == b"Subject: hi\r\n\r\nline 1\r\n.dot\r\nlast\r\n"
    assert got.options == ()


def test_utf8_address_and_8bit_body_use_smtputf8_and_8bitmime() -> None:
    with SmtpSink(extensions=("8BITMIME", "SMTPUTF8")) as sink:
        relay = Relay("127.0.0.1", sink.port)
        relay.send("", ["\u00e9lodie@example.org"], "Subject: x\n\nd\u00e9j\u00e0\n".encode())
        relay.send("", ["paul@example.org"], "Subject: x\n\nd\u00e9j\u00e0\n".encode())
        first, second = sink.wait_for(2)
    assert first.recipients == ("\u00e9lodie@example.org",)
    assert set(first.options) == {"BODY=8BITMIME", "SMTPUTF8"}
    assert second.options == ("BODY=8BITMIME",)


def test_a_relay_without_a_needed_extension_is_a_clear_permanent_failure() -> None:
    with SmtpSink(extensions=("8BITMIME",)) as sink:
        with pytest.raises(RelayExtensionMissing, match="SMTPUTF8.*RFC 6531"):
            Relay("127.0.0.1", sink.port).send("", ["\u00e9lodie@example.org"], b"Subject: x\n\nhi\n")
        assert sink.messages == []
    with SmtpSink(extensions=("PIPELINING",)) as sink:
        with pytest.raises(RelayExtensionMissing, match="8BITMIME.*RFC 6152"):
            Relay("127.0.0.1", sink.port).send("", ["paul@example.org"], "\n\n\u00e9\n".encode())
        Relay("127.0.0.1", sink.port).send("", ["paul@example.org"], b"\n\nplain\n")
        assert len(sink.wait_for(1)) == 1
    assert issubclass(RelayExtensionMissing, RelayPermanentError)


def test_refusals_and_outages_are_classified() -> None:
    with SmtpSink() as sink:
        relay = Relay("127.0.0.1", sink.port)
        sink.rcpt_reply = b"450 4.2.0 mailbox busy"
        with pytest.raises(RelayTemporaryError, match="450"):
            relay.send("", ["paul@example.org"], b"\n\nx\n")
        sink.rcpt_reply = b"550 5.1.1 no such user"
        with pytest.raises(RelayPermanentError, match="550"):
            relay.send("", ["paul@example.org"], b"\n\nx\n")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(RelayTemporaryError, match="relay 127.0.0.1"):
        Relay("127.0.0.1", port, timeout=2).send("", ["paul@example.org"], b"\n\nx\n")
