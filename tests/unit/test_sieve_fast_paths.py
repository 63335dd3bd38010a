# SPDX-License-Identifier: GPL-3.0-or-later
"""The evaluator's fast paths answer exactly what the general matcher and the plain evaluation answer."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from groupware.sieve import (
    Environment,
    FileInto,
    MessageFacts,
    Policy,
    RuntimeFailure,
    SieveCompileError,
    compile_script,
    evaluate,
    parse,
)
from groupware.sieve.host import Budget
from groupware.sieve.match import Matcher, ascii_lower
from groupware.sieve.parse import tokens
from groupware.sieve.program import Meter
from groupware.sieve.regex import BoundedRegex

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


@pytest.mark.parametrize("kind", ["is", "contains", "matches"])
@pytest.mark.parametrize("key", KEYS)
def test_inline_substring_and_key_set_agree_with_the_general_matcher(kind: str, key: str) -> None:
    matcher = Matcher(kind, "i;ascii-casemap", [key], capture=False)
    substring, keys = matcher.folded_substring(), matcher.folded_keys()
    assert (keys is not None) == (kind == "is")
    for value in VALUES:
        expected = matcher(_Ctx(), [value])
        if substring is not None:
            assert (substring in ascii_lower(value)) == expected, (kind, key, value)
        if keys is not None:
            assert (ascii_lower(value) in keys) == expected, (kind, key, value)


STEP_SCRIPT = (
    'require ["date", "relational", "fileinto", "regex"];\n'
    'if header :contains "subject" "x" { fileinto "a"; }\n'  # 1 step
    'if address :domain :is "from" "example.org" { fileinto "b"; }\n'  # 1
    'if allof (exists "to", not header :is "to" "y") { fileinto "c"; }\n'  # 4
    'if anyof (true, header :value "ge" "x-n" "3") { fileinto "d"; }\n'  # 2: anyof stops at true
    'if currentdate :value "ge" "date" "2000-01-01" { fileinto "e"; }\n'  # 1
    'if header :regex "subject" "^x[0-9]" { fileinto "f"; }\n'  # 1
)
STEP_MESSAGE = b"From: a@example.org\nTo: z@example.org\nSubject: x1\nX-N: 4\n\nbody\n"


def test_each_test_counts_one_step_of_the_budget() -> None:
    """The common tests count their step themselves; the count is one per test run (short-circuits too)."""
    program = compile_script(STEP_SCRIPT)
    for steps, over in [(9, True), (10, False)]:
        out = evaluate(program, MessageFacts(STEP_MESSAGE), Environment(budget=Budget(steps=steps)))
        assert isinstance(out[0], RuntimeFailure) == over, steps
    meter = Meter(Budget())
    evaluate(program, MessageFacts(STEP_MESSAGE), Environment(), meter)
    assert meter.steps == 10


@pytest.mark.parametrize("pattern", ["a.*b.*c", "^x", "abc", "(ab|cd)+x", "a{1,5}b*", ".*foo", "x?y?z?.*.*"])
def test_the_longest_value_within_the_regex_cost_is_the_cost_bound(pattern: str) -> None:
    regex = BoundedRegex(pattern, False, 10**6)
    for length in [*range(2000), 10**5, 10**7, 10**12]:
        assert (regex.cost(length) > regex.max_cost) == (length > regex.longest), length
        assert (regex.cost(length, regex.plain_factors) > regex.max_cost) == (length > regex.plain_longest)


def test_header_fields_are_read_by_name_when_asked() -> None:
    raw = b"Subject: a\n  b\nX-A: 1\nx-a: \xc3\xa9\nSubject: c\n\n"
    facts = MessageFacts(raw)
    assert facts.header_raw("X-A") == ["1", "é"]
    assert facts.header_raw("subject") == ["a  b", "c"]
    assert facts.header_raw("missing") == []
    assert facts.headers == [("Subject", "a  b"), ("X-A", "1"), ("x-a", "é"), ("Subject", "c")]
    facts.set_headers([("X-A", "2"), *facts.headers])
    assert facts.header_raw("x-a") == ["2", "1", "é"]


def test_a_script_compiled_again_is_the_same_program() -> None:
    """Compiled without a locator, the same text under the same policy gives the program kept the first time;
    another policy, a locator or ``cached=False`` compile anew."""
    text = 'require "fileinto";\nif header :contains "subject" "cache" { fileinto "kept"; }\n'
    first = compile_script(text)
    assert compile_script(text) is first
    assert compile_script(text, Policy(max_actions=3)) is not first
    assert compile_script(text, cached=False) is not first
    assert compile_script(text, locator=_NoScripts()) is not first
    assert compile_script(text + " ") is not first
    with pytest.raises(SieveCompileError):
        compile_script(text + "bad")
    with pytest.raises(SieveCompileError):
        compile_script(text + "bad")


class _NoScripts:
    def load(self, location: str, name: str) -> str | None:
        return None
