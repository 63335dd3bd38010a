# SPDX-License-Identifier: GPL-3.0-or-later
"""ManageSieve (RFC 5804): a sans-IO protocol core, command handlers and an asyncio server."""

from .commands import Capabilities, Reply, Session
from .protocol import Atom, Oversized, ProtocolViolation, Reader
from .server import ManageSieveServer, ServerSettings

__all__ = [
    "Atom",
    "Capabilities",
    "ManageSieveServer",
    "Oversized",
    "ProtocolViolation",
    "Reader",
    "Reply",
    "ServerSettings",
    "Session",
]
