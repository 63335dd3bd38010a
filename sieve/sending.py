# SPDX-License-Identifier: GPL-3.0-or-later
"""The commands by which a message or its content leaves the server: ``redirect`` (RFC 5228 §4.2),
``vacation`` (RFC 5230, RFC 6131) and ``notify`` (RFC 5435, RFC 5436). What the site allows them is checked
after compiling, from the facts noted here (:mod:`.checks`), and again at delivery.
"""

from __future__ import annotations

import re

from . import actions as A
from .binding import Bound, Builder
from .errors import SieveRuntimeError
from .mailbox import MailboxError, parse_mailbox
from .mailto import ADDRESS as _ADDRESS
from .mailto import mailto_recipients
from .program import Context, Op, Value

__all__ = ["notify", "redirect", "vacation"]


def _const(value: Value) -> str | None:
    return value if isinstance(value, str) else None


def redirect(c: Builder, b: Bound, depth: int) -> Op:
    """RFC 5228 §4.2: the address is one RFC 5322 mailbox (a display name allowed, as in Pigeonhole); the
    message goes to its addr-spec."""
    address, copy = c.string(b.pos[0]), "copy" in b.tags
    const = _const(address)
    target = None
    if const is not None:
        try:
            target = parse_mailbox(const)
        except MailboxError as exc:
            c.error(b.pos[0] or b.node, f"specified redirect address '{const}' is invalid: {exc}")
    c.note("redirect", b.pos[0] or b.node, target if const is not None else None)

    def op(ctx: Context) -> None:
        if target is not None:
            ctx.result.redirect(target, copy)
            return
        text = ctx.expand(address)
        try:
            ctx.result.redirect(parse_mailbox(text), copy)
        except MailboxError as exc:
            raise SieveRuntimeError(f"specified redirect address '{text}' is invalid: {exc}") from exc

    return op


def _vacation_seconds(c: Builder, b: Bound) -> int:
    """The period (RFC 5230 §4.1, RFC 6131 §2) raised or lowered into the site's bounds, never refused, as
    Pigeonhole does (``:days 0`` is the minimum)."""
    if "seconds" in b.tags:
        seconds = c.number(b.tags["seconds"])
    else:
        seconds = c.number(b.tags["days"]) * 86400 if "days" in b.tags else 7 * 86400
    low, high = c.policy.min_vacation_seconds, c.policy.max_vacation_seconds
    return min(max(seconds, low), high)


def _check_vacation_from(c: Builder, b: Bound, sender: Value | None) -> None:
    """RFC 5230 §4.4: ``:from`` must be one mailbox; a literal one that is not is a compile error, worded
    as Pigeonhole's."""
    if sender is None:
        return
    if isinstance(sender, str):
        try:
            parse_mailbox(sender)
        except MailboxError as exc:
            message = f"specified :from address '{sender}' is invalid for vacation action: {exc}"
            c.error(b.tags["from"] or b.node, message)
            return
    c.note("vacation-from", b.tags["from"] or b.node, _addr_spec(sender))


def _addr_spec(value: Value) -> str | None:
    """The address of a literal mailbox for the forwarding policy (None: computed; the text if unparsable)."""
    if not isinstance(value, str):
        return None
    try:
        return parse_mailbox(value)
    except MailboxError:
        return value


def _vacation_from(text: str) -> str | None:
    """A computed ``:from`` that is not one mailbox is ignored (the reply gets the default From)."""
    try:
        parse_mailbox(text)
    except MailboxError:
        return None
    return text


def vacation(c: Builder, b: Bound, depth: int) -> Op:
    reason = c.string(b.pos[0])
    subject = c.string(b.tags["subject"]) if "subject" in b.tags else None
    sender = c.string(b.tags["from"]) if "from" in b.tags else None
    addresses = c.strings(b.tags["addresses"]) if "addresses" in b.tags else ()
    handle = c.string(b.tags["handle"]) if "handle" in b.tags else None
    mime, seconds = "mime" in b.tags, _vacation_seconds(c, b)
    _check_vacation_from(c, b, sender)
    if handle is not None:
        c.note("vacation-handle", b.tags["handle"] or b.node, _const(handle))
    parts = (handle,) if handle is not None else (reason, subject, sender)
    computed = any(v is not None and not isinstance(v, str) for v in parts)
    for value in addresses:
        c.note("vacation-address", b.tags["addresses"] or b.node, _addr_spec(value))

    def op(ctx: Context) -> None:
        text = ctx.expand(reason)
        subj = ctx.expand(subject) if subject is not None else None
        frm = sender if sender is None or isinstance(sender, str) else _vacation_from(ctx.expand(sender))
        if handle is not None:
            key = ctx.expand(handle)
        else:
            key = (
                text
                + (subj or "<default-subject>")
                + (frm or "<default-from>")
                + ("<MIME>" if mime else "<NO-MIME>")
            )
        if subj is None or subj == "":  # RFC 5230 §5.3, Pigeonhole's default, from the message received
            original = ctx.msg.received_header("subject")
            subj = f"Auto: {original}" if original is not None else "Automated reply"
        ctx.result.add(
            A.Vacation(
                text,
                subj,
                seconds,
                key,
                frm,
                tuple(ctx.expand_list(addresses)),
                mime,
                subject is not None,
                computed,
            )
        )

    return op


# -- enotify -------------------------------------------------------------------------------------------------
def notify(c: Builder, b: Bound, depth: int) -> Op:
    """``notify`` with the mailto method (RFC 5435 §3, RFC 5436)."""
    method = c.string(b.pos[0])
    sender = c.string(b.tags["from"]) if "from" in b.tags else None
    importance = c.string(b.tags["importance"]) if "importance" in b.tags else "2"
    options = c.strings(b.tags["options"]) if "options" in b.tags else ()
    message = c.string(b.tags["message"]) if "message" in b.tags else None
    const = _const(method)
    c.note("notify", b.pos[0] or b.node, const)
    if sender is not None:
        c.note("notify-from", b.tags["from"] or b.node, _addr_spec(sender))
    if const is not None:
        scheme = const.split(":", 1)[0].lower() if ":" in const else ""
        if scheme != "mailto":
            c.error(b.pos[0] or b.node, f"invalid notify method '{scheme or const}'")
    for option in options:
        if isinstance(option, str) and not re.match(r"[A-Za-z0-9][A-Za-z0-9_.-]*=", option):
            c.error(b.tags["options"] or b.node, f"invalid :options value '{option}' (expected name=value)")
    if isinstance(importance, str) and importance not in ("1", "2", "3"):
        c.error(b.tags["importance"] or b.node, f"invalid :importance value '{importance}'")
    if isinstance(sender, str) and not _ADDRESS.match(sender.strip().strip("<>")) and "<" not in sender:
        c.error(b.tags["from"] or b.node, f"invalid :from address '{sender}'")

    def op(ctx: Context) -> None:
        uri = ctx.expand(method)
        recipients = mailto_recipients(uri)
        if recipients is None:
            raise SieveRuntimeError(f"invalid notify method URI '{uri}'")
        # Without recipients the action stays but has no effect, as in Pigeonhole.
        action = A.Notify(
            uri,
            ctx.expand(sender) if sender is not None else None,
            ctx.expand(importance),
            tuple(ctx.expand_list(options)),
            ctx.expand(message) if message is not None else None,
        )
        ctx.result.add(action)

    return op
