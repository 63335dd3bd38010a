# SPDX-License-Identifier: GPL-3.0-or-later
"""A tiny SMTP server (RFC 5321) that keeps what it receives: the relay of delivery tests and benchmarks.

``with SmtpSink() as sink:`` listens on 127.0.0.1 (a free port, :attr:`SmtpSink.port`) in a thread;
:attr:`SmtpSink.messages` holds ``(mail_from, recipients, data, MAIL parameters)`` for each message accepted.
``extensions`` are the EHLO keywords it offers; :attr:`SmtpSink.rcpt_reply` is its answer to every RCPT.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Self


@dataclass(frozen=True)
class Received:
    """One message the sink accepted."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    options: tuple[str, ...] = ()


class SmtpSink:
    """An SMTP sink on 127.0.0.1 in a thread of its own."""

    def __init__(self, extensions: tuple[str, ...] = ("8BITMIME",)) -> None:
        self.extensions = extensions
        self.rcpt_reply = b"250 2.1.5 Ok"
        self.messages: list[Received] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> Self:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._session, "127.0.0.1", 0), self._loop
        ).result()
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The messages once there are at least ``count`` (or when ``timeout`` is over)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 sink ESMTP\r\n")
        sender, recipients, options = "", list[str](), list[str]()
        keywords = ("sink", *self.extensions)
        ehlo = "".join(f"250-{k}\r\n" for k in keywords[:-1]) + f"250 {keywords[-1]}\r\n"
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(ehlo.encode() if verb == b"EHLO" else b"250 sink\r\n")
                elif verb == b"MAIL":
                    sender, *options = line.decode().split(":", 1)[1].strip().split()
                    sender, recipients = sender.strip("<>"), []
                    writer.write(b"250 2.1.0 Ok\r\n")
                elif verb == b"RCPT":
                    recipients.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                    writer.write(self.rcpt_reply + b"\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go on\r\n")
                    data = await self._data(reader)
                    self.messages.append(Received(sender, tuple(recipients), data, tuple(options)))
                    writer.write(b"250 2.0.0 Ok: queued\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 2.0.0 Bye\r\n")
                    break
                else:
                    writer.write(b"250 2.0.0 Ok\r\n")
                await writer.drain()
        finally:
            writer.close()

    @staticmethod
    async def _data(reader: asyncio.StreamReader) -> bytes:
        lines = []
        while (line := await reader.readline()) not in (b".\r\n", b".\n", b""):
            lines.append(line[1:] if line.startswith(b".") else line)
        return b"".join(lines)
