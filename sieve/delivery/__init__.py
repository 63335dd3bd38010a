# SPDX-License-Identifier: GPL-3.0-or-later
"""Mail delivery: an LMTP server (RFC 2033) that runs each recipient's Sieve scripts and stores into
Maildir++.

``lmtp`` is the protocol (sans-IO core and asyncio server), ``execute`` runs the scripts and carries out their
actions, ``maildir`` stores as Dovecot does, ``relay`` sends redirects and replies (CRLF, SMTPUTF8 and
8BITMIME as needed), ``outgoing`` queues them on disk while the relay fails, ``replies`` remembers who got a
vacation reply (RFC 5230 §4.2).
"""

from .execute import Delivery, Incoming, Outcome, Plan, ScriptSource, edit_headers, run_sequence
from .lmtp import LmtpConnection, LmtpServer, LmtpSettings, MessageReady, RecipientCheck, Reply
from .maildir import InvalidFolder, Maildir, decode_mutf7, encode_mutf7, folder_path
from .outgoing import FlushReport, Outgoing, OutgoingQueue, QueueEntry, RetryPolicy
from .relay import (
    Relay,
    RelayError,
    RelayExtensionMissing,
    RelayPermanentError,
    RelayTemporaryError,
    canonical_crlf,
    extensions_needed,
)
from .replies import SqliteReplyTracker

__all__ = [
    "Delivery",
    "FlushReport",
    "Incoming",
    "InvalidFolder",
    "LmtpConnection",
    "LmtpServer",
    "LmtpSettings",
    "Maildir",
    "MessageReady",
    "Outcome",
    "Outgoing",
    "OutgoingQueue",
    "Plan",
    "QueueEntry",
    "RecipientCheck",
    "Relay",
    "RelayError",
    "RelayExtensionMissing",
    "RelayPermanentError",
    "RelayTemporaryError",
    "Reply",
    "RetryPolicy",
    "ScriptSource",
    "SqliteReplyTracker",
    "canonical_crlf",
    "decode_mutf7",
    "edit_headers",
    "encode_mutf7",
    "extensions_needed",
    "folder_path",
    "run_sequence",
]
