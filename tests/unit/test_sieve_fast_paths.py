# SPDX-License-Identifier: GPL-3.0-or-later
"""The evaluator's fast paths answer exactly what the general matcher and the plain evaluation answer."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from groupware.sieve import Environment, FileInto, MessageFacts, compile_script, evaluate, parse
from groupware.sieve.match import Matcher, ascii_lower
from groupware.sieve.parse import tokens

KEYS = ["*", "*a*", "a*", "*a", "a", "*ÉtÉ*", "x*y", "?a*", "*\\**", "", "**b", "B**"]
VALUES = ["", "a", "A", "ba", "ab", "bab", "été", "ÉTÉ", "xzy", "*", "bb", "b*b", "Été fini"]


class _Ctx:
    def __init__(self) -> None:
        self.match_vars: list[str] = []

    def expand(self, template: object) -> str:
        return str(template)


@pytest.mark.parametrize("kind", ["is", "contains", "matches"])
@pytest.mark.parametrize("key", KEYS)
def test_folded_matcher_agrees_with_the_general_one(kind: str, key: str) -> None:
    matcher = Matcher(kind, "i;ascii-casemap", [key], capture=False)
    folded = matcher.bind_folded()
    if folded is None:
        assert kind == "matches" and ("?" in key or "\\" in key or "*" in key.strip("*"))
        return
    for value in VALUES:
        assert folded([ascii_lower(value)]) == matcher(_Ctx(), [value]), (kind, key, value)


def test_folded_matcher_is_only_for_casemap_constant_keys() -> None:
    assert Matcher("is", "i;octet", ["a"]).bind_folded() is None
    assert Matcher("matches", "i;ascii-casemap", ["a*"], capture=True).bind_folded() is None
    assert Matcher("value", "i;ascii-casemap", ["a"], op="gt").bind_folded() is None


def test_memoised_views_follow_header_edits() -> None:
    script = (
        'require ["editheader", "fileinto"];\n'
        'if header :contains "x-tag" "old" { fileinto "before"; }\n'
        'deleteheader "x-tag"; addheader "X-Tag" "new";\n'
        'if header :contains "x-tag" "new" { fileinto "after"; }\n'
        'if address :domain :is "from" "example.org" { fileinto "domain"; }\n'
    )
    raw = b"From: a@example.org\nX-Tag: old\nSubject: s\n\nbody\n"
    out = evaluate(compile_script(script), MessageFacts(raw))
    assert [a.mailbox for a in out if isinstance(a, FileInto)] == ["before", "after", "domain"]


@pytest.mark.parametrize(("tests", "join"), list(itertools.product([1, 2, 3], ["allof", "anyof"])))
def test_allof_anyof_of_any_length(tests: int, join: str) -> None:
    for values in itertools.product([True, False], repeat=tests):
        inner = ", ".join("true" if v else "false" for v in values)
        script = f'require "fileinto";\nif {join} ({inner}) {{ fileinto "hit"; }}\n'
        hit = any(getattr(a, "mailbox", None) == "hit" for a in evaluate(compile_script(script), b"\n"))
        assert hit == (all(values) if join == "allof" else any(values))


def test_currentdate_follows_the_moment_of_each_evaluation() -> None:
    script = (
        'require ["date", "relational", "fileinto"];\n'
        'if currentdate :value "ge" "date" "2024-06-01" { fileinto "late"; }\n'
    )
    program = compile_script(script)
    for day in [dt.date(2024, 5, 31), dt.date(2024, 6, 1), dt.date(2024, 5, 30), dt.date(2024, 6, 2)]:
        now = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC)
        out = evaluate(program, b"\n", Environment(now=now))
        assert any(getattr(a, "mailbox", None) == "late" for a in out) == (day >= dt.date(2024, 6, 1))


def test_tokens_and_parse_share_the_lexer() -> None:
    assert [(t.kind, t.value) for t in tokens('fileinto :copy "a\\"b" 2K;')] == [
        ("ident", "fileinto"),
        ("tag", ":copy"),
        ("string", 'a"b'),
        ("number", "2K"),
        ("punct", ";"),
    ]
    assert parse("keep;")[0].name == "keep"
