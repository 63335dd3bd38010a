# SPDX-License-Identifier: GPL-3.0-or-later
"""LMTP (RFC 2033): a sans-IO protocol core and the asyncio server that moves its bytes.

:class:`LmtpConnection` turns received bytes into events, like h11: a :class:`Reply` to write, a
:class:`RecipientCheck` the server answers with :meth:`LmtpConnection.recipient_checked` once the host has
looked the address up, a :class:`MessageReady` it answers with :meth:`LmtpConnection.delivered`, one outcome
per accepted recipient (RFC 2033 §4.2), or :data:`NEED_DATA`. Commands are those of RFC 5321 §4.1 with
``LHLO`` for ``EHLO`` (RFC 2033 §4.1); PIPELINING (RFC 2920), ENHANCEDSTATUSCODES (RFC 2034, codes of RFC
3463), 8BITMIME (RFC 6152) and SIZE (RFC 1870) are offered. Command lines are bounded to 512 octets (RFC 5321
§4.5.3.1.4); message lines are dot-unstuffed (RFC 5321 §4.5.2) and buffered at most ``max_data_line`` at a
time, and the message at most ``max_size`` octets (beyond, the rest is read and dropped and every recipient
gets 552). Refused commands and unknown recipients count toward ``max_errors``, past which the connection is
closed with 421 (after the current transaction, when it has recipients).

:class:`LmtpServer` runs the core over asyncio with the RFC 5321 §4.5.3.2 timeouts (one ``timeout`` for
commands and data blocks, and for a client that stops reading our replies), looks recipients up and delivers
in a thread pool (the directory and ``fsync`` block). Its bounds, from :class:`LmtpSettings`: at most
``max_connections`` per process and ``max_connections_per_address`` per client address (beyond, ``421`` and
the connection is closed at once, RFC 5321 §3.8), and ``handshake_timeout`` seconds from connecting to an
accepted ``LHLO``. A failure of ours while serving a connection is answered ``421`` (RFC 5321 §4.2.2), logged
with its traceback, never a silently dropped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final

from ..admission import Admission
from ..host import LookupUnavailable, Recipient, RecipientLookup
from .execute import Delivery, Outcome

__all__ = [
    "NEED_DATA",
    "LmtpConnection",
    "LmtpServer",
    "LmtpSettings",
    "MessageReady",
    "NeedData",
    "RecipientCheck",
    "Reply",
]

log = logging.getLogger("groupware.sieve.lmtp")

MAX_COMMAND_LINE: Final = 512
MAX_ERRORS: Final = 20
_MAIL = re.compile(r"FROM:\s*<([^<>]*)>\s*(.*)\Z", re.IGNORECASE | re.DOTALL)
_RCPT = re.compile(r"TO:\s*<([^<>]+)>\s*(.*)\Z", re.IGNORECASE | re.DOTALL)
# What a client sent and a reply echoes loses its control characters (RFC 5321 §4.2: a reply's text is
# printable), so that an address with a CR cannot break our replies' lines.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

OK: Final = "250 2.0.0 Ok"
BAD_SEQUENCE: Final = "503 5.5.1 Bad sequence of commands"
SYNTAX: Final = "501 5.5.4 Syntax error in parameters or arguments"
UNKNOWN: Final = "500 5.5.2 Command unrecognized"
TOO_LONG: Final = "500 5.5.2 Line too long"
USE_LHLO: Final = "500 5.5.1 This is LMTP: say LHLO (RFC 2033 §4.1)"
TOO_BIG: Final = "552 5.3.4 Message size exceeds fixed maximum message size"
TOO_MANY_ERRORS: Final = "421 4.7.0 Too many errors, closing connection"


class NeedData:
    """Nothing more to do until more bytes arrive."""


NEED_DATA: Final = NeedData()


@dataclass(frozen=True, slots=True)
class Reply:
    """Bytes to send; ``close`` after sending them."""

    data: bytes
    close: bool = False


@dataclass(frozen=True, slots=True)
class RecipientCheck:
    """``RCPT TO``: look ``address`` up, then call :meth:`LmtpConnection.recipient_checked`."""

    address: str


@dataclass(frozen=True, slots=True)
class MessageReady:
    """The message after the final dot: deliver, then call :meth:`LmtpConnection.delivered`."""

    sender: str
    recipients: tuple[tuple[str, object], ...]
    message: bytes


def _lines(*lines: str) -> bytes:
    return "".join(_CONTROL.sub("?", line) + "\r\n" for line in lines).encode("utf-8", "replace")


@dataclass(slots=True)
class _Transaction:
    sender: str
    recipients: list[tuple[str, object]] = field(default_factory=list)


class LmtpConnection:
    """The protocol state of one LMTP connection (no I/O)."""

    def __init__(
        self,
        hostname: str,
        max_size: int = 50 << 20,
        max_recipients: int = 1000,
        max_data_line: int = 1 << 16,
        max_errors: int = MAX_ERRORS,
    ) -> None:
        self.hostname = hostname
        self.max_errors = max_errors
        self.max_size = max_size
        self.max_recipients = max_recipients
        self.max_data_line = max_data_line
        self._buffer = bytearray()
        self._greeted = False
        self._txn: _Transaction | None = None
        self._waiting: str | None = None  # "rcpt" or "data" while the host works
        self._pending_rcpt = ""
        self._in_data = False
        self._data: list[bytes] = []
        self._data_size = 0
        self._too_big = False
        self._line_start = True
        self._skipping = False
        self._errors = 0
        self._closing = False  # the error limit was reached: close once the transaction is over
        self.closed = False

    # -- input --------------------------------------------------------------------------------------------
    def greeting(self) -> bytes:
        """The 220 banner (RFC 5321 §4.3.1)."""
        return _lines(f"220 {self.hostname} LMTP ready")

    def feed(self, data: bytes) -> None:
        """Bytes received from the client."""
        self._buffer += data

    def timeout(self) -> bytes:
        """What to say before closing an idle connection (RFC 5321 §4.5.3.2)."""
        self.closed = True
        return _lines(f"421 4.4.2 {self.hostname} Timeout exceeded, closing connection")

    @property
    def greeted(self) -> bool:
        """Whether an ``LHLO`` was accepted (RFC 2033 §4.1): the server's handshake deadline ends there."""
        return self._greeted

    def next_event(self) -> Reply | RecipientCheck | MessageReady | NeedData:
        """The next thing to do; :data:`NEED_DATA` while waiting for bytes or for the host's answer."""
        if self.closed or self._waiting is not None:
            return NEED_DATA
        if self._in_data:
            return self._data_event()
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > MAX_COMMAND_LINE:
                del self._buffer[:]
                self._skipping = True
                return self._error(TOO_LONG)
            return NEED_DATA
        line = bytes(self._buffer[:end]).rstrip(b"\r")
        del self._buffer[: end + 1]
        if self._skipping:
            self._skipping = False
            return self.next_event()
        if len(line) + 2 > MAX_COMMAND_LINE:
            return self._error(TOO_LONG)
        return self._command(line.decode("utf-8", "replace"))

    # -- commands -----------------------------------------------------------------------------------------
    def _error(self, text: str) -> Reply:
        """A refused command; the ``max_errors``-th closes the connection (RFC 5321 §4.5.3.1.10 lets a server
        end a session that only produces errors, as Postfix's ``smtpd_hard_error_limit`` does)."""
        self._errors += 1
        if self.max_errors and self._errors >= self.max_errors:
            self.closed = True
            return Reply(_lines(text, TOO_MANY_ERRORS), close=True)
        return Reply(_lines(text))

    def _command(self, line: str) -> Reply | RecipientCheck:
        verb, _, arg = line.partition(" ")
        if self._closing and verb.upper() not in ("RCPT", "DATA"):
            return self._closing_reply()
        handler = getattr(self, "lmtp_" + verb.upper(), None) if verb.isalpha() else None
        if handler is None:
            return self._error(USE_LHLO if verb.upper() in ("HELO", "EHLO") else UNKNOWN)
        result: Reply | RecipientCheck = handler(arg.strip())
        return result

    def lmtp_LHLO(self, arg: str) -> Reply:
        """``LHLO domain`` (RFC 2033 §4.1): the extensions, and a fresh state."""
        if not arg:
            return self._error(SYNTAX)
        self._greeted, self._txn = True, None
        size = [f"250-SIZE {self.max_size}"] if self.max_size else []
        return Reply(
            _lines(f"250-{self.hostname}", "250-PIPELINING", "250-ENHANCEDSTATUSCODES", *size, "250 8BITMIME")
        )

    def lmtp_MAIL(self, arg: str) -> Reply:
        """``MAIL FROM:<path> [SIZE=n] [BODY=…]`` (RFC 5321 §4.1.1.2, RFC 1870 §6)."""
        if not self._greeted or self._txn is not None:
            return self._error(BAD_SEQUENCE)
        match = _MAIL.match(arg)
        if match is None:
            return self._error(SYNTAX)
        for param in match.group(2).split():
            key, _, value = param.partition("=")
            if key.upper() == "SIZE" and value.isdigit():
                if self.max_size and int(value) > self.max_size:
                    return Reply(_lines(TOO_BIG))
            elif key.upper() != "BODY" or value.upper() not in ("7BIT", "8BITMIME"):
                return self._error(f"555 5.5.4 Unsupported parameter {key}")
        self._txn = _Transaction(match.group(1).strip())
        return Reply(_lines("250 2.1.0 Ok"))

    def lmtp_RCPT(self, arg: str) -> Reply | RecipientCheck:
        """``RCPT TO:<address>`` (RFC 5321 §4.1.1.3): the host says whether the address is ours."""
        if self._txn is None:
            return self._error(BAD_SEQUENCE)
        match = _RCPT.match(arg)
        if match is None or match.group(2).strip():
            return self._error(SYNTAX)
        if len(self._txn.recipients) >= self.max_recipients:
            return Reply(_lines("452 4.5.3 Too many recipients"))
        if self._closing:
            return Reply(_lines("452 4.5.3 Too many errors, send this recipient again later"))
        self._waiting, self._pending_rcpt = "rcpt", match.group(1).strip()
        return RecipientCheck(self._pending_rcpt)

    def recipient_checked(self, found: object | None, unavailable: bool = False) -> bytes:
        """The answer to the pending ``RCPT``: ``found`` is the host's recipient (kept for delivery) or
        None.
        """
        assert self._waiting == "rcpt" and self._txn is not None
        self._waiting = None
        address = self._pending_rcpt
        if unavailable:
            return _lines(f"451 4.3.0 <{address}> Directory unavailable, try again later")
        if found is None:
            return self._unknown(address)
        self._txn.recipients.append((address, found))
        return _lines("250 2.1.5 Ok")

    def _unknown(self, address: str) -> bytes:
        """550 for an address that is not ours, counted as an error so that a client probing addresses is cut
        off. When the limit is reached in a transaction that has recipients, the connection closes once that
        transaction is over, and the ``RCPT`` between get 452 (RFC 5321 §4.5.3.1.10: the client sends those
        recipients again later), so that a message with many unknown recipients still reaches the others.
        """
        line = f"550 5.1.1 <{address}> User doesn't exist"
        if self._txn is None or not self._txn.recipients:
            return self._error(line).data
        self._errors += 1
        if self.max_errors and self._errors >= self.max_errors:
            self._closing = True
        return _lines(line)

    def _closing_reply(self, *lines: str) -> Reply:
        self.closed = True
        return Reply(_lines(*lines, TOO_MANY_ERRORS), close=True)

    def lmtp_DATA(self, arg: str) -> Reply:
        """``DATA`` (RFC 2033 §4.2): 503 without an accepted recipient."""
        if arg:
            return self._error(SYNTAX)
        if self._txn is None or not self._txn.recipients:
            return self._error("503 5.5.1 No valid recipients" if self._txn is not None else BAD_SEQUENCE)
        self._in_data, self._data, self._data_size, self._too_big = True, [], 0, False
        self._line_start = True
        return Reply(_lines("354 Start mail input; end with <CRLF>.<CRLF>"))

    def lmtp_RSET(self, arg: str) -> Reply:
        """``RSET`` (RFC 5321 §4.1.1.5)."""
        self._txn = None
        return Reply(_lines(OK))

    def lmtp_NOOP(self, arg: str) -> Reply:
        """``NOOP`` (RFC 5321 §4.1.1.9)."""
        return Reply(_lines(OK))

    def lmtp_VRFY(self, arg: str) -> Reply:
        """``VRFY`` (RFC 5321 §3.5.3): not answered, as most servers do."""
        return Reply(_lines("252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery"))

    def lmtp_QUIT(self, arg: str) -> Reply:
        """``QUIT`` (RFC 5321 §4.1.1.10)."""
        self.closed = True
        return Reply(_lines(f"221 2.0.0 {self.hostname} Bye"), close=True)

    # -- message data -------------------------------------------------------------------------------------
    def _append(self, chunk: bytes) -> None:
        self._data_size += len(chunk)
        if self.max_size and self._data_size > self.max_size:
            self._too_big, self._data = True, []
        if not self._too_big:
            self._data.append(chunk)

    def _data_event(self) -> Reply | MessageReady | NeedData:
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) <= self.max_data_line:
                    return NEED_DATA
                chunk = bytes(self._buffer)  # a very long line: keep it without waiting for its end
                del self._buffer[:]
                self._append(chunk[1:] if self._line_start and chunk.startswith(b".") else chunk)
                self._line_start = False
                continue
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            if self._line_start and line == b".":
                return self._end_of_data()
            if self._line_start and line.startswith(b"."):
                line = line[1:]
            self._append(line + b"\r\n")
            self._line_start = True

    def _end_of_data(self) -> Reply | MessageReady:
        assert self._txn is not None
        txn, self._txn, self._in_data = self._txn, None, False
        if self._too_big:
            if self._closing:
                return self._closing_reply(*(TOO_BIG for _ in txn.recipients))
            return Reply(_lines(*(TOO_BIG for _ in txn.recipients)))
        message, self._data = b"".join(self._data), []
        self._waiting = "data"
        return MessageReady(txn.sender, tuple(txn.recipients), message)

    def delivered(self, outcomes: Sequence[Outcome]) -> bytes:
        """One reply per accepted recipient, in the order of their ``RCPT`` (RFC 2033 §4.2)."""
        assert self._waiting == "data"
        self._waiting = None
        if self._closing:
            self.closed = True
            return _lines(*(o.line for o in outcomes), TOO_MANY_ERRORS)
        return _lines(*(o.line for o in outcomes))


