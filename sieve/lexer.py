# SPDX-License-Identifier: GPL-3.0-or-later
"""Sieve text → tokens (RFC 5228 §2 lexical structure, §8.1 lexical tokens).

One pass over the text with one regular expression tried at each position: white space, hash comments (§2.3,
``#`` to the end of the line) and bracketed comments (``/* … */``, not nested) are skipped; ``#`` inside a
string starts no comment because the string token is matched first. Tokens are identifiers, tags (``:name``,
§2.6.2), numbers with their K/M/G quantifier (§2.4.1), quoted strings with ``\\`` escapes (§2.4.2), multi-line
``text:`` strings with dot-unstuffing (§2.4.2) and the punctuation of §8.1. Line breaks may be CRLF or bare
LF.

Nothing here keeps state between calls: :func:`lex` builds everything it uses, so any number of threads may
lex at once. Positions are character offsets into the text; :class:`Positions` turns them into 1-based line
and column.
"""

from __future__ import annotations

import bisect
import re

from .errors import SieveSyntaxError

__all__ = ["MAX_NUMBER", "Positions", "RawToken", "lex", "number_value"]

#: A token as the parser reads it: ``(kind, value, offset)``. ``kind`` is one of ``ident``, ``tag``,
#: ``number``, ``string``, ``end`` or the punctuation character itself; ``value`` is the identifier, the tag
#: with its colon, the number's text (``2K``), the string's decoded value, or the punctuation character.
RawToken = tuple[str, str, int]

#: The largest number accepted (RFC 5228 §2.4.1 leaves the range to implementations; Pigeonhole's is 64 bits).
MAX_NUMBER = (1 << 63) - 1
_QUANTIFIERS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}

_TOKEN = re.compile(
    r"""[ \t\r\n\f\v]*(?:
      (?P<hash>\#[^\n]*)
    | (?P<comment>/\*)
    | (?P<text>text:)
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<quote>")
    | (?P<tag>:[A-Za-z_][A-Za-z0-9_]*)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<number>[0-9]+[KMGkmg]?)
    | (?P<punct>[\[\](){};,])
    )""",
    re.VERBOSE | re.DOTALL,
)
#: The common tokens, each preceded by its white space, for :func:`_lex_common`; any other character but
#: white space (the last group) is read as itself, so that a search skips nothing.
_COMMON = re.compile(
    r"""([ \t\r\n\f\v]*)(?:
      (\#[^\n]*)
    | "((?:[^"\\]|\\.)*)"
    | (:[A-Za-z_][A-Za-z0-9_]*)
    | ([A-Za-z_][A-Za-z0-9_]*)
    | ([0-9]+[KMGkmg]?)
    | ([\[\](){};,])
    | ([^ \t\r\n\f\v])
    )""",
    re.VERBOSE | re.DOTALL,
)
_BLANKS = re.compile(r"[ \t\r\n\f\v]*")
_COMMENT_END = re.compile(r"\*/")
_TEXT_FIRST_LINE = re.compile(r"[ \t]*(?:#[^\n]*)?\r?\n")
_TEXT_END = re.compile(r"^\.\r?(?:\n|\Z)", re.MULTILINE)
_DOT_STUFFED = re.compile(r"^\.\.", re.MULTILINE)
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")


class Positions:
    """1-based line and character column of offsets into one text (RFC 5228 §2.10.6 asks for located
    errors)."""

    __slots__ = ("last", "starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        self.starts.extend(m.end() for m in re.finditer("\n", text))
        self.last = (0, 0, 0)

    def where(self, pos: int) -> tuple[int, int]:
        """Line and column of ``pos``; offsets come mostly in order, so the previous line is tried first."""
        start, stop, line = self.last
        if not start <= pos < stop:
            index = bisect.bisect_right(self.starts, pos) - 1
            start, line = self.starts[index], index + 1
            stop = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.text) + 1
            self.last = (start, stop, line)
        return line, pos - start + 1

    def error(self, pos: int, message: str) -> SieveSyntaxError:
        """A syntax error located at ``pos``."""
        line, column = self.where(pos)
        return SieveSyntaxError(line, column, message)


def number_value(raw: str) -> int:
    """The value of a number token, its quantifier applied (RFC 5228 §2.4.1)."""
    unit = _QUANTIFIERS.get(raw[-1].lower())
    return int(raw[:-1]) * unit if unit is not None else int(raw)


