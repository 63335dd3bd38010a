# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``:matches`` wildcards (RFC 5228 §2.7.1) without backtracking, with their match variables (RFC 5229
§3.2).

A pattern is cut at its ``*`` into segments of literal characters and ``?``. The first segment must match at
the start of the value and the last at its end; every segment in between is placed at its leftmost occurrence
after the previous one. Placing a segment as early as possible never hurts the segments after it (a leading
``*`` can absorb any prefix), so this finds a match whenever there is one, in O(length of value × length of
pattern) — where a backtracking regular expression with one group per ``*`` takes time growing with the value
length to the power of the number of stars.

The leftmost placement is also what Pigeonhole reports in ``${1}``…: every ``*`` takes as little as it can
and the last one the rest (RFC 5229 §3.2 leaves the choice to the implementation). Match variables are
numbered by wildcard, ``*`` and ``?`` alike, in the order of the pattern.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["Glob", "compiled_glob"]

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(text: str) -> str:
    """ASCII letters folded, as i;ascii-casemap does (RFC 4790 §9.2); the length never changes."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


@dataclass(frozen=True, slots=True)
class _Segment:
    """Literal characters and ``?`` (None) between two ``*``: a fixed-length piece of the pattern."""

    chars: tuple[str | None, ...]
    literal: str | None  # the text when there is no ``?``: found with str.find
    regex: re.Pattern[str] | None  # otherwise a pattern without any repetition: ``?`` is ``.``

    @classmethod
    def of(cls, chars: list[str | None]) -> _Segment:
        if None not in chars:
            return cls(tuple(chars), "".join(c for c in chars if c is not None), None)
        body = "".join("." if c is None else re.escape(c) for c in chars)
        return cls(tuple(chars), None, re.compile(body, re.DOTALL))

    def __len__(self) -> int:
        return len(self.chars)

    def at(self, value: str, pos: int) -> bool:
        """Whether the segment matches ``value`` at ``pos`` exactly."""
        if self.literal is not None:
            return value.startswith(self.literal, pos)
        assert self.regex is not None
        return self.regex.match(value, pos, pos + len(self.chars)) is not None

    def find(self, value: str, start: int, end: int) -> int:
        """The leftmost position ≥ ``start`` where the segment matches and ends by ``end``; -1 if none."""
        if self.literal is not None:
            return value.find(self.literal, start, end)
        assert self.regex is not None
        found = self.regex.search(value, start, end)
        return -1 if found is None else found.start()

    def marks(self, value: str, pos: int) -> list[str]:
        """The characters of ``value`` under the segment's ``?`` when it sits at ``pos``."""
        return [value[pos + i] for i, c in enumerate(self.chars) if c is None]


def _segments(pattern: str, casefold: bool) -> list[_Segment]:
    """Cut a pattern at its ``*``; ``\\`` quotes the next character and a trailing one is dropped."""
    out: list[_Segment] = []
    chars: list[str | None] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            i += 1
            chars.append(_fold(pattern[i]) if casefold else pattern[i])
        elif ch == "*":
            out.append(_Segment.of(chars))
            chars = []
        elif ch == "?":
            chars.append(None)
        elif ch != "\\":
            chars.append(_fold(ch) if casefold else ch)
        i += 1
    out.append(_Segment.of(chars))
    return out


class Glob:
    """One compiled ``:matches`` key; :meth:`match` answers in time linear in the value's length."""

    __slots__ = ("casefold", "segments")

    def __init__(self, pattern: str, casefold: bool) -> None:
        self.casefold = casefold
        self.segments = _segments(pattern, casefold)

    def test(self, value: str) -> bool:
        """Whether the whole value matches."""
        return self.match(value, capture=False) is not None

    def match(self, value: str, capture: bool = True) -> list[str] | None:
        """The text under each wildcard, in pattern order (empty when ``capture`` is false), or None."""
        text = _fold(value) if self.casefold else value
        segs = self.segments
        first, last = segs[0], segs[-1]
        if len(segs) == 1:
            if len(first) != len(text) or not first.at(text, 0):
                return None
            return first.marks(value, 0) if capture else []
        pos, end = len(first), len(text) - len(last)
        if end < pos or not first.at(text, 0) or not last.at(text, end):
            return None
        found: list[str] = first.marks(value, 0) if capture else []
        for seg in segs[1:-1]:
            at = seg.find(text, pos, end)
            if at < 0:
                return None
            if capture:
                found.append(value[pos:at])
                found.extend(seg.marks(value, at))
            pos = at + len(seg)
        if capture:
            found.append(value[pos:end])
            found.extend(last.marks(value, end))
        return found


@functools.lru_cache(maxsize=4096)
def compiled_glob(pattern: str, casefold: bool) -> Glob:
    """A ``:matches`` key compiled once (keys built from variables repeat across messages)."""
    return Glob(pattern, casefold)
