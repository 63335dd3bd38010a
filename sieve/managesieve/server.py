# SPDX-License-Identifier: GPL-3.0-or-later
"""The ManageSieve server (RFC 5804): asyncio moves bytes between sockets and the sans-IO core.

Each connection gets a :class:`~.protocol.Reader` and a :class:`~.commands.Session`; commands run in a small
thread pool because the script store writes with ``fsync`` and the host's authenticator may wait on a
directory. STARTTLS (RFC 5804 §2.2) upgrades the stream with the configured certificate and drops anything the
client sent before the handshake.

Bounds, each from :class:`ServerSettings` (RFC 5804 §1.2: the server may close with ``BYE``, after inactivity
of at least 30 minutes once authenticated, sooner before):

* ``max_connections`` per process and ``max_connections_per_address`` per client address: beyond either,
  a new connection gets ``BYE "Too many connections…"`` and is closed at once, so that one address cannot
  take every slot from the others;
* ``auth_timeout``: a connection not authenticated that many seconds after it opened (or after
  ``UNAUTHENTICATE``) gets ``BYE``, however busy it keeps itself;
* ``idle_timeout``: a connection silent that long gets ``BYE``; a client that stops reading our answers is
  closed after as long;
* ``failure_delay``: a refused login is answered no sooner, the wait spent on the event loop, not in a
  worker thread, and ``commands_per_address`` commands of one address run at once, so that many failing
  logins from a few addresses do not delay the others';
* a client that breaks the wire format (:class:`~.protocol.ProtocolViolation`) gets ``BYE``; an unexpected
  failure of a command is ``NO (TRYLATER)``, logged with its traceback, never a dropped connection.

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

from ..admission import Admission, Networks
from .commands import Reply, Session
from .protocol import ProtocolViolation, Reader, Token, response

__all__ = ["ManageSieveServer", "ServerSettings"]

log = logging.getLogger("groupware.sieve.managesieve")

IDLE_BYE = "Disconnected for inactivity."
AUTH_TIMEOUT_BYE = "Disconnected: authentication took too long."
SHUTDOWN_BYE = "Server shutting down."
TOO_MANY_BYE = "Too many connections, try again later."
TOO_MANY_FROM_ADDRESS_BYE = "Too many connections from your address."
INTERNAL_ERROR = "Internal server error; try again later."


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Where to listen and the limits of a connection."""

    hosts: tuple[tuple[str, int], ...] = (("127.0.0.1", 4190),)
    ssl_context: ssl.SSLContext | None = None
    idle_timeout: float = 1800.0
    auth_timeout: float = 30.0
    #: Minimum seconds before a refused AUTHENTICATE is answered, waited here on the event loop (the host's
    #: authenticator then refuses at once, without holding a worker thread for the delay).
    failure_delay: float = 0.0
    max_line: int = 8192
    max_literal: int = 1 << 20
    #: Literal octets kept before authentication (SASL responses are small; the rest is dropped unread and
    #: refused), so that connections not logged in hold little memory each.
    max_auth_literal: int = 8192
    max_skip: int = 16 << 20
    workers: int = 64
    max_connections: int = 1000
    max_connections_per_address: int = 20
    #: Commands of one client address running at once in the thread pool (the others wait their turn), so
    #: that a few addresses cannot queue the pool's ``workers`` threads in front of everyone else's.
    commands_per_address: int = 4
    #: Networks of clients that act for many people (a webmail's ManageSieve plugin): their address is held
    #: to neither ``max_connections_per_address`` nor ``commands_per_address``.
    trusted_clients: tuple[str, ...] = ()
    #: Connections the kernel queues before we accept them (asyncio's default, 100, makes a burst of new
    #: connections wait a second for a SYN retry: too long for the others' logins).
    backlog: int = 1024


