# SPDX-License-Identifier: GPL-3.0-or-later
"""Behaviours where our engine once differed from Pigeonhole's, each run through ``sieve-test``/``sievec``.

Every script here is run by both engines on the message named beside it and the actions compared; verdict
cases compare only whether the script compiles.
"""

from __future__ import annotations

import re
import subprocess
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


def _flags(setup: str, test: str) -> str:
    return (
        'require ["imap4flags", "fileinto", "relational", "comparator-i;ascii-numeric", "variables",'
        ' "regex"];\n'
        f'{setup}\nif {test} {{ fileinto "yes"; }} else {{ fileinto "no"; }}\n'
    )


#: hasflag (RFC 5232 §3.2, §4): under :is and :contains the keys are space-separated lists of flags too.
HASFLAG = [
    ('addflag ["\\\\Seen", "\\\\Flagged"];', 'hasflag :is "\\\\Flagged \\\\Seen"'),
    ('addflag "\\\\Seen";', 'hasflag :is "\\\\Flagged \\\\Seen"'),
    ('addflag "\\\\Answered";', 'hasflag :is "\\\\Flagged \\\\Seen"'),
    ('addflag "\\\\Seen \\\\Flagged";', 'hasflag :is "\\\\Flagged"'),
    ('addflag ["\\\\Seen", "\\\\Flagged"];', 'hasflag :count "eq" :comparator "i;ascii-numeric" "2"'),
    ('addflag ["\\\\Seen", "\\\\Flagged"];', 'hasflag :matches "*Seen *"'),
    ('addflag ["\\\\Seen", "\\\\Flagged"];', 'hasflag :contains "Seen  \\\\Fl"'),
    ('addflag ["\\\\Seen", "\\\\Flagged"];', 'hasflag :is " "'),
    ('addflag "$Label1";', 'hasflag :regex "^x ^\\\\$label"'),
    ('set "v" "\\\\Seen \\\\Flagged";', 'hasflag :is "v" "\\\\Flagged \\\\Deleted"'),
    ('set "k" "\\\\Deleted \\\\Seen"; addflag "\\\\Seen";', 'hasflag :is "${k}"'),
    ('set "k" "\\\\Deleted"; addflag "\\\\Seen";', 'hasflag :is "${k} x"'),
    ('addflag ["seen", "flagged"];', 'hasflag :value "eq" "x seen"'),
    ('addflag ["seen", "flagged"];', 'hasflag :contains "d s"'),
    ('addflag ["seen", "flagged"];', 'hasflag :regex "d s"'),
    ('addflag ["seen", "flagged"];', 'hasflag :matches "seen flagged"'),
    ('addflag ["seen", "flagged"];', 'hasflag :is "seen flagged x"'),
    ('set "k" "x see"; addflag ["seen", "flagged"];', 'hasflag :contains "${k}"'),
    ('addflag ["$Label1", "MyKey", "\\\\Seen", "mykey", "\\\\FLAGGED"];', "true"),
    ('setflag "Projet \\\\Answered projet";', "true"),
]

#: redirect takes one RFC 5322 mailbox (RFC 5228 §4.2); vacation's :from must be one (RFC 5230 §4.4).
ADDRESSES = [
    'redirect "Secrétariat <secretariat@ac-montpellier.fr>";',
    'redirect "\\"Secrétariat\\" <secretariat@ac-montpellier.fr>";',
    'redirect "<secretariat@ac-montpellier.fr>";',
    'redirect "secretariat@ac-montpellier.fr (Secrétariat)";',
    'redirect " a@b.example ";',
    'redirect "a@b.example, d@e.example";',
    'redirect "Group: a@b.example;";',
    'redirect "pas une adresse";',
    'redirect "a@";',
    'redirect "a@b.example <d@e.example>";',
    'redirect "A <a@b.example";',
    'redirect "";',
    'require "variables"; set "t" "Secrétariat <s@ac-montpellier.fr>"; redirect "${t}";',
    'require "vacation"; vacation :from "pas une adresse" "x";',
    'require "vacation"; vacation :from "" "x";',
    'require "vacation"; vacation :from "Secrétariat <secretariat@ac-montpellier.fr>" "x";',
    'require "vacation"; vacation :from "a@b" "x";',
    'require "vacation"; vacation :from "a@b.example (Moi)" "x";',
    'require "vacation"; vacation :addresses ["pas une adresse", "A <a@b.example>"] "x";',
]

#: Unfolding (RFC 5322 §2.2.3; RFC 5228 §2.4.2.2): a line break and the white space after it become one space.
#: sieve-test prints a tab as "?", so values holding one are compared with :is (the key holds a real tab).
FOLDED = ["x-d", "x-f", "x-g", "x-h", "subject"]
FOLDED_TABS = [
    ("x-a", "x \ty"),
    ("x-a", "x  y"),
    ("x-b", "x \ty"),
    ("x-c", "x\t y"),
    ("x-h", "first second third"),
]

