# SPDX-License-Identifier: GPL-3.0-or-later
"""ManageSieve wire format, sans-IO: bytes in, command lines out; responses as bytes (RFC 5804 §4).

:class:`Reader` is fed whatever the network delivered and hands back complete lines as token lists: atoms
(:class:`Atom`), strings (``bytes``; quoted strings with ``\\\\`` and ``\\"`` escapes, or literals ``{n+}``
and ``{n}`` — RFC 5804 §4 lets clients send only non-synchronising literals, and we take both without a
continuation, as Pigeonhole does) and numbers (``int``). Sizes are bounded: a line (without its literals)
longer than ``max_line`` or a literal longer than ``max_skip`` is a :class:`ProtocolViolation` (answered with
``BYE``); a literal longer than ``max_literal`` but within ``max_skip`` is read and dropped, and stands as
:class:`Oversized` so that the command can be refused with ``NO (QUOTA/MAXSIZE)``.

The functions at the end build responses (RFC 5804 §1.2, §4): ``OK``/``NO``/``BYE`` with an optional response
code and a human-readable string, quoted when it can be and a literal otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Atom",
    "Oversized",
    "ProtocolViolation",
    "Reader",
    "Token",
    "literal",
    "response",
    "string",
]


class Atom(str):
    """A bare word: a command name, ``ACTIVE``, a capability name (RFC 5804 §4 ``atom``)."""


@dataclass(frozen=True, slots=True)
class Oversized:
    """A literal that exceeded ``max_literal``: its octets were read and dropped."""

    size: int


Token = Atom | bytes | int | Oversized


class ProtocolViolation(Exception):
    """The client broke the wire format beyond recovery; the server answers ``BYE`` and closes."""


_LITERAL_END = re.compile(rb"\{(\d{1,10})(\+?)\}\Z")
_ATOM = re.compile(rb"[^\s\"{}()%*\\]+")
_NUMBER = re.compile(rb"\d{1,10}")


class Reader:
    """Turns received bytes into lines of tokens (RFC 5804 §4 ``command``)."""

    def __init__(
        self, max_line: int = 8192, max_literal: int = 1 << 20, max_skip: int = 16 << 20, max_tokens: int = 16
    ) -> None:
        self.max_line, self.max_literal, self.max_skip, self.max_tokens = (
            max_line,
            max_literal,
            max_skip,
            max_tokens,
        )
        self._buffer = bytearray()
        self._tokens: list[Token] = []
        self._literal: int | None = None  # size of the literal announced at the end of the last segment
        self._skip_left = 0  # octets of an oversized literal still to drop
        self._line_octets = 0

    def feed(self, data: bytes) -> None:
        """Add received bytes."""
        self._buffer += data

    @property
    def pending(self) -> bool:
        """Whether bytes beyond the last complete line were received."""
        return bool(self._buffer) or bool(self._tokens) or self._literal is not None

    def reset(self) -> None:
        """Forget everything buffered (after STARTTLS, RFC 5804 §2.2: nothing sent before it may count)."""
        self._buffer.clear()
        self._tokens, self._literal, self._line_octets = [], None, 0

    def next_line(self) -> list[Token] | None:
        """The next complete line, or None when more bytes are needed.

        Raises:
            ProtocolViolation: a line or literal too long, a malformed string, too many arguments.
        """
        while True:
            if self._literal is not None:
                if not self._take_literal():
                    return None
                continue
            end = self._buffer.find(b"\n")  # CRLF, or a bare LF as Pigeonhole also accepts
            if end < 0:
                if self._line_octets + len(self._buffer) > self.max_line:
                    raise ProtocolViolation("Command line too long.")
                return None
            segment = bytes(self._buffer[:end]).removesuffix(b"\r")
            del self._buffer[: end + 1]
            self._line_octets += len(segment)
            if self._line_octets > self.max_line:
                raise ProtocolViolation("Command line too long.")
            if self._tokenize(segment):
                continue  # a literal follows
            line, self._tokens, self._line_octets = self._tokens, [], 0
            return line

    def _take_literal(self) -> bool:
        assert self._literal is not None
        size = self._literal
        if size <= self.max_literal:
            if len(self._buffer) < size:
                return False
            self._add(bytes(self._buffer[:size]))
            del self._buffer[:size]
            self._literal = None
            return True
        # an oversized literal: drop what has arrived, remember how much is still to come
        dropped = min(len(self._buffer), self._skip_left)
        del self._buffer[:dropped]
        self._skip_left -= dropped
        if self._skip_left:
            return False
        self._add(Oversized(size))
        self._literal = None
        return True

    def _add(self, token: Token) -> None:
        if len(self._tokens) >= self.max_tokens:
            raise ProtocolViolation("Too many command arguments.")
        self._tokens.append(token)

    def _tokenize(self, segment: bytes) -> bool:
        """Tokens of one CRLF-terminated segment; True when it ends with a literal's announcement."""
        pos, n = 0, len(segment)
        while pos < n:
            ch = segment[pos : pos + 1]
            if ch == b" ":
                pos += 1
            elif ch == b'"':
                pos = self._quoted(segment, pos + 1)
            elif ch == b"{":
                match = _LITERAL_END.match(segment, pos)
                if match is None:
                    raise ProtocolViolation("Malformed literal: expected {n} or {n+} at the end of a line.")
                size = int(match.group(1))
                if size > self.max_skip:
                    raise ProtocolViolation(f"Literal too large ({size} octets).")
                self._literal, self._skip_left = size, size
                return True
            else:
                match = _ATOM.match(segment, pos)
                if match is None:
                    raise ProtocolViolation(f"Unexpected character {ch!r}.")
                word = match.group(0)
                self._add(int(word) if _NUMBER.fullmatch(word) else Atom(word.decode("utf-8", "replace")))
                pos = match.end()
        return False

    def _quoted(self, segment: bytes, pos: int) -> int:
        out = bytearray()
        n = len(segment)
        while pos < n:
            ch = segment[pos]
            if ch == 0x22:  # closing quote
                self._add(bytes(out))
                return pos + 1
            if ch == 0x5C:  # backslash: only \\ and \" (RFC 5804 §4 QUOTED-SPECIALS)
                if pos + 1 >= n or segment[pos + 1] not in b'\\"':
                    raise ProtocolViolation("Malformed quoted string: bad escape.")
                pos += 1
                ch = segment[pos]
            elif ch == 0:
                raise ProtocolViolation("Malformed quoted string: NUL octet.")
            out.append(ch)
            pos += 1
        raise ProtocolViolation("Malformed quoted string: no closing quote.")


# -- responses (RFC 5804 §1.2, §4) -------------------------------------------------------------------------


def literal(data: bytes) -> bytes:
    """A server literal ``{n}CRLF`` followed by the octets (RFC 5804 §4 ``literal-s2c``)."""
    return b"{%d}\r\n" % len(data) + data


def string(text: str | bytes) -> bytes:
    """A string as a quoted string when it can be one (≤ 1024 octets, no CR, LF or NUL), else a literal."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if len(data) > 1024 or any(c in data for c in b"\r\n\0"):
        return literal(data)
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def response(status: str, text: str | bytes | None = None, code: str | bytes | None = None) -> bytes:
    """``OK``, ``NO`` or ``BYE`` with an optional response code (already formatted) and message."""
    parts = [status.encode()]
    if code:
        parts.append(b"(" + (code.encode() if isinstance(code, str) else code) + b")")
    if text is not None:
        parts.append(string(text))
    return b" ".join(parts) + b"\r\n"
