# SPDX-License-Identifier: GPL-3.0-or-later
"""``:regex`` with a bounded cost (issue 13): nested repetition refused at compile time, the polynomial worst
case of the rest checked against the value's length before ``re`` runs."""

from __future__ import annotations

import time

import pytest

from groupware.sieve import SieveCompileError, compile_script, evaluate
from groupware.sieve.actions import FileInto, ImplicitKeep, RuntimeFailure
from groupware.sieve.regex import BoundedRegex, compiled_regex, regex_problem


def _rule(pattern: str, variables: bool = False) -> str:
    quoted = pattern.replace("\\", "\\\\").replace('"', '\\"')
    require = '["regex", "fileinto", "variables"]' if variables else '["regex", "fileinto"]'
    then = 'fileinto "${0}";' if variables else 'fileinto "hit";'
    return f'require {require}; if header :regex "subject" "{quoted}" {{ {then} }}'


@pytest.mark.parametrize("pattern", ["(a+)+b", "(a*)*", "(.*a)*x", "(a|a)*b", "(a|ab)+c", "((re|fwd):\\s*)*"])
def test_nested_repetition_is_refused_at_compile_time(pattern: str) -> None:
    assert regex_problem(pattern) is not None
    with pytest.raises(SieveCompileError, match="nested repetition"):
        compile_script(_rule(pattern))


@pytest.mark.parametrize(
    "pattern",
    ["^\\[dev\\]", "[0-9]+%", "example\\.(com|org)$", "(foo|bar)+", "([a-z]{2})+", "^(.*)@(.*)$", "a{2,5}b"],
)
def test_ordinary_patterns_are_accepted(pattern: str) -> None:
    assert regex_problem(pattern) is None
    compile_script(_rule(pattern))


def test_the_worst_case_is_a_polynomial_of_the_length() -> None:
    assert BoundedRegex("x", False, 10**8).cost(99) == 100
    assert BoundedRegex("^x", False, 10**8).cost(99) == 1
    assert BoundedRegex(".*.*x", False, 10**8).cost(99) == 100**3
    assert BoundedRegex("a{0,3}b", False, 10**8).cost(99) == 100 * 4


def test_a_costly_pattern_on_a_long_value_is_not_run_and_the_message_is_kept() -> None:
    """``.*.*.*x`` takes minutes on a 100,000-character subject in ``re``."""
    program = compile_script(_rule(".*a.*b.*c.*x"))
    start = time.perf_counter()
    actions = evaluate(program, b"Subject: " + b"abc" * 30_000 + b"\r\n\r\nbody\r\n")
    assert time.perf_counter() - start < 0.5
    assert isinstance(actions[0], RuntimeFailure) and actions[0].over_budget
    assert actions[1:] == [ImplicitKeep()]
    short = evaluate(program, b"Subject: abc x\r\n\r\nbody\r\n")
    assert [a for a in short if isinstance(a, FileInto)] == [FileInto("hit")]


def test_a_leading_dot_star_costs_nothing_without_match_variables() -> None:
    program = compile_script(
        'require ["regex", "body", "fileinto"]; if body :regex ".*needle" { fileinto "hit"; }'
    )
    body = b"hay " * 250_000 + b"needle\r\n"
    start = time.perf_counter()
    actions = evaluate(program, b"Subject: s\r\n\r\n" + body)
    assert time.perf_counter() - start < 0.5
    assert [a for a in actions if isinstance(a, FileInto)] == [FileInto("hit")]


def test_match_variables_still_come_from_the_whole_pattern() -> None:
    actions = evaluate(compile_script(_rule(".*(dev)", variables=True)), b"Subject: [dev] x\r\n\r\nb\r\n")
    assert [a for a in actions if isinstance(a, FileInto)] == [FileInto("[dev")]


def test_a_regex_built_from_variables_is_checked_when_it_runs() -> None:
    script = (
        'require ["regex", "variables", "fileinto"]; set "p" "(a+)+b"; '
        'if header :regex "subject" "${p}" { fileinto "hit"; }'
    )
    actions = evaluate(compile_script(script), b"Subject: " + b"a" * 40 + b"\r\n\r\nb\r\n")
    assert isinstance(actions[0], RuntimeFailure) and "nested repetition" in actions[0].message
    broken = script.replace("(a+)+b", "(")
    actions = evaluate(compile_script(broken), b"Subject: a\r\n\r\nb\r\n")
    assert isinstance(actions[0], RuntimeFailure) and "invalid regex" in actions[0].message


@pytest.mark.parametrize("depth", [65, 500, 50_000])
def test_deeply_nested_groups_are_a_compile_error_not_a_crash(depth: int) -> None:
    """``re`` recursed past the interpreter's limit on 500 nested groups; the error escaped the compiler."""
    with pytest.raises(SieveCompileError, match="nested too deeply"):
        compile_script(_rule("(" * depth + "a" + ")" * depth))


@pytest.mark.filterwarnings("ignore::FutureWarning")  # re's warnings about "[[" and "--" in a class
def test_the_structure_reader_survives_any_pattern() -> None:
    import random
    import re

    rng = random.Random(5)
    for _ in range(20_000):
        pattern = "".join(rng.choice("()[]|*+?{},1a.^$\\-") for _ in range(rng.randint(0, 12)))
        problem = regex_problem(pattern)
        try:
            compiled_regex(pattern, False)  # translated, or re.error where the C library refuses it
        except re.error:
            continue
        if problem is None:
            assert BoundedRegex(pattern, False, 10**8).cost(50) >= 1


def test_posix_translation_either_refuses_or_compiles() -> None:
    """Any key is refused with ``re.error`` or translated into a pattern Python compiles, without warnings."""
    import random
    import re
    import warnings

    from groupware.sieve.posix import translate

    rng = random.Random(7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(20_000):
            pattern = "".join(rng.choice("()[]|&~*+?{},1a.^$\\-:=") for _ in range(rng.randint(0, 12)))
            try:
                text = translate(pattern)
            except re.error:
                continue
            re.compile(text)


def test_posix_classes_are_those_of_the_c_locale() -> None:
    """``[[:alpha:]]`` is ASCII as in Pigeonhole's C locale (draft-ietf-sieve-regex §3, POSIX §7.3.1)."""
    assert compiled_regex("^[[:alpha:]]+$", False).search("abcXYZ")
    assert not compiled_regex("^[[:alpha:]]+$", False).search("été")
    assert compiled_regex("^[^[:digit:][:space:]]$", False).search("x")
    assert not compiled_regex("^[^[:digit:][:space:]]$", False).search("7")
    assert not compiled_regex("a$", False).search("a\n")  # ERE ``$`` is the end, not before a final newline


def test_escaped_letters_are_literal() -> None:
    """``\\d`` is ``d`` in POSIX ERE as the C library reads it, not a digit (draft-ietf-sieve-regex §3)."""
    assert compiled_regex("a\\d", False).search("ad")
    assert not compiled_regex("a\\d", False).search("a1")
    assert compiled_regex("a\\d", True).search("AD")
