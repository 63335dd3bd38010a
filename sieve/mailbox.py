# SPDX-License-Identifier: GPL-3.0-or-later
"""One RFC 5322 mailbox (§3.4: ``[display-name] <addr-spec>`` or ``addr-spec``, comments allowed), as
Pigeonhole reads the ``redirect`` address (RFC 5228 §4.2) and vacation's ``:from`` (RFC 5230 §4.4).

:func:`parse_mailbox` returns the addr-spec or raises :class:`MailboxError` with Pigeonhole's reason
(``invalid or lonely local part 'x' (expecting '@')``, ``not a single address (found ',')``…).
"""

from __future__ import annotations

import re

__all__ = ["MailboxError", "parse_mailbox"]

#: atext (RFC 5322 §3.2.3), and any non-ASCII character (RFC 6532 §3.2).
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\U0010ffff]+")
_DOT_ATOM = re.compile(_ATOM.pattern + r"(?:\." + _ATOM.pattern + r")*")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_LITERAL = re.compile(r"\[[^\[\]\\]*\]")
_PHRASE = re.compile(r"(?:" + _ATOM.pattern + r"|" + _QUOTED.pattern + r"|[ \t.])+", re.DOTALL)


class MailboxError(ValueError):
    """Why a string is not one mailbox."""


def _uncomment(text: str) -> str:
    """The text with comments (RFC 5322 §3.2.2) replaced by a space, quoted strings kept."""
    out: list[str] = []
    depth, quoted, i = 0, False, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and (quoted or depth):
            if not depth:
                out.append(text[i : i + 2])
            i += 2
            continue
        if quoted:
            quoted = ch != '"'
            out.append(ch)
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            out.append(" " if not depth else "")
        elif not depth:
            quoted = ch == '"'
            out.append(ch)
        i += 1
    if depth:
        raise MailboxError("unterminated comment")
    return "".join(out)


def parse_mailbox(text: str) -> str:
    """The addr-spec of ``text`` when it is one mailbox (RFC 5322 §3.4); MailboxError otherwise."""
    value = _uncomment(text).strip()
    if not value:
        raise MailboxError("empty address")
    angle = _angle_start(value)
    if angle < 0:
        return _addr_spec(value)
    if angle and not _PHRASE.fullmatch(value[:angle]):
        raise MailboxError("invalid display name")
    close = value.find(">", angle)
    if close < 0:
        raise MailboxError("missing '>'")
    if value[close + 1 :].strip():
        raise MailboxError("address ends in invalid characters")
    return _addr_spec(value[angle + 1 : close].strip())


def _angle_start(value: str) -> int:
    """Where ``<`` opens outside quoted strings, or -1."""
    quoted = False
    for i, ch in enumerate(value):
        if ch == '"' and (i == 0 or value[i - 1] != "\\"):
            quoted = not quoted
        elif ch == "<" and not quoted:
            return i
    return -1


def _addr_spec(value: str) -> str:
    """``local-part "@" domain`` (RFC 5322 §3.4.1), whitespace around the parts allowed."""
    local = _QUOTED.match(value) or _DOT_ATOM.match(value)
    end = local.end() if local else 0
    rest = value[end:].lstrip()
    if local is None or not rest.startswith("@"):
        word = value[:end] or (value.split() or [value])[0]
        raise MailboxError(f"invalid or lonely local part '{word}' (expecting '@')")
    rest = rest[1:].lstrip()
    domain = _DOT_ATOM.match(rest) or _LITERAL.match(rest)
    if domain is None:
        raise MailboxError("invalid or missing domain")
    tail = rest[domain.end() :].strip()
    if tail:
        found = tail[0]
        if found == ",":
            raise MailboxError("not a single address (found ',')")
        raise MailboxError("address ends in invalid characters")
    return f"{local.group(0)}@{domain.group(0)}"
