# SPDX-License-Identifier: GPL-3.0-or-later
"""A directory outage, answered once at the HTTP edge: ``503 Service Unavailable`` with ``Retry-After``
(RFC 9110 §15.6.4, §10.2.3) instead of a 500, for a login the accounts cache cannot vouch for."""

from __future__ import annotations

import logging
from http import client

from groupware.errors import DirectoryUnavailable

__all__ = ["unavailable"]

log = logging.getLogger("groupware.server")


def unavailable(exc: DirectoryUnavailable) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    """The WSGI answer (status line, headers, body) to a request the directory's outage stopped."""
    log.error("directory unavailable", extra={"event": "directory_down", "error": str(exc)})
    body = b"The directory is unreachable; please retry later.\n"
    status = f"{client.SERVICE_UNAVAILABLE} {client.responses[client.SERVICE_UNAVAILABLE]}"
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Retry-After", str(exc.retry_after)),
    ]
    return status, headers, [body]
