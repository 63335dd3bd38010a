# SPDX-License-Identifier: GPL-3.0-or-later
"""``overload.py``'s attackers: idle and slow-header TCP connections held open from one thread in a process.

One child process (so that its work does not take the measuring client's GIL) runs one thread with a
:mod:`selectors` loop over non-blocking sockets:

* an *idle* connection connects and sends nothing;
* a *slow* connection sends a request one byte every ``interval`` seconds (jittered per connection): a request
  line, a ``Host`` header, then ``X-Slow: a`` header lines without end (a slowloris client).

Each connection is bound to a source address of its own range (127.0.0.2, 127.0.0.3…: Linux routes all of
127/8 to loopback), at most ``per_address`` to an address, so that a per-address bound does not simply refuse
them. When the server closes one (or a connect fails or takes over 10 s), it is opened again a moment later,
to keep the pressure on. The process publishes counters in shared memory; :func:`count_connections` reads
``/proc/net/tcp`` to tell which of them the server has *accepted* (a socket still in the listen queue has no
inode yet) from those only the attacker's side sees as established.
"""

from __future__ import annotations

import multiprocessing
import random
import resource
import selectors
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from _common import BenchmarkError

__all__ = ["Attack", "attacker_sources", "count_connections"]

# Linux: bind the source address now and choose the port at connect(), so that thousands of connections bound
# to a few addresses do not run out of ports at bind() time.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
SLOW_PREFIX = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
SLOW_LINE = b"X-Slow: a\r\n"
CONNECT_TIMEOUT = 10.0
MAX_PENDING = 200  # connects in progress at once
REOPEN_DELAY = 0.2
RETRY_DELAY = 1.0

# Shared counters written by the attack process: connected now, connecting now, opened in all, closed by the
# server in all, failed connects in all, bytes sent in all.
IDLE_OPEN, SLOW_OPEN, PENDING, OPENED, CLOSED_BY_SERVER, CONNECT_FAILED, BYTES_SENT = range(7)
COUNTERS = ("idle_open", "slow_open", "pending", "opened", "closed_by_server", "connect_failed", "bytes_sent")


