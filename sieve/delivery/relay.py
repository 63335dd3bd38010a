# SPDX-License-Identifier: GPL-3.0-or-later
"""Messages leaving the mail store: redirects, vacation replies and notifications through an SMTP relay.

The relay is the site's MTA (RFC 5321); :class:`Relay` opens one SMTP session per message with ``smtplib`` and
classifies failures the way delivery needs them: :class:`RelayTemporaryError` for a connection failure or a
4xx answer (the sending MTA should retry us later, RFC 5321 §4.2.5), :class:`RelayPermanentError` for a 5xx
answer.
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Relay", "RelayError", "RelayPermanentError", "RelayTemporaryError"]


class RelayError(Exception):
    """The relay did not take the message."""


class RelayTemporaryError(RelayError):
    """Try again later: the relay is unreachable or answered 4xx."""


class RelayPermanentError(RelayError):
    """The relay refused the message or a recipient for good (5xx)."""


@dataclass(frozen=True, slots=True)
class Relay:
    """An SMTP relay at ``host:port``; ``local_hostname`` is what we say in EHLO."""

    host: str
    port: int = 25
    timeout: float = 30.0
    local_hostname: str | None = None

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        """Send ``message`` from ``sender`` (``""``: the null reverse-path, RFC 5321 §4.5.5) to
        ``recipients``.

        Raises:
            RelayTemporaryError: connection failure, timeout or a 4xx answer. RelayPermanentError: a 5xx
            answer (to the whole message or to every recipient).
        """
        try:
            with smtplib.SMTP(self.host, self.port, self.local_hostname, self.timeout) as smtp:
                refused = smtp.sendmail(sender, list(recipients), message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _classify(min(codes) if codes else 451, str(exc.recipients)) from exc
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc.smtp_code, str(exc.smtp_error)) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise RelayTemporaryError(f"relay {self.host}:{self.port}: {exc}") from exc
        if refused:
            raise _classify(min(code for code, _ in refused.values()), str(refused))


def _classify(code: int, text: str) -> RelayError:
    if 400 <= code < 500:
        return RelayTemporaryError(f"{code} {text}")
    return RelayPermanentError(f"{code} {text}")
