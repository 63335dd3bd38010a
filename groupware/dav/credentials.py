# SPDX-License-Identifier: GPL-3.0-or-later
"""Basic credentials checked for form before anyone reads them (RFC 7617 §2): base64 of ``user-id ":"
password`` with no control character in either. A header that breaks the form is answered ``401`` with the
challenge and the reason, as a failed login is, instead of the 500 its parse would raise further in."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from http import client
from typing import Any

__all__ = ["basic_credentials_problem", "unauthorized"]

log = logging.getLogger("groupware.server")

#: RFC 7617 §2: user-id and password are TEXT without CTLs (RFC 5234 §B.1: %x00-1F / %x7F).
_CONTROLS = frozenset(range(0x20)) | {0x7F}


def basic_credentials_problem(environ: Mapping[str, Any]) -> str | None:
    """Why the ``Authorization: Basic`` header of ``environ`` is malformed, or None (also when absent)."""
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    if header[:5].lower() != "basic":
        return None
    token = header[5:]
    if token[:1] not in (" ", ""):
        return "the Basic scheme is followed by a space and the credentials (RFC 7617 §2)"
    try:
        decoded = base64.b64decode(token.strip().encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        return "the Basic credentials are not base64 (RFC 7617 §2)"
    if b":" not in decoded:
        return "the Basic credentials have no colon between user-id and password (RFC 7617 §2)"
    if any(byte in _CONTROLS for byte in decoded):
        return "the Basic credentials hold a control character (RFC 7617 §2)"
    return None


def unauthorized(reason: str, realm: str) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    """The WSGI answer to malformed credentials: 401 with the Basic challenge (RFC 7235 §3.1)."""
    log.info("malformed credentials", extra={"event": "bad_credentials", "reason": reason})
    body = f"{reason}\n".encode()
    realm_text = realm.replace("\\", "\\\\").replace('"', '\\"')
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("WWW-Authenticate", f'Basic realm="{realm_text}", charset="UTF-8"'),
    ]
    return f"{client.UNAUTHORIZED} {client.responses[client.UNAUTHORIZED]}", headers, [body]
