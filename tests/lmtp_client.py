# SPDX-License-Identifier: GPL-3.0-or-later
"""An LMTP client (RFC 2033) that reads every per-recipient reply after DATA (``smtplib.LMTP`` reads only
one).

Used by the delivery tests and ``benchmarks/delivery.py``: one transaction is pipelined (RFC 2920) as
``MAIL``, the ``RCPT``s and ``DATA``, then the dot-stuffed message, and :meth:`LmtpClient.send` returns the
answer to each ``RCPT`` and, for each accepted recipient, its answer after the final dot.
"""

from __future__ import annotations

import contextlib
import re
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Transaction:
    """The answers of one transaction: ``rcpt`` per recipient; ``data`` per accepted recipient (in order)."""

    rcpt: list[str]
    data: list[str]
    accepted: list[str]

    def delivered(self) -> list[str]:
        """The recipients whose answer after DATA was 2xx."""
        return [r for r, line in zip(self.accepted, self.data, strict=False) if line.startswith("2")]


class LmtpClient:
    """One LMTP connection: greeting and LHLO on connect."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()
        self.command(b"LHLO client.example.org")

    def reply(self) -> str:
        """One reply, its lines joined by newlines."""
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("connection closed")
            lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
            if len(line) < 4 or line[3:4] != b"-":
                return "\n".join(lines)

    def command(self, line: bytes) -> str:
        """Send a command line, return its reply."""
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def send(self, sender: str, recipients: list[str], message: bytes) -> Transaction:
        """Deliver ``message`` (any line ends) to ``recipients``."""
        lines = (
            [f"MAIL FROM:<{sender}>".encode()] + [f"RCPT TO:<{r}>".encode() for r in recipients] + [b"DATA"]
        )
        self.sock.sendall(b"".join(line + b"\r\n" for line in lines))
        self.reply()
        rcpt = [self.reply() for _ in recipients]
        accepted = [r for r, line in zip(recipients, rcpt, strict=True) if line.startswith("2")]
        if not self.reply().startswith("354"):
            return Transaction(rcpt, [], accepted)
        body = re.sub(rb"(?m)^\.", b"..", message.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n")
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.sock.sendall(body + b".\r\n")
        return Transaction(rcpt, [self.reply() for _ in accepted], accepted)

    def close(self) -> None:
        """QUIT and close."""
        with contextlib.suppress(OSError):
            self.command(b"QUIT")
        self.sock.close()
