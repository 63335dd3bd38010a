# SPDX-License-Identifier: GPL-3.0-or-later
"""``:regex`` keys (draft-ietf-sieve-regex, POSIX extended syntax) with a bounded cost.

Pigeonhole matches with the C library's POSIX engine; we use Python's ``re``, a backtracking engine whose
worst case grows exponentially with nested repetition (``(a+)+``, ``(a|ab)*``) and as a power of the value's
length with every repetition in sequence (``.*.*.*x``). One ``re`` call cannot be interrupted, and it holds
the interpreter lock the whole time, so a runaway pattern would stop every door of the process. Hence two
bounds, chosen over a time limit that could not be enforced:

* at compile time, patterns that nest repetition — a repeated group that itself holds a variable-length
  repetition, or alternatives not told apart by their first character — are refused: their cost cannot be
  bounded by anything but the value's length in the exponent (:func:`regex_problem`);
* at evaluation, the worst-case backtracking work of the remaining patterns is a polynomial in the value's
  length (:meth:`BoundedRegex.cost`: start positions times the lengths each repetition may try); a match
  whose bound exceeds ``max_regex_cost`` is not run and the evaluation fails over budget, which keeps the
  message (RFC 5228 §2.10.6). A leading ``.*``, which only costs, is dropped when no match variable is
  wanted.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

from .errors import SieveBudgetExceeded
from .posix import translate

__all__ = ["BoundedRegex", "bounded_regex", "compiled_regex", "regex_problem"]

_QUANT = re.compile(r"\*|\+|\?|\{(\d*)(,?)(\d*)\}")


@functools.lru_cache(maxsize=4096)
def compiled_regex(pattern: str, casefold: bool) -> re.Pattern[str]:
    """A ``:regex`` key (POSIX extended syntax, draft-ietf-sieve-regex §3) as a Python pattern: see
    :mod:`.posix`; ``re.error`` when the C library would refuse it."""
    return _python(translate(pattern), casefold)


@functools.lru_cache(maxsize=4096)
def _python(translated: str, casefold: bool) -> re.Pattern[str]:
    """An already translated pattern; classes and ``\\w``/``\\b`` are those of the C locale (ASCII)."""
    return re.compile(translated, re.DOTALL | re.ASCII | (re.IGNORECASE if casefold else 0))


@dataclass(slots=True)
class _Node:
    """A parsed piece: an atom, a group (``alts`` of sequences) or a repetition of ``inner``."""

    start: int
    end: int
    first: str | None = None  # the literal character an atom matches, if it is one
    alts: list[list[_Node]] = field(default_factory=list)
    inner: _Node | None = None
    low: int = 1
    high: int | None = 1  # None: unbounded


class _Parser:
    """Just enough of the regular expression syntax ``re`` accepts to see its structure."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0

    def alternatives(self) -> list[list[_Node]]:
        alts: list[list[_Node]] = [[]]
        while self.i < len(self.p) and self.p[self.i] != ")":
            if self.p[self.i] == "|":
                self.i += 1
                alts.append([])
                continue
            alts[-1].append(self.quantified(self.atom()))
        return alts

    def atom(self) -> _Node:
        p, start = self.p, self.i
        ch = p[start]
        if ch == "(":
            self.i = self._group_body(start + 1)
            alts = self.alternatives()
            self.i = min(self.i + 1, len(p))
            return _Node(start, self.i, alts=alts)
        if ch == "[":
            self.i = self._class_end(start + 1)
            return _Node(start, self.i)
        if ch == "\\":
            self.i = min(start + 2, len(p))
            escaped = p[start + 1 : self.i]
            return _Node(start, self.i, first=escaped if escaped and not escaped.isalnum() else None)
        self.i = start + 1
        return _Node(start, self.i, first=None if ch in ".^$" else ch)

    def _group_body(self, i: int) -> int:
        p = self.p
        if not p.startswith("?", i):
            return i
        if p.startswith(("?P<", "?<"), i) and not p.startswith(("?<=", "?<!"), i):
            return p.find(">", i) + 1 or len(p)
        if p.startswith(("?<=", "?<!"), i):
            return i + 3
        j = i + 1
        while j < len(p) and p[j] not in ":)=!":
            j += 1
        return j + 1 if j < len(p) and p[j] in ":=!" else j

    def _class_end(self, i: int) -> int:
        p = self.p
        if p.startswith("^", i):
            i += 1
        if p.startswith("]", i):
            i += 1
        while i < len(p) and p[i] != "]":
            i += 2 if p[i] == "\\" else 1
        return min(i + 1, len(p))

    def quantified(self, node: _Node) -> _Node:
        while True:
            m = _QUANT.match(self.p, self.i)
            if m is None or m.group(0) == "{}" or (m.group(0).startswith("{") and not m.group(0)[1:-1]):
                return node
            text = m.group(0)
            if text == "*":
                low, high = 0, None
            elif text == "+":
                low, high = 1, None
            elif text == "?":
                low, high = 0, 1
            else:
                low = int(m.group(1) or 0)
                high = int(m.group(3)) if m.group(3) else (None if m.group(2) else low)
            self.i = m.end()
            if self.i < len(self.p) and self.p[self.i] in "?+":
                self.i += 1  # lazy or possessive: the same worst case
            node = _Node(node.start, self.i, inner=node, low=low, high=high)