@dataclass(frozen=True, slots=True)
class LmtpSettings:
    """Where to listen and the limits of a connection."""

    hosts: tuple[tuple[str, int], ...] = (("127.0.0.1", 24),)
    hostname: str = "localhost"
    max_size: int = 50 << 20
    max_recipients: int = 1000
    timeout: float = 300.0
    handshake_timeout: float = 60.0
    workers: int = 16
    max_connections: int = 500
    max_connections_per_address: int = 50
    #: Refused commands and unknown recipients before the connection is closed (0: no limit).
    max_errors: int = MAX_ERRORS
    #: Connections the kernel queues before we accept them (asyncio's default, 100, delays a burst).
    backlog: int = 1024


TOO_MANY: Final = "421 4.3.2 Too many connections, try again later"
TOO_MANY_FROM_ADDRESS: Final = "421 4.7.0 Too many connections from your address, try again later"
INTERNAL_ERROR: Final = "421 4.3.0 Internal server error, try again later"


class LmtpServer:
    """Serves LMTP: recipients through ``lookup``, messages through ``delivery``."""

    def __init__(self, settings: LmtpSettings, lookup: RecipientLookup, delivery: Delivery) -> None:
        self.settings = settings
        self.lookup = lookup
        self.delivery = delivery
        self.addresses: list[tuple[str, int]] = []
        self._executor = ThreadPoolExecutor(settings.workers, thread_name_prefix="lmtp")
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._admission = Admission(settings.max_connections, settings.max_connections_per_address)

    async def start(self) -> None:
        """Bind every configured address (port 0 picks one; see :attr:`addresses`)."""
        for host, port in self.settings.hosts:
            server = await asyncio.start_server(
                self._connection, host, port, limit=1 << 17, backlog=self.settings.backlog
            )
            self._servers.append(server)
            self.addresses.extend(sock.getsockname()[:2] for sock in server.sockets)
        for host, port in self.addresses:
            log.info("listening", extra={"event": "listening", "url": f"lmtp://{host}:{port}/"})

    async def close(self) -> None:
        """Stop accepting, end the connections (a transaction not acknowledged is retried by the MTA)."""
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        # Commands already running finish before the host closes what they use (its database, its directory).
        stopping = asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping, 10)

    # -- one connection -----------------------------------------------------------------------------------
    def _admit(self, remote: str) -> str | None:
        """Count a new connection from ``remote``; the 421 reply when it is one too many (not counted)."""
        refused = self._admission.admit(remote, len(self._tasks))
        return None if refused is None else TOO_MANY if refused == "total" else TOO_MANY_FROM_ADDRESS

    def _release(self, remote: str) -> None:
        self._admission.release(remote)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        remote = str(peer[0]) if peer else ""
        refusal = self._admit(remote)
        if refusal is not None:
            log.info("connection refused", extra={"event": "connection_refused", "remote_addr": remote})
            with contextlib.suppress(Exception):
                writer.write(_lines(refusal))
                writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._converse(reader, writer)
        except (ConnectionError, OSError, TimeoutError, asyncio.CancelledError) as exc:
            log.debug("connection ended", extra={"event": "connection_lost", "error": repr(exc)})
        except Exception:
            log.exception("connection failed", extra={"event": "lmtp_error"})
            with contextlib.suppress(Exception):
                writer.write(_lines(INTERNAL_ERROR))
                await asyncio.wait_for(writer.drain(), 2)
        finally:
            self._tasks.discard(task)
            self._release(remote)
            with contextlib.suppress(Exception):
                writer.close()

    def _wait(self, conn: LmtpConnection, deadline: float) -> float:
        """Seconds the next read or write may take: ``timeout``, and before ``LHLO`` the handshake's rest."""
        if conn.greeted:
            return self.settings.timeout
        return max(min(deadline - asyncio.get_running_loop().time(), self.settings.timeout), 0.0)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        s = self.settings
        conn = LmtpConnection(s.hostname, s.max_size, s.max_recipients, max_errors=s.max_errors)
        writer.write(conn.greeting())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + s.handshake_timeout
        while True:
            event = conn.next_event()
            if isinstance(event, NeedData):
                if conn.closed:
                    return
                try:  # asyncio.timeout, not wait_for: wait_for may swallow the cancellation of close()
                    async with asyncio.timeout(self._wait(conn, deadline)):
                        await writer.drain()
                        data = await reader.read(1 << 16)
                except TimeoutError:
                    writer.write(conn.timeout())
                    await asyncio.wait_for(writer.drain(), 2)
                    return
                if not data:
                    return
                conn.feed(data)
            elif isinstance(event, Reply):
                writer.write(event.data)
                if event.close:
                    await asyncio.wait_for(writer.drain(), 2)
                    return
            elif isinstance(event, RecipientCheck):
                found, unavailable = await loop.run_in_executor(self._executor, self._lookup, event.address)
                writer.write(conn.recipient_checked(found, unavailable))
                if conn.closed:
                    await writer.drain()
                    return
            else:
                writer.write(conn.delivered(await self._deliver(event)))
                if conn.closed:
                    await writer.drain()
                    return

    def _lookup(self, address: str) -> tuple[Recipient | None, bool]:
        try:
            return self.lookup.lookup(address), False
        except LookupUnavailable as exc:
            log.warning("recipient lookup failed", extra={"event": "lookup_unavailable", "error": str(exc)})
            return None, True

    async def _deliver(self, ready: MessageReady) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        try:
            incoming = await loop.run_in_executor(self._executor, self.delivery.parse, ready.message)
        except Exception:
            log.exception("cannot parse message", extra={"event": "delivery_failed"})
            return [Outcome(451, "4.3.0", f"<{a}> cannot parse the message") for a, _ in ready.recipients]
        jobs = [
            loop.run_in_executor(
                self._executor, self.delivery.deliver, incoming, ready.sender, address, recipient
            )
            for address, recipient in ready.recipients
            if isinstance(recipient, Recipient)
        ]
        return list(await asyncio.gather(*jobs))