def _multi_line(text: str, start: int, where: Positions) -> tuple[str, int]:
    """The value of the ``text:`` string at ``start`` and the offset after it (RFC 5228 §2.4.2): the first
    line holds only blanks and perhaps a comment; the string ends at a line holding a lone dot; a line
    starting with two dots loses one."""
    first = _TEXT_FIRST_LINE.match(text, start + 5)
    if first is None:
        raise where.error(start, "expected a line break after 'text:'")
    end = _TEXT_END.search(text, first.end())
    if end is None:
        raise where.error(start, "unterminated text: string (no line with a lone '.')")
    body = text[first.end() : end.start()]
    if ".." in body:
        body = _DOT_STUFFED.sub(".", body)
    return body, end.end()


def _fail(text: str, pos: int, kind: str, where: Positions) -> SieveSyntaxError:
    if kind == "comment":
        return where.error(pos, "unterminated comment (no '*/')")
    if kind == "quote":
        return where.error(pos, "unterminated string (no closing '\"')")
    char = text[pos]
    if char == ":":
        return where.error(pos, "expected a tag name after ':'")
    return where.error(pos, f"unexpected character {char!r}")


def _check_utf8(text: str, where: Positions) -> None:
    """Refuse a lone surrogate: a str made from bytes that were not UTF-8 (RFC 5228 §1: scripts are UTF-8)."""
    bad = None if text.isascii() else _SURROGATE.search(text)
    if bad is not None:
        raise where.error(bad.start(), "invalid UTF-8 in the script")


def _lex_common(text: str) -> list[RawToken] | None:
    """The tokens of a text made only of the common tokens (no bracketed comment, no ``text:``, nothing
    refused), one match each; None at the first other character, and :func:`lex` reads the text again
    token by token. Every character before the trailing white space is in a match, so the offsets add up
    the lengths read; the search stops before that white space, where each start would try every length
    of it (a time quadratic in its length)."""
    out: list[RawToken] = []
    append, pos = out.append, 0
    body = len(text.rstrip(" \t\r\n\f\v"))
    for m in _COMMON.finditer(text, 0, body):
        blanks, hashed, string, tag, ident, number, punct, other = m.groups("")
        if other:
            return None
        pos += len(blanks)
        if punct:
            append((punct, punct, pos))
            pos += 1
        elif ident:
            if ident == "text":  # perhaps a multi-line string
                return None
            append(("ident", ident, pos))
            pos += len(ident)
        elif tag:
            append(("tag", tag, pos))
            pos += len(tag)
        elif hashed:
            pos += len(hashed)
        elif number:
            if number_value(number) > MAX_NUMBER:
                return None
            append(("number", number, pos))
            pos += len(number)
        else:
            append(("string", _UNESCAPE.sub(r"\1", string) if "\\" in string else string, pos))
            pos += len(string) + 2
    end = _BLANKS.match(text, pos).end()  # type: ignore[union-attr]
    if end != len(text):
        return None
    append(("end", "", end))
    return out


def lex(text: str, where: Positions | None = None) -> list[RawToken]:
    """The significant tokens of ``text``, comments and white space dropped, then an ``end`` token.

    Raises:
        SieveSyntaxError: an unterminated string or comment, a malformed ``text:``, a character that starts
            no token, a number above :data:`MAX_NUMBER`, a lone surrogate (bytes that were not UTF-8).
    """
    where = where if where is not None else Positions(text)
    _check_utf8(text, where)
    common = _lex_common(text)
    return common if common is not None else _lex_careful(text, where)


def _lex_careful(text: str, where: Positions) -> list[RawToken]:
    """:func:`lex` token by token, every error located."""
    out: list[RawToken] = []
    append, match, size, pos = out.append, _TOKEN.match, len(text), 0
    while True:
        m = match(text, pos)
        if m is None:  # only white space left, or a character that starts no token
            pos = _BLANKS.match(text, pos).end()  # type: ignore[union-attr]
            if pos >= size:
                break
            raise _fail(text, pos, "", where)
        kind = m.lastgroup or ""
        start = m.start(kind)
        if kind == "punct":
            raw = m.group(kind)
            append((raw, raw, start))
        elif kind == "ident" or kind == "tag":
            append((kind, m.group(kind), start))
        elif kind == "string":
            raw = m.group(kind)
            append(("string", _UNESCAPE.sub(r"\1", raw[1:-1]) if "\\" in raw else raw[1:-1], start))
        elif kind == "number":
            raw = m.group(kind)
            if number_value(raw) > MAX_NUMBER:
                raise where.error(start, f"number {raw} is too large")
            append(("number", raw, start))
        elif kind == "text":
            value, end = _multi_line(text, start, where)
            append(("string", value, start))
            pos = end
            continue
        elif kind == "comment":
            close = _COMMENT_END.search(text, start + 2)
            if close is None:
                raise _fail(text, start, kind, where)
            pos = close.end()
            continue
        elif kind == "quote":
            raise _fail(text, start, kind, where)
        pos = m.end()
    append(("end", "", size))
    return out
