# SPDX-License-Identifier: GPL-3.0-or-later
"""Messages leaving the mail store: redirects, vacation replies and notifications through an SMTP relay.

The relay is the site's MTA (RFC 5321); :class:`Relay` opens one SMTP session per message with ``smtplib`` and
classifies failures the way delivery needs them: :class:`RelayTemporaryError` for a connection failure or a
4xx answer (try again later, RFC 5321 §4.2.5), :class:`RelayPermanentError` for a 5xx answer or a relay that
lacks an extension the message needs (:class:`RelayExtensionMissing`).

What goes on the wire is canonical (:func:`canonical_crlf`): every line ends with CRLF, never a bare LF or CR
(RFC 5321 §2.3.8), which MTAs such as Postfix with ``smtpd_forbid_bare_newline`` refuse. ``SMTPUTF8`` (RFC
6531 §3.4) is asked for when, and only when, an envelope address or a header field is not ASCII, and
``BODY=8BITMIME`` (RFC 6152 §3) when the message has any octet above 127.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Relay",
    "RelayError",
    "RelayExtensionMissing",
    "RelayPermanentError",
    "RelayTemporaryError",
    "canonical_crlf",
    "extensions_needed",
]

_LINE_END = re.compile(rb"\r\n|\r|\n")


class RelayError(Exception):
    """The relay did not take the message."""


class RelayTemporaryError(RelayError):
    """Try again later: the relay is unreachable or answered 4xx."""


class RelayPermanentError(RelayError):
    """The relay refused the message or a recipient for good (5xx)."""


class RelayExtensionMissing(RelayPermanentError):
    """The message needs an SMTP extension (SMTPUTF8, 8BITMIME) that the relay does not offer in its EHLO."""


def canonical_crlf(message: bytes) -> bytes:
    """``message`` with every line ended by CRLF (RFC 5321 §2.3.8: CR and LF only together, as CRLF).

    Bare LF and bare CR become CRLF, existing CRLF stay as they are, and a last line without its end gets
    one (RFC 5321 §4.1.1.4: the data ends with CRLF before the final dot).
    """
    canonical = _LINE_END.sub(b"\r\n", message)
    return canonical if not canonical or canonical.endswith(b"\r\n") else canonical + b"\r\n"


def _header(message: bytes) -> bytes:
    end = message.find(b"\r\n\r\n")
    return message if end < 0 else message[:end]


def extensions_needed(sender: str, recipients: Sequence[str], message: bytes) -> tuple[str, ...]:
    """The MAIL FROM parameters that sending ``message`` needs: ``SMTPUTF8`` for a non-ASCII envelope
    address or header field (RFC 6531 §3.4, RFC 6532 §3), ``BODY=8BITMIME`` for any octet above 127 (RFC
    6152 §3); none for a plain ASCII message, so that any relay takes it.
    """
    needed: list[str] = []
    if not message.isascii():
        needed.append("BODY=8BITMIME")
    if not (sender.isascii() and all(r.isascii() for r in recipients) and _header(message).isascii()):
        needed.append("SMTPUTF8")
    return tuple(needed)


_EXTENSION_RFC = {"BODY=8BITMIME": ("8bitmime", "RFC 6152"), "SMTPUTF8": ("smtputf8", "RFC 6531")}


@dataclass(frozen=True, slots=True)
class Relay:
    """An SMTP relay at ``host:port``; ``local_hostname`` is what we say in EHLO."""

    host: str
    port: int = 25
    timeout: float = 30.0
    local_hostname: str | None = None

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        """Send ``message`` (its line ends made CRLF) from ``sender`` (``""``: the null reverse-path, RFC 5321
        §4.5.5) to ``recipients``, with the extensions it needs (:func:`extensions_needed`).

        Raises:
            RelayTemporaryError: connection failure, timeout or a 4xx answer. RelayPermanentError: a 5xx
            answer (to the whole message or to every recipient); RelayExtensionMissing, one of them: the
            relay does not offer SMTPUTF8 or 8BITMIME and the message needs it.
        """
        data = canonical_crlf(message)
        options = extensions_needed(sender, recipients, data)
        try:
            with smtplib.SMTP(self.host, self.port, self.local_hostname, self.timeout) as smtp:
                smtp.ehlo_or_helo_if_needed()
                self._check_extensions(smtp, options)
                refused = smtp.sendmail(sender, list(recipients), data, mail_options=list(options))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _classify(min(codes) if codes else 451, str(exc.recipients)) from exc
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc.smtp_code, str(exc.smtp_error)) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise RelayTemporaryError(f"relay {self.host}:{self.port}: {exc}") from exc
        if refused:
            raise _classify(min(code for code, _ in refused.values()), str(refused))

    def _check_extensions(self, smtp: smtplib.SMTP, options: Sequence[str]) -> None:
        for option in options:
            extension, rfc = _EXTENSION_RFC[option]
            if not smtp.has_extn(extension):
                raise RelayExtensionMissing(
                    f"relay {self.host}:{self.port} does not offer {extension.upper()} ({rfc}), which this "
                    "message needs (a non-ASCII address or header needs SMTPUTF8, 8-bit content 8BITMIME)"
                )


def _classify(code: int, text: str) -> RelayError:
    if 400 <= code < 500:
        return RelayTemporaryError(f"{code} {text}")
    return RelayPermanentError(f"{code} {text}")
