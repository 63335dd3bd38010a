# SPDX-License-Identifier: GPL-3.0-or-later
"""Comparators (RFC 4790, RFC 5228 §2.7.3) and match types (RFC 5228 §2.7.1, RFC 5231, regex draft).

A :class:`Matcher` is built once at compile time from the comparator, the match type and the key list; when
the keys hold variables (RFC 5229) they are expanded and their patterns built (and cached) at evaluation time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Protocol

from .errors import SieveRuntimeError
from .regex import BoundedRegex, bounded_regex, regex_problem
from .wildcard import Glob, compiled_glob

__all__ = ["COMPARATORS", "RELATIONAL_OPS", "MatchContext", "Matcher", "ascii_lower", "glob_to_regex"]

COMPARATORS = ("i;octet", "i;ascii-casemap", "i;ascii-numeric")
RELATIONAL_OPS = ("gt", "ge", "lt", "le", "eq", "ne")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_LEADING_DIGITS = re.compile(r"[0-9]+")


class MatchContext(Protocol):
    """What a matcher needs from the evaluation: key expansion and the match variables (RFC 5229 §3.2)."""

    match_vars: list[str]

    def expand(self, template: object) -> str: ...


def ascii_lower(text: str) -> str:
    """Fold ASCII letters only, as i;ascii-casemap does (RFC 4790 §9.2)."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def _numeric(text: str) -> int | None:
    """The value of the leading digits, or None (positive infinity) if there are none (RFC 4790 §9.1)."""
    m = _LEADING_DIGITS.match(text)
    return int(m.group()) if m else None


def _order(a: str, b: str, comparator: str) -> int:
    """-1, 0 or 1 ordering ``a`` against ``b`` under a comparator."""
    if comparator == "i;ascii-numeric":
        x, y = _numeric(a), _numeric(b)
        if x is None or y is None:
            return (x is None) - (y is None)
        return (x > y) - (x < y)
    if comparator == "i;ascii-casemap":
        a, b = ascii_lower(a), ascii_lower(b)
    return (a > b) - (a < b)


_OPS: dict[str, Callable[[int], bool]] = {
    "gt": lambda c: c > 0,
    "ge": lambda c: c >= 0,
    "lt": lambda c: c < 0,
    "le": lambda c: c <= 0,
    "eq": lambda c: c == 0,
    "ne": lambda c: c != 0,
}
RELATIONAL_OPS_FN = _OPS


def glob_to_regex(pattern: str) -> tuple[str, int]:
    """Translate a ``:matches`` pattern (``*``, ``?``, ``\\`` escapes) into a regex and its wildcard count.

    Each wildcard is a group so that it can fill ``${1}``…; ``*`` matches as little as possible, so the last
    one takes the rest, as Pigeonhole does (RFC 5229 §3.2 leaves the choice to the implementation). This is
    the reference form only: a backtracking engine takes time exponential in the number of ``*`` on it, so
    the matcher uses :class:`~wildcard.Glob`, which gives the same answers in linear time.
    """
    out: list[str] = []
    groups = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "*":
            out.append("(.*?)")
            groups += 1
        elif ch == "?":
            out.append("(.)")
            groups += 1
        elif ch != "\\":
            out.append(re.escape(ch))
        i += 1
    return "".join(out) + r"\Z", groups


def _plain_glob(pattern: str, casefold: bool) -> Callable[[str], bool]:
    """A ``:matches`` pattern when no match variable is wanted (RFC 5228 §2.7.1), linear in the value."""
    return compiled_glob(pattern, casefold).test


def _folded_glob(key: str) -> Callable[[str], bool] | None:
    """A folded ``:matches`` key whose only wildcards are a leading and a trailing ``*`` as a string test
    (RFC 5228 §2.7.1): ``*x*`` is a substring, ``x*`` a prefix, ``*x`` a suffix; None for any other key."""
    core = key.strip("*")
    if "*" in core or "?" in core or "\\" in key:
        return None
    lead, trail = key.startswith("*"), key.endswith("*")
    if lead and trail:
        return lambda v: core in v
    if lead:
        return lambda v: v.endswith(core)
    if trail:
        return lambda v: v.startswith(core)
    return lambda v: v == core


def _folded_globs(keys: tuple[str, ...]) -> Callable[[Sequence[str]], bool] | None:
    tests = [_folded_glob(k) for k in keys]
    if any(t is None for t in tests):
        return None
    if len(keys) == 1 and keys[0].startswith("*") and keys[0].endswith("*") and len(keys[0]) > 1:
        return _substring(keys[0].strip("*"))
    funcs = [t for t in tests if t is not None]
    return lambda values: any(t(v) for v in values for t in funcs)


