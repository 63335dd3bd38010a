# SPDX-License-Identifier: GPL-3.0-or-later
"""Addresses and ``mailto:`` URIs as Sieve checks them: ``redirect`` targets (RFC 5228 §4.2) and the
recipients of the notify ``mailto`` method (RFC 5436 §2, RFC 6068)."""

from __future__ import annotations

import re
import urllib.parse

__all__ = ["ADDRESS", "mailto_recipients", "mailto_with", "valid_mailto"]

#: A plain ``local@domain`` address, the form ``redirect`` and notify's ``:from`` accept.
ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\Z")


def valid_mailto(uri: str) -> bool:
    """A syntactically valid ``mailto:`` URI (RFC 5436 §2, RFC 6068 §2: the recipients may be left out, as
    Pigeonhole's ``valid_notify_method`` accepts)."""
    return mailto_recipients(uri) is not None


def mailto_recipients(uri: str) -> list[str] | None:
    """The recipients of a ``mailto:`` URI (RFC 6068 §2), or None when it is not a valid one."""
    if uri[:7].lower() != "mailto:":
        return None
    rest = uri[7:]
    to, _, query = rest.partition("?")
    recipients = [urllib.parse.unquote(a) for a in to.split(",") if a]
    for pair in query.split("&") if query else []:
        name, eq, value = pair.partition("=")
        if not eq:
            return None
        if name.lower() == "to":
            recipients.extend(urllib.parse.unquote(a) for a in value.split(",") if a)
    return recipients if all(ADDRESS.match(a.strip()) for a in recipients) else None


def mailto_with(uri: str, recipients: list[str]) -> str:
    """``uri`` (a valid ``mailto:`` URI) sent to ``recipients`` only: its other header fields kept, its ``to``
    fields dropped (RFC 6068 §2)."""
    query = uri[7:].partition("?")[2]
    fields = [p for p in query.split("&") if p and p.partition("=")[0].lower() != "to"]
    to = ",".join(urllib.parse.quote(r, safe="@!$'*+-._~") for r in recipients)
    return f"mailto:{to}" + ("?" + "&".join(fields) if fields else "")
