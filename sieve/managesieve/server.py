# SPDX-License-Identifier: GPL-3.0-or-later
"""The ManageSieve server (RFC 5804): asyncio moves bytes between sockets and the sans-IO core.

Each connection gets a :class:`~.protocol.Reader` and a :class:`~.commands.Session`; commands run in a small
thread pool because the script store writes with ``fsync`` and the host's authenticator may wait on a
directory. STARTTLS (RFC 5804 §2.2) upgrades the stream with the configured certificate and drops anything the
client sent before the handshake. A connection idle longer than ``idle_timeout`` gets ``BYE`` (RFC 5804 §1.2
allows the server to close), and so does a client that breaks the wire format
(:class:`~.protocol.ProtocolViolation`).

The host runs :meth:`ManageSieveServer.start` and :meth:`ManageSieveServer.close` on an event loop of its own
choosing (groupware runs every asyncio door on one shared loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .commands import Reply, Session
from .protocol import ProtocolViolation, Reader, response

__all__ = ["ManageSieveServer", "ServerSettings"]

log = logging.getLogger("groupware.sieve.managesieve")

IDLE_BYE = "Disconnected for inactivity."
SHUTDOWN_BYE = "Server shutting down."


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Where to listen and the limits of a connection."""

    hosts: tuple[tuple[str, int], ...] = (("127.0.0.1", 4190),)
    ssl_context: ssl.SSLContext | None = None
    idle_timeout: float = 1800.0
    max_line: int = 8192
    max_literal: int = 1 << 20
    max_skip: int = 16 << 20
    workers: int = 64
    max_connections: int = 1000


class ManageSieveServer:
    """Serves ManageSieve; ``session_factory(remote_addr)`` builds the session of each connection."""

    def __init__(self, settings: ServerSettings, session_factory: Callable[[str], Session]) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self._servers: list[asyncio.Server] = []
        self._executor = ThreadPoolExecutor(settings.workers, thread_name_prefix="managesieve")
        self._connections: set[asyncio.Task[None]] = set()
        self.addresses: list[tuple[str, int]] = []

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind every configured address (port 0 picks a free port; see :attr:`addresses`)."""
        for host, port in self.settings.hosts:
            server = await asyncio.start_server(self._connection, host, port, limit=1 << 16)
            self._servers.append(server)
            for sock in server.sockets:
                self.addresses.append(sock.getsockname()[:2])
        for host, port in self.addresses:
            log.info("listening", extra={"event": "listening", "url": f"sieve://{host}:{port}/"})

    async def close(self) -> None:
        """Stop accepting, say BYE to open connections and wait for them."""
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(self._connections, timeout=5)
        for server in self._servers:
            await server.wait_closed()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- one connection -----------------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        peer = writer.get_extra_info("peername")
        remote = str(peer[0]) if peer else ""
        try:
            if len(self._connections) > self.settings.max_connections:
                writer.write(response("BYE", "Too many connections."))
                return
            await self._converse(reader, writer, self.session_factory(remote))
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                writer.write(response("BYE", SHUTDOWN_BYE))
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            log.debug("connection lost", extra={"event": "connection_lost", "error": str(exc)})
        finally:
            self._connections.discard(task)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.drain(), 2)
                writer.close()
                await asyncio.wait_for(writer.wait_closed(), 2)

    async def _converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, session: Session
    ) -> None:
        s = self.settings
        wire = Reader(s.max_line, s.max_literal, s.max_skip)
        writer.write(session.greeting())
        loop = asyncio.get_running_loop()
        while True:
            try:
                line = wire.next_line()
            except ProtocolViolation as exc:
                writer.write(response("BYE", str(exc)))
                return
            if line is None:
                try:
                    data = await asyncio.wait_for(reader.read(1 << 16), s.idle_timeout)
                except TimeoutError:
                    writer.write(response("BYE", IDLE_BYE))
                    return
                if not data:
                    return
                wire.feed(data)
                continue
            reply: Reply = await loop.run_in_executor(self._executor, session.handle, line)
            writer.write(reply.data)
            await writer.drain()
            if reply.close:
                return
            if reply.starttls and s.ssl_context is not None:
                if wire.pending or len(getattr(reader, "_buffer", b"")):  # plaintext sent after STARTTLS
                    writer.write(response("BYE", "Data sent before the TLS handshake."))
                    return
                await writer.start_tls(s.ssl_context)
                wire.reset()
                writer.write(session.tls_started())
