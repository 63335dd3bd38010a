# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether to send a vacation reply, and the reply to send (RFC 5230 §4–§5, RFC 3834).

The evaluator only says *that* the script asked for a reply (:class:`~actions.Vacation`); delivery asks
:func:`decide` whether the suppression rules allow it — looking at the message as received, never at what
other rules did to it — and builds the reply with :func:`build_reply`. The once-per-period memory is a
:class:`~host.ReplyTracker`, which must check and record atomically.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage

from .actions import Vacation
from .host import Environment, ReplyTracker
from .message import MessageFacts, parse_addresses

__all__ = ["Decision", "build_reply", "decide", "tracking_key"]

#: Senders that are never answered (RFC 3834 §2, RFC 5230 §4.6).
_SYSTEM_SENDER = re.compile(
    r"^(mailer-daemon|postmaster|listserv|majordomo|owner-.*|.*-request|.*-owner|.*-bounces?(\+.*)?|no-?reply)@",
    re.IGNORECASE,
)
_LIST_HEADERS = (
    "list-id",
    "list-help",
    "list-subscribe",
    "list-unsubscribe",
    "list-post",
    "list-owner",
    "list-archive",
)
_RECIPIENT_HEADERS = ("to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc")


@dataclass(frozen=True, slots=True)
class Decision:
    """Send or not, why not (for the log), and the tracker key reserved for the reply when sending."""

    send: bool
    reason: str = ""
    key: str = ""


def tracking_key(action: Vacation, sender: str) -> str:
    """The key remembered per user: the handle (RFC 5230 §4.2) and the sender, case-folded."""
    return f"vacation\0{action.handle}\0{sender.lower()}"


def _addressed_to_user(msg: MessageFacts, mine: set[str]) -> bool:
    for name in _RECIPIENT_HEADERS:
        for raw in msg.header_raw(name):
            for local, domain in parse_addresses(raw) or []:
                if f"{local}@{domain}".lower() in mine:
                    return True
    return False


def _suppressed(action: Vacation, msg: MessageFacts, env: Environment, mine: set[str]) -> str:
    sender = env.envelope_from.strip().strip("<>")
    if not sender or sender.upper() == "MAILER-DAEMON":
        return "null envelope sender (RFC 5230 §4.6)"
    if _SYSTEM_SENDER.match(sender):
        return "sender is a system or list address (RFC 3834 §2)"
    if sender.lower() in mine:
        return "sender is the user (RFC 5230 §4.6)"
    auto = msg.header("auto-submitted")
    if auto and auto[0].split(";")[0].strip().lower() != "no":
        return "message is auto-submitted (RFC 3834 §2)"
    if any(msg.header_raw(h) for h in _LIST_HEADERS):
        return "message comes from a mailing list (RFC 5230 §4.6)"
    precedence = [p.strip().lower() for p in msg.header("precedence")]
    if any(p in ("bulk", "list", "junk") for p in precedence):
        return "message is bulk mail (RFC 3834 §2)"
    if not _addressed_to_user(msg, mine):
        return "user is not a visible recipient (RFC 5230 §4.5)"
    return ""


def decide(
    action: Vacation,
    message: MessageFacts,
    env: Environment,
    tracker: ReplyTracker,
    user_addresses: Iterable[str] = (),
) -> Decision:
    """Apply the suppression rules, then the once-per-period rule (checked and recorded atomically).

    A reply allowed is recorded at once under :attr:`Decision.key`, so that two messages delivered at the
    same time get one reply; delivery forgets the key again when the reply is not sent, and records it anew
    when the relay accepts it (RFC 5230 §4.2: the period starts with a reply that was sent).
    """
    mine = {a.lower() for a in (env.envelope_to, *user_addresses, *action.addresses) if a}
    why = _suppressed(action, message, env, mine)
    if why:
        return Decision(False, why)
    sender = env.envelope_from.strip().strip("<>")
    key = tracking_key(action, sender)
    if tracker.check_and_record(key, action.seconds, env.now):
        return Decision(False, "already replied to this sender within the period (RFC 5230 §4.1)")
    return Decision(True, key=key)


def build_reply(action: Vacation, message: MessageFacts, env: Environment) -> EmailMessage:
    """The reply (RFC 5230 §5): From, To the envelope sender, Subject, In-Reply-To, References,
    Auto-Submitted."""
    reply = EmailMessage()
    reply["From"] = action.from_addr or env.envelope_to
    reply["To"] = env.envelope_from.strip().strip("<>")
    reply["Subject"] = action.subject
    reply["Date"] = email.utils.format_datetime(env.now)
    reply["Message-ID"] = email.utils.make_msgid()
    message_id = message.header("message-id")
    if message_id:
        reply["In-Reply-To"] = message_id[0]
        references = " ".join(message.header("references") + [message_id[0]])
        reply["References"] = references
    reply["Auto-Submitted"] = "auto-replied (vacation)"
    reply["Precedence"] = "bulk"
    if action.mime:
        head, _, body = action.reason.replace("\r\n", "\n").partition("\n\n")
        for line in head.splitlines():
            name, _, value = line.partition(":")
            if name.strip().lower() in ("content-type", "content-transfer-encoding"):
                reply[name.strip()] = value.strip()
        reply.set_payload(body)
        reply["MIME-Version"] = "1.0"
    else:
        reply.set_content(action.reason)
    return reply