def _parse(pattern: str) -> list[list[_Node]]:
    parser = _Parser(pattern)
    alts = parser.alternatives()
    while parser.i < len(pattern):  # an unbalanced ")" (re refused it already): read on
        parser.i += 1
        more = parser.alternatives()
        alts[-1].extend(more[0])
        alts.extend(more[1:])
    return alts


def _varies(node: _Node) -> bool:
    """Whether the node holds a repetition of variable count or alternatives."""
    if node.inner is not None:
        return node.high != node.low or _varies(node.inner)
    return len(node.alts) > 1 or any(_varies(n) for seq in node.alts for n in seq)


def _ambiguous(node: _Node) -> bool:
    """Alternatives (anywhere inside) whose first characters do not tell them apart."""
    if node.inner is not None:
        return _ambiguous(node.inner)
    if len(node.alts) > 1:
        firsts = [seq[0].first if seq and seq[0].inner is None else None for seq in node.alts]
        if None in firsts or len(set(firsts)) != len(firsts):
            return True
    return any(_ambiguous(n) for seq in node.alts for n in seq)


def _nested(nodes: list[_Node]) -> bool:
    for node in nodes:
        if node.inner is not None:
            repeated = node.high is None or node.high > 1
            if repeated and (_varies_inside(node.inner) or _ambiguous(node.inner)):
                return True
            if _nested([node.inner]):
                return True
        elif any(_nested(seq) for seq in node.alts):
            return True
    return False


def _varies_inside(node: _Node) -> bool:
    return any(_varies(n) for seq in node.alts for n in seq) or (
        node.inner is not None and _varies(node.inner)
    )


#: Groups nested deeper than this are refused: both ``re`` and :class:`_Parser` recurse once per level.
MAX_GROUP_DEPTH = 64


def _group_depth(pattern: str) -> int:
    """How deep parentheses nest (escaped ones and those in brackets counted too: an upper bound)."""
    depth = deepest = 0
    for ch in pattern:
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth = max(depth - 1, 0)
    return deepest


@functools.lru_cache(maxsize=4096)
def regex_problem(pattern: str) -> str | None:
    """Why a ``:regex`` key is refused (nested repetition: exponential backtracking; groups nested past
    :data:`MAX_GROUP_DEPTH`), or None. Call it before compiling the key (which reports invalid syntax)."""
    if _group_depth(pattern) > MAX_GROUP_DEPTH:
        return f"groups nested too deeply (max {MAX_GROUP_DEPTH})"
    try:
        pattern = translate(pattern)
    except re.error:
        return None
    if _nested([n for seq in _parse(pattern) for n in seq]):
        return "nested repetition can take exponential time; write it without a repeated group that repeats"
    return None