def attacker_sources(count: int, per_address: int, first: int = 2) -> list[str]:
    """The source address of each of ``count`` connections: ``per_address`` each from 127.0.0.``first`` up."""
    addresses = [first + i // per_address for i in range(count)]
    if addresses and addresses[-1] > 254:
        raise ValueError(f"{count} connections at {per_address} per address need more than 127.0.0.2-254")
    return [f"127.0.0.{n}" for n in addresses]


@dataclass
class _Slot:
    """One attacking connection and its state."""

    slow: bool
    source: str
    sock: socket.socket | None = None
    connected: bool = False
    since: float = 0.0
    retry_at: float = 0.0
    next_byte_at: float = 0.0
    sent: int = 0


class _AttackLoop:
    """The selector loop of the attack process."""

    def __init__(self, port: int, slots: list[_Slot], interval: float, counters: Any) -> None:
        self.port, self.interval, self.counters = port, interval, counters
        self.selector = selectors.DefaultSelector()
        self.random = random.Random(13)
        # Idle and slow connections in a mixed order, so that when a full listen queue lets only some
        # through, both kinds are among them.
        self.slots = list(slots)
        self.random.shuffle(self.slots)

    def run(self, stop: Any) -> None:
        """Open, hold and reopen every slot's connection until ``stop`` is set; then close them all."""
        try:
            while not stop.is_set():
                now = time.monotonic()
                pending = sum(1 for s in self.slots if s.sock is not None and not s.connected)
                for slot in self.slots:
                    if slot.sock is None:
                        if slot.retry_at <= now and pending < MAX_PENDING:
                            pending += self._open(slot, now)
                    elif not slot.connected:
                        if now - slot.since > CONNECT_TIMEOUT:
                            self._drop(slot, now, CONNECT_FAILED)
                    elif slot.slow and slot.next_byte_at <= now:
                        self._send_byte(slot, now)
                for key, events in self.selector.select(timeout=0.05):
                    self._event(key.data, events, time.monotonic())
                self._publish()
        finally:
            for slot in self.slots:
                if slot.sock is not None:
                    slot.sock.close()
            self.selector.close()

    def _open(self, slot: _Slot, now: float) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((slot.source, 0))
            sock.connect_ex(("127.0.0.1", self.port))
        except OSError:
            sock.close()
            slot.retry_at = now + RETRY_DELAY
            self.counters[CONNECT_FAILED] += 1
            return 0
        slot.sock, slot.connected, slot.since, slot.sent = sock, False, now, 0
        self.selector.register(sock, selectors.EVENT_WRITE | selectors.EVENT_READ, slot)
        self.counters[OPENED] += 1
        return 1

    def _drop(self, slot: _Slot, now: float, counter: int) -> None:
        if slot.sock is not None:
            self.selector.unregister(slot.sock)
            slot.sock.close()
        slot.sock, slot.connected = None, False
        slot.retry_at = now + (REOPEN_DELAY if counter == CLOSED_BY_SERVER else RETRY_DELAY)
        self.counters[counter] += 1

    def _event(self, slot: _Slot, events: int, now: float) -> None:
        sock = slot.sock
        if sock is None:
            return
        if not slot.connected:
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                self._drop(slot, now, CONNECT_FAILED)
                return
            slot.connected = True
            slot.next_byte_at = now + self.random.uniform(0, self.interval)
            self.selector.modify(sock, selectors.EVENT_READ, slot)
            return
        if events & selectors.EVENT_READ:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:  # the server closed it (an answer, if any, was read and dropped before)
                self._drop(slot, now, CLOSED_BY_SERVER)

    def _send_byte(self, slot: _Slot, now: float) -> None:
        assert slot.sock is not None
        if slot.sent < len(SLOW_PREFIX):
            byte = SLOW_PREFIX[slot.sent : slot.sent + 1]
        else:
            offset = (slot.sent - len(SLOW_PREFIX)) % len(SLOW_LINE)
            byte = SLOW_LINE[offset : offset + 1]
        try:
            slot.sock.send(byte)
        except BlockingIOError:
            pass
        except OSError:
            self._drop(slot, now, CLOSED_BY_SERVER)
            return
        else:
            slot.sent += 1
            self.counters[BYTES_SENT] += 1
        slot.next_byte_at = now + self.interval * self.random.uniform(0.8, 1.2)

    def _publish(self) -> None:
        idle = slow = pending = 0
        for slot in self.slots:
            if slot.sock is None:
                continue
            if not slot.connected:
                pending += 1
            elif slot.slow:
                slow += 1
            else:
                idle += 1
        self.counters[IDLE_OPEN], self.counters[SLOW_OPEN], self.counters[PENDING] = idle, slow, pending


def _attack_main(port: int, slots: list[_Slot], interval: float, counters: Any, stop: Any) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = len(slots) + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    _AttackLoop(port, slots, interval, counters).run(stop)


class Attack:
    """``idle`` idle and ``slow`` slow-header connections to ``127.0.0.1:port``, held by a child process.

    ``with Attack(port, 1000, 300) as attack: attack.wait_open(60); ... attack.stats()``.
    """

    def __init__(self, port: int, idle: int, slow: int, per_address: int = 50, interval: float = 1.0) -> None:
        sources = attacker_sources(idle + slow, per_address)
        self.port, self.idle, self.slow, self.interval = port, idle, slow, interval
        self.sources = sorted(set(sources))
        self._slots = [_Slot(slow=i >= idle, source=source) for i, source in enumerate(sources)]
        context = multiprocessing.get_context("fork")
        self._counters: Any = context.Array("q", len(COUNTERS), lock=False)
        self._stop = context.Event()
        self._process = context.Process(
            target=_attack_main,
            args=(port, self._slots, interval, self._counters, self._stop),
            name="overload-attack",
            daemon=True,
        )

    def start(self) -> None:
        """Start the attack process."""
        self._process.start()

    def stats(self) -> dict[str, int]:
        """The attack process's counters now (see :data:`COUNTERS`)."""
        return {name: int(self._counters[i]) for i, name in enumerate(COUNTERS)}

    def open_now(self) -> int:
        """Attacking connections established now, from the attackers' side."""
        stats = self.stats()
        return stats["idle_open"] + stats["slow_open"]

    def wait_open(self, timeout: float, stall: float = 5.0) -> float:
        """Wait until every attacker is connected, their count has not grown for ``stall`` s (the server's
        listen queue is full) or ``timeout`` s have passed; return the seconds waited."""
        started = last_growth = time.monotonic()
        best = 0
        while (now := time.monotonic()) - started < timeout and now - last_growth < stall:
            if not self._process.is_alive():
                raise BenchmarkError(f"the attack process died ({self._process.exitcode})")
            current = self.open_now()
            if current >= self.idle + self.slow:
                break
            if current > best:
                best, last_growth = current, now
            time.sleep(0.1)
        return time.monotonic() - started

    def stop(self) -> None:
        """Close every attacking connection and end the process."""
        self._stop.set()
        self._process.join(timeout=15)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _hex_address(address: str) -> str:
    """``127.0.0.2`` as ``/proc/net/tcp`` writes it on a little-endian machine (``0200007F``)."""
    packed = socket.inet_aton(address)
    return (packed[::-1] if socket.htonl(1) != 1 else packed).hex().upper()


def count_connections(port: int, sources: list[str]) -> tuple[int, int]:
    """Established TCP connections between ``sources`` and ``127.0.0.1:port``: (accepted by the server,
    established on the attackers' side).

    A connection still waiting in the server's listen queue is established on both sides but its server side
    has inode 0 in ``/proc/net/tcp`` until the server calls ``accept()``. The file is not read atomically (a
    line can appear twice while connections come and go), so connections are counted by their addresses.
    """
    wanted = {_hex_address(source) for source in sources}
    port_hex = f"{port:04X}"
    accepted: set[str] = set()
    established: set[str] = set()
    for line in Path("/proc/net/tcp").read_text(encoding="ascii").splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != "01":
            continue
        local_ip, _, local_port = fields[1].partition(":")
        remote_ip, _, remote_port = fields[2].partition(":")
        if local_port == port_hex and remote_ip in wanted and fields[9] != "0":
            accepted.add(fields[2])
        elif remote_port == port_hex and local_ip in wanted:
            established.add(fields[1])
    return len(accepted), len(established)
