# SPDX-License-Identifier: GPL-3.0-or-later
"""What stops a request for a while, answered once at the HTTP edge: ``503 Service Unavailable`` with
``Retry-After`` (RFC 9110 §15.6.4, §10.2.3) instead of a 500 — a directory outage, for a login the accounts
cache cannot vouch for, and a database whose write lock stayed taken for its whole busy timeout."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from http import client

from groupware.dav.request import Answer
from groupware.errors import DirectoryUnavailable
from groupware.store.errors import StoreBusy

__all__ = ["WsgiAnswer", "busy", "unavailable", "wsgi_answer"]

log = logging.getLogger("groupware.server")

#: An answer as a WSGI application returns it: status line, headers, body.
WsgiAnswer = tuple[str, list[tuple[str, str]], Iterable[bytes]]


def wsgi_answer(answer: Answer) -> WsgiAnswer:
    """``answer`` (status, headers, body, XML request) as a WSGI answer, for the edge before Radicale's own
    conversion."""
    status, headers, body, _ = answer
    data = body if isinstance(body, bytes) else str(body or "").encode()
    lines = [(str(name), str(value)) for name, value in dict(headers).items()]
    lines.append(("Content-Length", str(len(data))))
    return f"{status} {client.responses.get(status, 'Unknown')}", lines, [data]


def _retry_later(message: str, retry_after: int) -> Answer:
    headers = {"Content-Type": "text/plain; charset=utf-8", "Retry-After": str(retry_after)}
    return client.SERVICE_UNAVAILABLE, headers, f"{message}; please retry later.\n".encode(), None


def unavailable(exc: DirectoryUnavailable) -> WsgiAnswer:
    """The WSGI answer to a request the directory's outage stopped."""
    log.error("directory unavailable", extra={"event": "directory_down", "error": str(exc)})
    return wsgi_answer(_retry_later("The directory is unreachable", exc.retry_after))


def busy(exc: StoreBusy) -> Answer:
    """The answer to a request whose write waited for the database's lock longer than its busy timeout."""
    log.warning("database busy", extra={"event": "database_busy", "path": exc.path})
    return _retry_later("The database is busy", exc.retry_after)
