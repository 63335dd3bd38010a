# SPDX-License-Identifier: GPL-3.0-or-later
"""POSIX extended regular expressions (IEEE 1003.1 §9.4, as the C library reads them) in Python ``re`` syntax.

The ``:regex`` match type (draft-ietf-sieve-regex §3) names POSIX extended syntax; Pigeonhole hands keys to
the C library's ``regcomp`` (``REG_EXTENDED``), in the C locale. Python's ``re`` differs: it has no bracket
classes (``[[:digit:]]`` is read as a nested set), it has syntax of its own (``(?P<``, ``*?``, ``\\d``,
``\\x41``), and its ``$`` also matches before a final newline. :func:`translate` reads a key with the C
library's rules and writes a Python pattern that matches the same strings; a key the C library refuses
raises ``re.error`` with the C library's wording:

* bracket expressions: the classes of the C locale (``[:alpha:]`` and the others are ASCII), ``[=c=]`` and
  ``[.c.]`` for one character, ``]`` first and ``-`` first or last literal, ``\\`` literal;
* the GNU operators ``\\w \\W \\s \\S \\b \\B \\< \\> \\` \\'`` and back-references ``\\1``–``\\9``; any
  other escaped character is itself (``\\d`` is ``d``);
* repetition of a repetition (``a**``, ``a+?``) repeats again, as in the C library, never "lazy";
* ``(?``, a repetition with nothing before it (``a|*b``, ``(*a)``) and a bad interval are errors.
"""

from __future__ import annotations

import functools
import re

__all__ = ["translate"]

#: The classes of the C locale (POSIX §7.3.1), as Python set contents.
CLASSES = {
    "alpha": "A-Za-z",
    "digit": "0-9",
    "alnum": "0-9A-Za-z",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "punct": "!-/:-@\\[-`{-~",
    "print": " -~",
    "graph": "!-~",
    "cntrl": "\\x00-\\x1f\\x7f",
    "xdigit": "0-9A-Fa-f",
}

_GNU = {
    "w": "[0-9A-Za-z_]",
    "W": "[^0-9A-Za-z_]",
    "s": "[ \\t\\n\\r\\f\\v]",
    "S": "[^ \\t\\n\\r\\f\\v]",
    "b": "\\b",
    "B": "\\B",
    "<": "\\b(?=[0-9A-Za-z_])",
    ">": "\\b(?<=[0-9A-Za-z_])",
    "`": "\\A",
    "'": "\\Z",
}

_INTERVAL = re.compile(r"\{(\d*)(,?)(\d*)\}")
_DUP_MAX = 0x7FFF
_BAD_REPEAT = "invalid preceding regular expression"


def _set_char(ch: str) -> str:
    """One character inside a Python set."""
    return "\\" + ch if ch in "\\]^-[|&~" else ch