#: Smaller differences: ISO 8601 at UTC (RFC 5260 §4.2), ``fileinto ""`` (RFC 5228 §4.1).
MISC = [
    'require ["date", "variables", "fileinto"];\n'
    'if date :zone "+0000" :matches "date" "iso8601" "*" { fileinto "${1}"; }',
    'require ["date", "variables", "fileinto"];\n'
    'if date :zone "-0000" :matches "date" "iso8601" "*" { fileinto "${1}"; }',
    'require ["date", "variables", "fileinto"];\n'
    'if date :originalzone :matches "date" "iso8601" "*" { fileinto "${1}"; }',
    'require ["date", "variables", "fileinto"];\n'
    'if date :zone "+0130" :matches "date" "iso8601" "*" { fileinto "${1}"; }',
    'require ["date", "fileinto"];\n'
    'if date :zone "+0000" :is "date" "iso8601" "2024-03-05T10:00:00Z" { fileinto "y"; }',
    'require "fileinto"; fileinto "";',
    'require "fileinto"; if true { fileinto ""; }',
    'require ["fileinto", "variables"]; set "e" ""; fileinto "${e}";',
]

RUN_CASES: list[tuple[str, Path]] = [
    *[
        (
            f'require ["fileinto", "variables"];\nif header :matches "{h}" "*" {{ fileinto "[${{1}}]"; }}',
            PARITY / "fold.eml",
        )
        for h in FOLDED
    ],
    *[
        (f'require "fileinto"; if header :is "{h}" "{v}" {{ fileinto "y"; }}', PARITY / "fold.eml")
        for h, v in FOLDED_TABS
    ],
    *[(script, PARITY / "fold.eml") for script in MISC],
    *[(script, PARITY / "regex.eml") for script in ADDRESSES],
    *[(_flags(setup, test), PARITY / "regex.eml") for setup, test in HASFLAG],
    *[(_regex(k), PARITY / "regex.eml") for k in REGEX_KEYS],
    *[(_regex(k, ':comparator "i;octet" '), PARITY / "regex.eml") for k in REGEX_KEYS[:6]],
]

#: RFC 5228 §2.6.2: tagged arguments come before positional ones.
TAG_ORDER = [
    'require "copy"; fileinto "x" :copy;',
    'require ["fileinto", "copy"]; fileinto "x" :copy;',
    'require "copy"; redirect "a@b.example" :copy;',
    'if header "subject" :contains "x" { keep; }',
    'if header :contains "subject" "x" :comparator "i;octet" { keep; }',
    'if address "from" :all "x" { keep; }',
    "if size 100 :over { keep; }",
    'require "fileinto"; fileinto "";',
    'if header :contains :comparator "i;octet" "subject" "x" { keep; }',
]

VERDICT_CASES: list[str] = [_regex(k) for k in REGEX_INVALID] + TAG_ORDER


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


#: Errors worded as Pigeonhole's (its message, our ``line:column:`` position).
WORDED = [
    "keep",
    "if true { keep }",
    "keep; }",
    "foo;",
    'require "fileinto"; fileinto;',
    "if { keep; }",
    "stop stop;",
    "if true { keep; ",
    '"x";',
    "keep;;",
    "if anyof(true false) { keep; }",
    'if header :contains ["a" "b"] "x" { keep; }',
    "elsif true { keep; }",
    "if anyof true { keep; }",
    "if true { keep; } else true { keep; }",
    "if not (true) { keep; }",
    'keep;\nif exists "a" true {keep;}',
    'require "vacation";\nvacation :from "pas une adresse" "x";',
    'redirect "pas une adresse";',
    'require "copy";\nredirect "a@b.example" :copy;',
    'require "regex";\nif header :regex "subject" "[[:foo:]]" { keep; }',
]


def _pigeonhole_errors(pigeonhole: Any, script: str) -> list[tuple[int, str]]:
    path = pigeonhole._write(script)
    proc = subprocess.run(
        ["sievec", "-c", str(pigeonhole.conf), str(path), str(path.with_suffix(".svbin"))],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    path.unlink()
    found = re.findall(r": line (\d+): error: (.*?)\.?$", proc.stdout + proc.stderr, re.MULTILINE)
    return [
        (int(line), text.removesuffix(" (only reported once at first occurrence)")) for line, text in found
    ]


@pytest.mark.parametrize("script", WORDED, ids=[f"worded{i:03d}" for i in range(len(WORDED))])
def test_errors_worded_as_pigeonhole(pigeonhole: Any, script: str) -> None:
    expected = _pigeonhole_errors(pigeonhole, script)[:1]
    try:
        compile_script(script)
    except SieveCompileError as exc:
        first = exc.diagnostics[0]
    else:
        pytest.fail(f"compiled: {script}")
    assert [(first.line, first.message)] == expected, script
    assert str(first) == f"{first.line}:{first.column}: {first.message}"
