# SPDX-License-Identifier: GPL-3.0-or-later
"""Behaviours where our engine once differed from Pigeonhole's, each run through ``sieve-test``/``sievec``.

Every script here is run by both engines on the message named beside it and the actions compared; verdict
cases compare only whether the script compiles.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from groupware.sieve import Environment, MessageFacts, SieveCompileError, compile_script, describe, evaluate

PARITY = Path(__file__).resolve().parents[1] / "data" / "sieve" / "parity"
SENDER, RECIPIENT = "alice@example.com", "me@example.net"


def _regex(key: str, comparator: str = "") -> str:
    return (
        f'require ["regex", "fileinto"];\nif header :regex {comparator}"subject" "{key}" '
        '{ fileinto "yes"; } else { fileinto "no"; }\n'
    )


def ours(script: str, message: Path, sender: str, recipient: str) -> list[str | None]:
    """Our actions in the CLI's line form (``error compile`` when the script does not compile)."""
    try:
        program = compile_script(script)
    except SieveCompileError:
        return ["error compile"]
    env = Environment(envelope_from=sender, envelope_to=recipient)
    actions = evaluate(program, MessageFacts(message.read_bytes()), env)
    return [line for line in map(describe, actions) if line]


def ours_compiles(script: str) -> bool:
    """Whether our compiler accepts the script."""
    try:
        compile_script(script)
    except SieveCompileError:
        return False
    return True


#: POSIX ERE as the C library reads it (draft-ietf-sieve-regex §3): bracket classes, GNU escapes, other
#: escaped characters literal, repetition of repetition; the subject is "Invoice 2024-0042 ab\\d x Z".
REGEX_KEYS = [
    "[[:digit:]]{4}",
    "^[[:alpha:]]+ [[:digit:]]+",
    "[[:space:]]ab",
    "[^[:upper:][:space:]]Z",
    "[[:digit:]]{4}-[[:digit:]]{4}",
    "^[[:upper:]][[:lower:]]+ ",
    "[[:punct:]]",
    "x[[:blank:]]Z$",
    "[[:alnum:]]{7}",
    "[[:xdigit:]]{4}",
    "[^[:alnum:][:space:]]",
    "[[:cntrl:]]",
    "[[=a=]]b",
    "[[.a.]]b",
    "[]a]b",
    "[a-]b",
    "2\\\\d",
    "b\\\\\\\\d",
    "\\\\w+",
    "\\\\<ab",
    "Z\\\\>",
    "\\\\bab",
    "I.*?e",
    "a**",
    "[0-9]{2}{2}",
    "\\\\x41",
    "\\\\Z",
    "Z$",
    "(ab|cd)\\\\\\\\",
    "(a)\\\\1",
]

REGEX_INVALID = [
    "(?P<x>ab)",
    "(?:ab)",
    "(?i)inv",
    "[[:foo:]]",
    "[[:<:]]ab",
    "[[.hyphen.]]",
    "[[:alpha:]-z]",
    "a{x",
    "a|*b",
    "(*a)",
    "{1}",
    "[z-a]",
    "a{2,1}",
]

RUN_CASES: list[tuple[str, Path]] = [
    *[(_regex(k), PARITY / "regex.eml") for k in REGEX_KEYS],
    *[(_regex(k, ':comparator "i;octet" '), PARITY / "regex.eml") for k in REGEX_KEYS[:6]],
]

VERDICT_CASES: list[str] = [_regex(k) for k in REGEX_INVALID]


@pytest.fixture(scope="module")
def reference(pigeonhole: Any) -> list[list[str]]:
    """Pigeonhole's actions for every run case, computed once."""
    return pigeonhole.run_many([(s, m, SENDER, RECIPIENT) for s, m in RUN_CASES])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def verdicts(pigeonhole: Any) -> list[bool]:
    """Pigeonhole's compile verdict for every verdict case."""
    return pigeonhole.compiles_many(VERDICT_CASES)  # type: ignore[no-any-return]


@pytest.mark.parametrize("index", range(len(RUN_CASES)), ids=[f"run{i:03d}" for i in range(len(RUN_CASES))])
def test_same_actions_as_pigeonhole(pigeonhole: Any, reference: list[list[str]], index: int) -> None:
    script, message = RUN_CASES[index]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mine = pigeonhole.normalise(ours(script, message, SENDER, RECIPIENT))
    assert mine == reference[index], script


@pytest.mark.parametrize(
    "index", range(len(VERDICT_CASES)), ids=[f"verdict{i:03d}" for i in range(len(VERDICT_CASES))]
)
def test_same_verdict_as_pigeonhole(verdicts: list[bool], index: int) -> None:
    script = VERDICT_CASES[index]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ours_compiles(script) is verdicts[index], script


def test_messages_exist() -> None:
    assert all(m.is_file() for _, m in RUN_CASES)