class _Translator:
    """One pass over the key; ``out`` holds finished pieces, ``last`` the piece a repetition applies to."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.out: list[str] = []
        self.last: str | None = None  # the atom a repetition may follow
        self.rep: tuple[int, int | None] | None = None  # the repetition already on ``last``
        self.depth = 0
        self.groups = 0
        self.open: list[int] = []  # the numbers of the groups not closed yet

    def run(self) -> str:
        while self.i < len(self.p):
            self.step()
        if self.depth:
            raise re.error("unmatched ( or \\(")
        self.flush()
        return "".join(self.out)

    def flush(self) -> None:
        if self.last is not None:
            self.out.append(self.last + _quantifier(self.rep))
        self.last, self.rep = None, None

    def atom(self, text: str) -> None:
        self.flush()
        self.last = text

    def bare(self, text: str) -> None:
        """A piece nothing may repeat (an anchor, ``(``, ``|``)."""
        self.flush()
        self.out.append(text)

    def step(self) -> None:
        ch = self.p[self.i]
        self.i += 1
        if ch == "\\":
            self.escape()
        elif ch == "[":
            self.atom(self.bracket())
        elif ch in "*+?":
            self.repeat((0, None) if ch == "*" else (1, None) if ch == "+" else (0, 1))
        elif ch == "{":
            self.interval()
        elif ch == "(":
            self.open_group()
        elif ch == ")":
            self.close_group()
        elif ch == "|":
            self.bare("|")
            self.no_repeat()
        elif ch == "^":
            self.bare("^")
            self.no_repeat()
        elif ch == "$":
            self.bare("\\Z")
        else:
            self.atom("\\" + ch if ch in ".^$*+?{}[]\\|()" and ch != "." else ch)

    def no_repeat(self) -> None:
        """After ``(``, ``|`` or ``^`` a repetition operator is an error (``a|*b``, ``(*a)``, ``^*a``)."""
        if self.i < len(self.p) and self.p[self.i] in "*+?{":
            raise re.error(_BAD_REPEAT)

    def open_group(self) -> None:
        self.flush()
        self.depth += 1
        self.groups += 1
        self.open.append(self.groups)
        self.out.append("(")
        self.no_repeat()

    def close_group(self) -> None:
        if not self.depth:  # an unmatched ")" is an ordinary character (GNU)
            self.atom("\\)")
            return
        self.flush()
        self.depth -= 1
        self.open.pop()
        start = _group_start(self.out)
        self.last = "".join(self.out[start:]) + ")"
        del self.out[start:]

    def escape(self) -> None:
        if self.i >= len(self.p):
            raise re.error("trailing backslash")
        ch = self.p[self.i]
        self.i += 1
        if ch in "123456789":
            if int(ch) > self.groups or int(ch) in self.open:
                raise re.error("invalid back reference")
            self.atom("\\" + ch)
        elif ch in _GNU:
            text = _GNU[ch]
            self.atom(text) if text.startswith("[") else self.bare(text)
        else:
            self.atom(re.escape(ch))

    def repeat(self, rep: tuple[int, int | None]) -> None:
        if self.last is None:
            raise re.error(_BAD_REPEAT)
        if self.rep is None:
            self.rep = rep
            return
        (low1, high1), (low2, high2) = self.rep, rep
        if low1 <= 1 or high2 == low2:  # the counts stay contiguous: one repetition says it
            high = None if high1 is None or high2 is None else high1 * high2
            self.rep = (low1 * low2, high)
        else:
            self.last = "(?:" + self.last + _quantifier(self.rep) + ")"
            self.rep = rep

    def interval(self) -> None:
        m = _INTERVAL.match(self.p, self.i - 1)
        if m is None:
            raise re.error("unmatched \\{" if "}" not in self.p[self.i :] else "invalid content of \\{\\}")
        low = int(m.group(1) or 0)
        high = low if not m.group(2) else (int(m.group(3)) if m.group(3) else None)
        if (high is not None and high < low) or max(low, high or 0) > _DUP_MAX:
            raise re.error("invalid content of \\{\\}")
        self.i = m.end()
        self.repeat((low, high))

    def bracket(self) -> str:
        p, i = self.p, self.i
        negate = p.startswith("^", i)
        i += negate
        items: list[str] = []
        first = True
        while True:
            if i >= len(p):
                raise re.error("unmatched [, [^, [:, [., or [=")
            if p[i] == "]" and not first:
                break
            first = False
            i = self._bracket_item(i, items)
        self.i = i + 1
        return ("[^" if negate else "[") + "".join(items) + "]"

    def _bracket_item(self, i: int, items: list[str]) -> int:
        """One element of a bracket expression at ``i``; returns where the next starts."""
        p = self.p
        if p.startswith("[:", i):
            end = p.find(":]", i + 2)
            name = p[i + 2 : end] if end >= 0 else ""
            if name not in CLASSES:
                raise re.error("invalid character class name")
            if p.startswith("-", end + 2) and not p.startswith("-]", end + 2):
                raise re.error("invalid range end")
            items.append(CLASSES[name])
            return end + 2
        low, i = self._bracket_char(i)
        if p.startswith("-", i) and not p.startswith("-]", i) and i + 1 < len(p):
            if p.startswith("[:", i + 1):
                raise re.error("invalid range end")
            high, i = self._bracket_char(i + 1)
            if ord(high) < ord(low):
                raise re.error("invalid range end")
            items.append(_set_char(low) + "-" + _set_char(high))
            return i
        items.append(_set_char(low))
        return i

    def _bracket_char(self, i: int) -> tuple[str, int]:
        """One character of a bracket expression: itself, ``[=c=]`` or ``[.c.]``."""
        p = self.p
        for opener, closer, message in (
            ("[=", "=]", "invalid collation character"),
            ("[.", ".]", "invalid collation character"),
        ):
            if p.startswith(opener, i):
                end = p.find(closer, i + 2)
                if end != i + 3:
                    raise re.error(message)
                return p[i + 2], end + 2
        return p[i], i + 1


def _group_start(out: list[str]) -> int:
    """Where the innermost open group starts in ``out`` (its ``(`` piece)."""
    depth = 0
    for k in range(len(out) - 1, -1, -1):
        if out[k] == ")":
            depth += 1
        elif out[k] == "(":
            if depth == 0:
                return k
            depth -= 1
    raise re.error("unmatched ( or \\(")


def _quantifier(rep: tuple[int, int | None] | None) -> str:
    if rep is None:
        return ""
    low, high = rep
    if (low, high) == (0, None):
        return "*"
    if (low, high) == (1, None):
        return "+"
    if (low, high) == (0, 1):
        return "?"
    if high == low:
        return f"{{{low}}}"
    return f"{{{low},}}" if high is None else f"{{{low},{high}}}"


@functools.lru_cache(maxsize=4096)
def translate(pattern: str) -> str:
    """The Python pattern matching what the POSIX extended ``pattern`` matches (``re.error`` if the C
    library refuses it)."""
    return _Translator(pattern).run()