class ManageSieveServer:
    """Serves ManageSieve; ``session_factory(remote_addr)`` builds the session of each connection."""

    def __init__(self, settings: ServerSettings, session_factory: Callable[[str], Session]) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self._servers: list[asyncio.Server] = []
        self._executor = ThreadPoolExecutor(settings.workers, thread_name_prefix="managesieve")
        self._connections: set[asyncio.Task[None]] = set()
        self._trusted = Networks(settings.trusted_clients)
        self._admission = Admission(
            settings.max_connections, settings.max_connections_per_address, self._trusted
        )
        self._turns: dict[str, asyncio.Semaphore] = {}  # per address with connections: commands running
        self.addresses: list[tuple[str, int]] = []

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind every configured address (port 0 picks a free port; see :attr:`addresses`)."""
        for host, port in self.settings.hosts:
            server = await asyncio.start_server(
                self._connection, host, port, limit=1 << 16, backlog=self.settings.backlog
            )
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
        # Commands already running finish before the host closes what they use (its database, its directory).
        stopping = asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping, 10)

    # -- one connection -----------------------------------------------------------------------------------
    def _admit(self, remote: str) -> str | None:
        """Count a new connection from ``remote``; the ``BYE`` text when it is one too many (not counted)."""
        refused = self._admission.admit(remote, len(self._connections))
        if refused is not None:
            return TOO_MANY_BYE if refused == "total" else TOO_MANY_FROM_ADDRESS_BYE
        if remote not in self._turns:
            turns = self.settings.workers if remote in self._trusted else self.settings.commands_per_address
            self._turns[remote] = asyncio.Semaphore(turns)
        return None

    def _release(self, remote: str) -> None:
        if self._admission.release(remote):
            del self._turns[remote]

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        remote = str(peer[0]) if peer else ""
        refusal = self._admit(remote)
        if refusal is not None:
            log.info("connection refused", extra={"event": "connection_refused", "remote_addr": remote})
            with contextlib.suppress(Exception):
                writer.write(response("BYE", refusal))
                writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._converse(reader, writer, self.session_factory(remote), self._turns[remote])
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                writer.write(response("BYE", SHUTDOWN_BYE))
        except (ConnectionError, ssl.SSLError, OSError, TimeoutError) as exc:
            log.debug("connection lost", extra={"event": "connection_lost", "error": repr(exc)})
        finally:
            try:  # close() waits for the closing handshake too: the task leaves the set last
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.drain(), 2)
                    writer.close()
                    await asyncio.wait_for(writer.wait_closed(), 2)
            finally:
                self._connections.discard(task)
                self._release(remote)

    def _wait(self, session: Session, deadline: float) -> tuple[float, str]:
        """How long the next read or write may wait, and the ``BYE`` text when it times out."""
        idle = self.settings.idle_timeout
        if session.user is not None:
            return idle, IDLE_BYE
        left = max(deadline - asyncio.get_running_loop().time(), 0.0)
        return (left, AUTH_TIMEOUT_BYE) if left < idle else (idle, IDLE_BYE)

    async def _handle(self, session: Session, line: list[Token], turn: asyncio.Semaphore) -> Reply:
        """Run one command in the pool; a failure of ours is ``NO (TRYLATER)`` (RFC 5804 §1.3), logged."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with turn:  # the address's turn
                reply: Reply = await loop.run_in_executor(self._executor, session.handle, line)
        except Exception:
            log.exception("command failed", extra={"event": "managesieve_error"})
            return Reply(response("NO", INTERNAL_ERROR, "TRYLATER"))
        if reply.failed_login:
            await asyncio.sleep(max(started + self.settings.failure_delay - loop.time(), 0.0))
        return reply

    async def _receive(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        wire: Reader,
        wait: tuple[float, str],
    ) -> bool:
        """Feed ``wire`` what arrives within ``wait[0]`` seconds; False when the client left, or after ``BYE``
        with the text ``wait[1]`` when it said nothing in time."""
        timeout, bye = wait
        try:  # asyncio.timeout, not wait_for: wait_for may swallow the cancellation of close()
            async with asyncio.timeout(timeout):
                data = await reader.read(1 << 16)
        except TimeoutError:
            writer.write(response("BYE", bye))
            return False
        wire.feed(data)
        return bool(data)

    async def _start_tls(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, wire: Reader, timeout: float
    ) -> bool:
        """Upgrade to TLS after ``OK`` to STARTTLS (RFC 5804 §2.2); False (after ``BYE``) when the client
        sent more before the handshake, whose injection §2.2 forbids."""
        assert self.settings.ssl_context is not None
        if wire.pending or len(getattr(reader, "_buffer", b"")):
            writer.write(response("BYE", "Data sent before the TLS handshake."))
            return False
        async with asyncio.timeout(timeout):  # a handshake that never ends counts as idle
            await writer.start_tls(self.settings.ssl_context)
        wire.reset()
        return True

    async def _converse(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session: Session,
        turn: asyncio.Semaphore,
    ) -> None:
        s = self.settings
        wire = Reader(s.max_line, s.max_literal, s.max_skip)
        writer.write(session.greeting())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + s.auth_timeout  # to authenticate (again, after UNAUTHENTICATE)
        while True:
            wire.max_literal = (
                s.max_literal if session.user is not None else min(s.max_literal, s.max_auth_literal)
            )
            try:
                line = wire.next_line()
            except ProtocolViolation as exc:
                writer.write(response("BYE", str(exc)))
                return
            if line is None:
                if not await self._receive(reader, writer, wire, self._wait(session, deadline)):
                    return
                continue
            authenticated = session.user is not None
            reply = await self._handle(session, line, turn)
            if authenticated and session.user is None:
                deadline = loop.time() + s.auth_timeout
            writer.write(reply.data)
            timeout, bye = self._wait(session, deadline)
            if timeout <= 0:  # pipelined commands do not extend the time to authenticate
                writer.write(response("BYE", bye))
                return
            async with asyncio.timeout(timeout):
                await writer.drain()
            if reply.close:
                return
            if reply.starttls and s.ssl_context is not None:
                if not await self._start_tls(reader, writer, wire, self._wait(session, deadline)[0]):
                    return
                writer.write(session.tls_started())