def _factors(nodes: list[_Node], out: list[int | None]) -> None:
    """The repetitions (their upper bound, None when unbounded) and alternative counts of a sequence."""
    for node in nodes:
        if node.inner is not None:
            if node.high != node.low:
                out.append(node.high)
            _factors([node.inner], out)
        else:
            if len(node.alts) > 1:
                out.append(len(node.alts) - 1)
            for seq in node.alts:
                _factors(seq, out)


#: A length beyond any value's: the bound of the search for the longest value within the cost.
_LONG = 1 << 62


class BoundedRegex:
    """One ``:regex`` key: :meth:`search` refuses a value on which its worst case exceeds ``max_cost``."""

    __slots__ = (
        "anchored",
        "factors",
        "longest",
        "max_cost",
        "plain",
        "plain_factors",
        "plain_longest",
        "regex",
    )

    def __init__(self, pattern: str, casefold: bool, max_cost: int) -> None:
        self.regex = compiled_regex(pattern, casefold)
        pattern = self.regex.pattern
        self.max_cost = max_cost
        alts = _parse(pattern)
        self.anchored = all(seq and seq[0].first is None and pattern[seq[0].start] == "^" for seq in alts)
        self.factors = self._collect(alts)
        self.plain, self.plain_factors = self.regex, self.factors
        if len(alts) == 1 and alts[0] and _is_dot_star(pattern, alts[0][0]):
            self.plain = _python(pattern[alts[0][0].end :], casefold)
            self.plain_factors = self._collect(_parse(pattern[alts[0][0].end :]))
        self.longest = self._longest(self.factors)
        self.plain_longest = self._longest(self.plain_factors)

    @staticmethod
    def _collect(alts: list[list[_Node]]) -> list[int | None]:
        out: list[int | None] = []
        _factors([_Node(0, 0, alts=alts)], out)
        return out

    def _longest(self, factors: list[int | None]) -> float:
        """The longest value within ``max_cost``: :meth:`cost` grows with the length, so the check of a value
        is one comparison (-1: none is, inf: every one is)."""
        if self.cost(_LONG, factors) <= self.max_cost:
            return math.inf
        low, high = -1, _LONG
        while low < high:
            mid = (low + high + 1) // 2
            if self.cost(mid, factors) <= self.max_cost:
                low = mid
            else:
                high = mid - 1
        return low

    def cost(self, length: int, factors: list[int | None] | None = None) -> float:
        """The worst-case backtracking steps on a value of ``length`` characters (an upper bound)."""
        total = 1.0 if self.anchored else float(length + 1)
        for high in self.factors if factors is None else factors:
            total *= (length if high is None else min(high, length)) + 1
            if math.isinf(total) or total > 1e300:
                return math.inf
        return total

    def search(self, value: str) -> re.Match[str] | None:
        """``re.search`` once its cost is known to be bounded; SieveBudgetExceeded otherwise."""
        if len(value) > self.longest:
            raise SieveBudgetExceeded(f"regex {self.regex.pattern!r} too costly on {len(value)} characters")
        return self.regex.search(value)

    def test(self, value: str) -> bool:
        """Whether the key matches somewhere in the value (no match variables wanted)."""
        if len(value) > self.plain_longest:
            raise SieveBudgetExceeded(f"regex {self.regex.pattern!r} too costly on {len(value)} characters")
        return self.plain.search(value) is not None


def _is_dot_star(pattern: str, node: _Node) -> bool:
    return node.inner is not None and node.low == 0 and node.high is None and pattern[node.inner.start] == "."


@functools.lru_cache(maxsize=4096)
def bounded_regex(pattern: str, casefold: bool, max_cost: int) -> BoundedRegex:
    """A ``:regex`` key compiled once (``re.error`` for an invalid one)."""
    return BoundedRegex(pattern, casefold, max_cost)
