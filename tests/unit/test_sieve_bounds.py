# SPDX-License-Identifier: GPL-3.0-or-later
"""What one script may spend on one message (issue 13): variable sizes (RFC 5229 §3, Pigeonhole's limits),
string expansions, the evaluation budget of steps and CPU time, and MIME nesting (RFC 2046 §5)."""

from __future__ import annotations

import time

import pytest

from groupware.sieve import Environment, MessageFacts, compile_script, evaluate
from groupware.sieve.actions import FileInto, ImplicitKeep, RuntimeFailure
from groupware.sieve.host import Budget, Policy
from groupware.sieve.message import parse_message
from groupware.sieve.program import truncate_utf8

MESSAGE = b"From: a@example.org\r\nSubject: hello\r\n\r\nbody\r\n"


def _folders(script: str, message: bytes = MESSAGE, env: Environment | None = None) -> list[str]:
    return [a.mailbox for a in evaluate(compile_script(script), message, env) if isinstance(a, FileInto)]


def test_a_doubled_variable_stops_at_4096_octets() -> None:
    """Issue 13: 26 doublings made 1 GB; Pigeonhole cuts every value to 4096 octets."""
    doubling = 'set "a" "${a}${a}"; ' * 26
    script = f'require ["variables", "fileinto"]; set "a" "0123456789"; {doubling}set :length "n" "${{a}}";'
    start = time.perf_counter()
    assert _folders(script + 'fileinto "len${n}";') == ["len4096"]
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("a" * 5000, 4096),
        ("é" * 3000, 2047),  # Pigeonhole drops the character before a cut that falls before a multi-octet one
        ("x" + "é" * 2047, 2048),
        ("xy" + "é" * 2047, 2049),
        ("é" * 100, 100),
    ],
)
def test_values_are_cut_at_a_utf8_boundary_as_pigeonhole_does(value: str, kept: int) -> None:
    assert len(truncate_utf8(value, 4096)) == kept
    assert len(truncate_utf8(value, 0)) == len(value)


def test_modifiers_see_the_cut_value() -> None:
    script = 'require ["variables", "fileinto"]; set "a" "' + "a" * 4000 + '"; set :length "n" "${a}${a}";'
    assert _folders(script + 'fileinto "n${n}";') == ["n4096"]


def test_the_variable_size_is_a_policy() -> None:
    script = 'require ["variables", "fileinto"]; set "a" "' + "a" * 100 + '"; set :length "n" "${a}";'
    program = compile_script(script + 'fileinto "n${n}";', Policy(max_variable_size=10))
    assert [a.mailbox for a in evaluate(program, MESSAGE) if isinstance(a, FileInto)] == ["n10"]


def test_a_long_expansion_is_a_runtime_error_and_the_message_is_kept() -> None:
    """A match variable may hold a whole header; repeating it in one string is bounded."""
    repeated = "${1}" * 200
    script = (
        'require ["variables", "fileinto"]; if header :matches "subject" "*" { '
        f'if string :is "{repeated}" "" {{ discard; }} fileinto "x"; }}'
    )
    message = b"Subject: " + b"s" * 100_000 + b"\r\n\r\nbody\r\n"
    actions = evaluate(compile_script(script), message)
    assert isinstance(actions[0], RuntimeFailure) and "too long" in actions[0].message
    assert actions[1:] == [ImplicitKeep()]


def _fan_out(levels: int, width: int) -> dict[str, str]:
    scripts = {f"s{i}": 'require "include";' + f' include "s{i + 1}";' * width for i in range(levels)}
    scripts[f"s{levels}"] = 'if header :contains "subject" "x" { keep; }'
    return scripts


class _Scripts:
    def __init__(self, scripts: dict[str, str]) -> None:
        self.scripts = scripts

    def load(self, location: str, name: str) -> str | None:
        return self.scripts.get(name)


def test_includes_that_multiply_are_stopped_by_the_step_budget() -> None:
    """Nine levels of ten includes run the last script 10^9 times: the budget stops it, the message is
    kept."""
    scripts = _fan_out(9, 10)
    program = compile_script(scripts["s0"], locator=_Scripts(scripts))
    start = time.perf_counter()
    actions = evaluate(program, MESSAGE, Environment(budget=Budget(steps=100_000)))
    assert time.perf_counter() - start < 2
    assert isinstance(actions[0], RuntimeFailure) and "100000 steps" in actions[0].message
    assert actions[1:] == [ImplicitKeep()]


def test_the_cpu_budget_stops_an_evaluation() -> None:
    ticks = iter(range(1_000_000))
    budget = Budget(steps=0, cpu_seconds=50, clock=lambda: float(next(ticks)))
    scripts = _fan_out(5, 10)
    program = compile_script(scripts["s0"], locator=_Scripts(scripts))
    actions = evaluate(program, MESSAGE, Environment(budget=budget))
    assert isinstance(actions[0], RuntimeFailure) and "CPU" in actions[0].message


def test_a_script_under_its_budget_runs() -> None:
    scripts = _fan_out(2, 3)
    program = compile_script(scripts["s0"], locator=_Scripts(scripts))
    assert evaluate(program, MESSAGE, Environment(budget=Budget(steps=1000))) == [ImplicitKeep()]


def _nested(depth: int) -> bytes:
    head = b"From: a@example.org\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    head += b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
    opening = b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i - 1, i) for i in range(1, depth)
    )
    inner = b"--b%d\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b%d--\r\n" % (depth - 1, depth - 1)
    closing = b"".join(b"--b%d--\r\n" % i for i in range(depth - 2, -1, -1))
    return head + opening + inner + closing


def test_deep_mime_nesting_is_parsed_up_to_the_bound() -> None:
    """Issue 13: 2,000 nested multiparts exhausted the parser's stack; past the bound parts are opaque."""
    start = time.perf_counter()
    facts = MessageFacts(_nested(2000))
    assert time.perf_counter() - start < 2
    assert facts.header("subject") == ["deep"]
    assert len(list(facts.message.walk())) == 101
    script = 'require ["body", "fileinto"]; if body :content "multipart" :contains "b99" { fileinto "x"; }'
    assert evaluate(compile_script(script), facts)  # the body tests run


def test_shallow_mime_is_parsed_whole() -> None:
    facts = MessageFacts(_nested(20))
    assert facts.body("text") == ["hello"]
    assert len(list(parse_message(_nested(20), 0).walk())) == 21  # 20 multiparts and the text
