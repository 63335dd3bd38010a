# SPDX-License-Identifier: GPL-3.0-or-later
"""``:matches`` without backtracking (RFC 5228 §2.7.1, RFC 5229 §3.2): the same answers and match variables
as the backtracking regular expression it replaces, in linear time."""

from __future__ import annotations

import random
import re
import time

import pytest

from groupware.sieve import compile_script, evaluate
from groupware.sieve.actions import FileInto
from groupware.sieve.match import glob_to_regex
from groupware.sieve.wildcard import Glob


def _reference(pattern: str, value: str, casefold: bool) -> list[str] | None:
    flags = re.DOTALL | (re.IGNORECASE | re.ASCII if casefold else 0)
    m = re.compile(glob_to_regex(pattern)[0], flags).match(value)
    return None if m is None else [g or "" for g in m.groups()]


@pytest.mark.parametrize("seed", range(4))
def test_same_answers_and_captures_as_the_backtracking_form(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3000):
        pattern = "".join(rng.choice("ab*?\\A") for _ in range(rng.randint(0, 8)))
        value = "".join(rng.choice("abAB*?\\") for _ in range(rng.randint(0, 10)))
        casefold = rng.random() < 0.5
        assert Glob(pattern, casefold).match(value) == _reference(pattern, value, casefold), (pattern, value)
        assert Glob(pattern, casefold).test(value) == (_reference(pattern, value, casefold) is not None)


@pytest.mark.parametrize(
    ("pattern", "value", "found"),
    [
        ("*", "abc", ["abc"]),
        ("a*c", "abbc", ["bb"]),
        ("*b*", "abcbd", ["a", "cbd"]),
        ("?*?", "xyz", ["x", "y", "z"]),
        ("a\\*b", "a*b", []),
        ("a\\*b", "axb", None),
        ("ab*ba", "aba", None),
        ("**", "", ["", ""]),
        ("x\\", "x", []),
        ("é?*", "éçà", ["ç", "à"]),
    ],
)
def test_examples(pattern: str, value: str, found: list[str] | None) -> None:
    assert Glob(pattern, False).match(value) == found


def _subject_rule(variables: bool) -> str:
    require = 'require ["variables", "fileinto"];\n' if variables else 'require "fileinto";\n'
    then = 'fileinto "${1}";' if variables else 'fileinto "hit";'
    return require + f'if header :matches "subject" "*a*a*a*a*a*a*a*a*b" {{ {then} }}\n'


@pytest.mark.parametrize("variables", [False, True])
def test_many_stars_on_a_long_subject_take_no_time(variables: bool) -> None:
    """Issue 13: 3.5 s for a 62-character subject before, growing with its length to the power 7."""
    program = compile_script(_subject_rule(variables))
    for length in (62, 2000, 100_000):
        message = b"Subject: " + b"a" * length + b"\r\n\r\nbody\r\n"
        start = time.perf_counter()
        actions = evaluate(program, message)
        assert time.perf_counter() - start < 0.5, length
        assert not any(isinstance(a, FileInto) for a in actions)
    hit = evaluate(program, b"Subject: " + b"a" * 5000 + b"b\r\n\r\nbody\r\n")
    assert any(isinstance(a, FileInto) for a in hit)