def _searches(patterns: tuple[BoundedRegex, ...]) -> Callable[[MatchContext, Sequence[str]], bool]:
    """``:regex`` with constant keys and no match variables: whether any key finds a match in any value;
    one key, the common case, is searched inline (what :meth:`BoundedRegex.test` does)."""
    if len(patterns) == 1:
        only = patterns[0]
        search, longest = only.plain.search, only.plain_longest

        def match_one(ctx: MatchContext, values: Sequence[str]) -> bool:
            for v in values:
                if len(v) > longest:
                    only.test(v)  # raises SieveBudgetExceeded
                if search(v) is not None:
                    return True
            return False

        return match_one
    tests = tuple(p.test for p in patterns)

    def match(ctx: MatchContext, values: Sequence[str]) -> bool:
        for v in values:
            for test in tests:
                if test(v):
                    return True
        return False

    return match


def _substring(key: str) -> Callable[[Sequence[str]], bool]:
    """Whether any value holds ``key``: a plain loop, the cheapest form for the one or two values of a
    field.
    """

    def test(values: Sequence[str]) -> bool:
        for v in values:  # noqa: SIM110 - a loop makes no generator on this hot path
            if key in v:
                return True
        return False

    return test


class Matcher:
    """One match type, comparator and key list; ``__call__`` tells whether any value matches any key."""

    __slots__ = (
        "_folded",
        "_globs",
        "_patterns",
        "capture",
        "comparator",
        "constant",
        "keys",
        "kind",
        "max_cost",
        "op",
    )

    def __init__(
        self,
        kind: str,
        comparator: str,
        keys: Sequence[object],
        op: str = "eq",
        capture: bool = False,
        max_cost: int = 10**8,
    ) -> None:
        self.kind = kind
        self.max_cost = max_cost
        self.comparator = comparator
        self.op = op
        self.keys = list(keys)
        self.constant = True
        for k in keys:
            if not isinstance(k, str):
                self.constant = False
                break
        self.capture = capture
        casefold = comparator == "i;ascii-casemap"
        self._folded: list[str] = []
        self._patterns: list[BoundedRegex] = []
        self._globs: list[Glob] = []
        if self.constant:
            strs = [k for k in keys if isinstance(k, str)]
            self._folded = [ascii_lower(k) for k in strs] if casefold else strs
            if kind == "matches":
                self._globs = [compiled_glob(k, casefold) for k in strs]
            elif kind == "regex":
                self._patterns = [bounded_regex(k, casefold, max_cost) for k in strs]

    def bind(self) -> Callable[[MatchContext, Sequence[str]], bool]:
        """The fastest function doing what ``__call__`` does: specialised for constant keys."""
        if self.constant and self.kind == "value" and self.comparator == "i;ascii-numeric":
            return self._bind_numeric()
        if self.constant and self.kind == "regex" and not self.capture:
            return _searches(tuple(self._patterns))
        if self.constant and self.kind == "matches" and not self.capture:
            casefold = self.comparator == "i;ascii-casemap"
            tests = [_plain_glob(k, casefold) for k in self.keys if isinstance(k, str)]
            return lambda ctx, values: any(t(v) for v in values for t in tests)
        if not self.constant or self.kind not in ("is", "contains") or self.comparator == "i;ascii-numeric":
            return self.__call__
        keys = tuple(self._folded)
        fold = self.comparator == "i;ascii-casemap"
        if self.kind == "is":
            keyset = frozenset(keys)
            if fold:
                return lambda ctx, values: any(ascii_lower(v) in keyset for v in values)
            return lambda ctx, values: any(v in keyset for v in values)
        if fold:
            return lambda ctx, values: any(k in lv for lv in map(ascii_lower, values) for k in keys)
        return lambda ctx, values: any(k in v for v in values for k in keys)

    def bind_folded(self) -> Callable[[Sequence[str]], bool] | None:
        """For ``:is``, ``:contains`` and simple ``:matches`` under i;ascii-casemap with constant keys, a test
        of values the caller has already folded (and may keep folded for other tests); None for any other
        matcher."""
        if not self.constant or self.comparator != "i;ascii-casemap":
            return None
        keys = tuple(self._folded)
        if self.kind == "matches" and not self.capture:
            return _folded_globs(keys)
        if self.kind not in ("is", "contains"):
            return None
        if self.kind == "is":
            keyset = frozenset(keys)
            return lambda values: not keyset.isdisjoint(values)
        if len(keys) == 1:
            return _substring(keys[0])
        return lambda values: any(k in v for v in values for k in keys)

    def folded_substring(self) -> str | None:
        """The one folded text a value must hold for a match, when that is the whole test: ``:contains``
        with one key, or ``:matches "*x*"`` without other wildcards, under i;ascii-casemap; None otherwise."""
        if not self.constant or self.comparator != "i;ascii-casemap" or len(self._folded) != 1:
            return None
        key = self._folded[0]
        if self.kind == "contains":
            return key
        if self.kind == "matches" and not self.capture and len(key) > 1:
            core = key[1:-1]
            if key[0] == "*" and key[-1] == "*" and not any(ch in core for ch in "*?\\"):
                return core
        return None

    def folded_keys(self) -> frozenset[str] | None:
        """The folded keys of an ``:is`` match under i;ascii-casemap (a value matches when it is one of
        them); None for any other matcher."""
        if not self.constant or self.comparator != "i;ascii-casemap" or self.kind != "is":
            return None
        return frozenset(self._folded)

    def _bind_numeric(self) -> Callable[[MatchContext, Sequence[str]], bool]:
        """``:value`` with i;ascii-numeric and constant keys: the keys' numbers are computed once."""
        test = _OPS[self.op]
        keys = [_numeric(k) for k in self._folded]

        def match(ctx: MatchContext, values: Sequence[str]) -> bool:
            for v in values:
                x = _numeric(v)
                for y in keys:
                    c = (x is None) - (y is None) if x is None or y is None else (x > y) - (x < y)
                    if test(c):
                        return True
            return False

        return match

    def _keys(self, ctx: MatchContext) -> list[str]:
        if self.constant:
            return self._folded
        keys = [k if isinstance(k, str) else ctx.expand(k) for k in self.keys]
        return [ascii_lower(k) for k in keys] if self.comparator == "i;ascii-casemap" else keys

    def _pattern_list(self, ctx: MatchContext) -> list[BoundedRegex]:
        """The regex keys; one built from variables is checked as the compiler checks constant ones."""
        if self.constant:
            return self._patterns
        casefold = self.comparator == "i;ascii-casemap"
        out = []
        for key in self.keys:
            text = key if isinstance(key, str) else ctx.expand(key)
            problem = regex_problem(text)
            if problem is not None:
                raise SieveRuntimeError(f"regex {text!r} refused: {problem}")
            try:
                out.append(bounded_regex(text, casefold, self.max_cost))
            except re.error as exc:
                raise SieveRuntimeError(f"invalid regex {text!r}: {exc}") from exc
        return out

    def _glob_list(self, ctx: MatchContext) -> list[Glob]:
        if self.constant:
            return self._globs
        casefold = self.comparator == "i;ascii-casemap"
        return [compiled_glob(k if isinstance(k, str) else ctx.expand(k), casefold) for k in self.keys]

    def __call__(self, ctx: MatchContext, values: Sequence[str]) -> bool:
        kind = self.kind
        if kind == "count":
            return self._count(ctx, len(values))
        if not values:
            return False
        if kind in ("matches", "regex"):
            return self._pattern_match(ctx, values)
        if self.comparator == "i;ascii-casemap":
            values = [ascii_lower(v) for v in values]
        keys = self._keys(ctx)
        if kind == "is":
            if self.comparator == "i;ascii-numeric":
                return any(_order(v, k, self.comparator) == 0 for v in values for k in keys)
            return any(v == k for v in values for k in keys)
        if kind == "contains":
            return any(k in v for v in values for k in keys)
        test = _OPS[self.op]
        return any(test(_order(v, k, self.comparator)) for v in values for k in keys)

    def _count(self, ctx: MatchContext, count: int) -> bool:
        test = _OPS[self.op]
        return any(test(_order(str(count), k, self.comparator)) for k in self._keys(ctx))

    def _pattern_match(self, ctx: MatchContext, values: Sequence[str]) -> bool:
        if self.kind == "matches":
            return self._glob_match(ctx, values)
        patterns = self._pattern_list(ctx)
        if not self.capture:
            return any(pattern.test(value) for value in values for pattern in patterns)
        for value in values:
            for pattern in patterns:
                m = pattern.search(value)
                if m is None:
                    continue
                if self.capture:
                    groups = [g or "" for g in m.groups()]
                    ctx.match_vars = [m.group(0), *groups]
                return True
        return False

    def _glob_match(self, ctx: MatchContext, values: Sequence[str]) -> bool:
        """``:matches`` (RFC 5228 §2.7.1); the first match fills ``${0}``… (RFC 5229 §3.2)."""
        globs = self._glob_list(ctx)
        for value in values:
            for glob in globs:
                found = glob.match(value, self.capture)
                if found is not None:
                    if self.capture:
                        ctx.match_vars = [value, *found]
                    return True
        return False
