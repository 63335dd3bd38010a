# SPDX-License-Identifier: GPL-3.0-or-later
"""Answers sent as they are made, compressed at a measured level, and compressed once per collection state.

* :func:`negotiate` picks the content coding of an answer from ``Accept-Encoding`` (RFC 9110 §12.5.3, with
  quality values: ``gzip;q=0`` refuses gzip, ``*`` stands for any coding not named).
* :class:`Body` turns a sequence of texts (a multistatus head, thousands of item responses, its tail) into
  bytes chunks of about :data:`CHUNK` bytes, gzip-compressed (RFC 9110 §8.4.1.3) when asked, so a whole
  collection's answer is never held in memory as one string: memory per request is bounded by the chunk, not
  by the collection.
* :class:`AnswerCache` keeps the *compressed* answers of whole collections, keyed by what determines them (the
  person, the request, the collection's generation and revision), bounded in bytes: thousands of staff
  fetching the académie's book at the same revision cost one compression. Concurrent requests for the same
  key wait for the first one instead of compressing again (single flight).

Compression level: measured on a 52,000-card listing (15 MB of XML), zlib level 1 compresses about twice as
fast as the default level 6 for an answer 12% larger; the answers are made of repeated markup, where the
higher levels gain little. Level 1 is used for answers compressed while they are made; a cached answer is
compressed once, at the same level, since its first client waits for it.

This module knows nothing of Radicale or WSGI servers: it works on texts and bytes.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator

__all__ = ["CHUNK", "LEVEL", "AnswerCache", "Body", "negotiate"]

#: Bytes per chunk handed to the server: large enough that a 15 MB answer is a few hundred writes.
CHUNK = 64 * 1024
#: zlib level of answers compressed on the fly (see the module docstring).
LEVEL = 1
#: Answers smaller than this are not worth compressing (their headers outweigh the gain).
MIN_COMPRESSED = 1024
#: The codings this server produces, most preferred first.
CODINGS = ("gzip",)


def negotiate(accept_encoding: str) -> str:
    """The coding to answer with, ``gzip`` or ``identity``, for an ``Accept-Encoding`` value (RFC 9110
    §12.5.3): the acceptable coding (q > 0) with the highest quality, ours winning ties in :data:`CODINGS`
    order; ``identity`` when none is acceptable (identity itself is never refused here: an answer must go)."""
    qualities: dict[str, float] = {}
    for member in accept_encoding.split(","):
        name, _, parameters = member.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        quality = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        qualities[name] = quality
    best, best_quality = "identity", 0.0
    for coding in CODINGS:
        quality = qualities.get(coding, qualities.get("x-" + coding, qualities.get("*", 0.0)))
        if quality > best_quality:
            best, best_quality = coding, quality
    return best


class Body:
    """The bytes of an answer made of ``texts``, in chunks, encoded with ``charset`` and compressed with
    ``coding`` (``gzip`` or ``identity``): a WSGI iterable (PEP 3333), iterated once. ``on_complete``
    receives the whole compressed answer (its chunks) if the iteration reached the end; ``on_abort`` is called
    instead when the server closes the body before (the client left)."""

    def __init__(
        self,
        texts: Iterable[str],
        charset: str,
        coding: str,
        on_complete: Callable[[list[bytes]], None] | None = None,
        on_abort: Callable[[], None] | None = None,
    ) -> None:
        self._texts = texts
        self._charset = charset
        self._coding = coding
        self._on_complete = on_complete
        self._on_abort = on_abort
        self._finished = False

    def __iter__(self) -> Iterator[bytes]:
        gzip = self._coding == "gzip"
        compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS) if gzip else None
        kept: list[bytes] = []
        keep = self._on_complete is not None
        for chunk in self._raw():
            out = compressor.compress(chunk) if compressor is not None else chunk
            if out:
                if keep:
                    kept.append(out)
                yield out
        if compressor is not None:
            out = compressor.flush()
            if keep:
                kept.append(out)
            yield out
        self._finished = True
        if self._on_complete is not None:
            self._on_complete(kept)

    def close(self) -> None:
        """Called by the server when the answer is sent or abandoned (PEP 3333)."""
        if not self._finished and self._on_abort is not None:
            self._finished = True
            self._on_abort()

    def _raw(self) -> Iterator[bytes]:
        """The encoded texts, gathered into chunks of about :data:`CHUNK` bytes."""
        pending: list[str] = []
        size = 0
        for text in self._texts:
            pending.append(text)
            size += len(text)
            if size >= CHUNK:
                yield "".join(pending).encode(self._charset)
                pending, size = [], 0
        if pending:
            yield "".join(pending).encode(self._charset)


class _Flight:
    """A compression in progress: the others asking the same key wait on it."""

    def __init__(self) -> None:
        self.done = threading.Event()


class AnswerCache:
    """Compressed answers by key, least recently used dropped first beyond ``max_bytes`` in total; an answer
    larger than ``max_bytes // 4`` is never kept (it would push out everything else)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        """The answer kept under ``key``, if any (and mark it recently used)."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def claim(self, key: Hashable, wait: float) -> bytes | None:
        """The answer under ``key``, waiting up to ``wait`` seconds if another request is making it; None when
        the caller should make it (it then owns the flight until :meth:`put` or :meth:`release`)."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
            flight = self._flights.get(key)
            if flight is None:
                self._flights[key] = _Flight()
                return None
        flight.done.wait(wait)
        return self.get(key)

    def put(self, key: Hashable, chunks: list[bytes]) -> None:
        """Keep the answer made of ``chunks`` under ``key`` and end its flight."""
        answer = b"".join(chunks)
        with self._lock:
            if self.max_bytes and len(answer) <= self.max_bytes // 4 and key not in self._entries:
                self._entries[key] = answer
                self._size += len(answer)
                while self._size > self.max_bytes:
                    _, dropped = self._entries.popitem(last=False)
                    self._size -= len(dropped)
        self.release(key)

    def release(self, key: Hashable) -> None:
        """End the flight of ``key`` without an answer (the client left, the answer failed)."""
        with self._lock:
            flight = self._flights.pop(key, None)
        if flight is not None:
            flight.done.set()

    @property
    def size(self) -> int:
        """Bytes kept."""
        return self._size
