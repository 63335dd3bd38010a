# SPDX-License-Identifier: GPL-3.0-or-later
"""Our RFC 5228 §8 parser: what sievelib lacked is parsed, what it let through is refused, the lexical rules
of §2 hold, input is bounded, nothing is shared between parses and the package does not need sievelib."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time

import pytest

from groupware.sieve import Policy, SieveCompileError, SieveSyntaxError, compile_script, parse
from groupware.sieve.lexer import Positions, _lex_careful, _lex_common, lex
from groupware.sieve.parse import MAX_NESTING, Command, Number, Strings, Tag, tokens
from groupware.sieve.parse import Test as SieveTest


@pytest.mark.parametrize(
    "script",
    [
        'if address :user "to" "me" { keep; }',
        'if string :is "${a}" "" { keep; }',
        'if header :index 2 :is "received" "x" { keep; }',
        'addheader "X-A" "b"; deleteheader :index 1 "X-A";',
        'include :personal :optional "other";',
        "if duplicate :seconds 60 { discard; }",
        'if header :value "gt" :comparator "i;ascii-numeric" "x-score" "5" { discard; }',
        'if ihave "nothing" { nothing :at "all"; }',
    ],
)
def test_scripts_sievelib_rejects_are_parsed(script: str) -> None:
    assert parse(script)


@pytest.mark.parametrize(
    ("script", "where"),
    [
        ("if anyof (true), false { keep; }", "1:18"),
        ("keep true, false;", "1:12"),
        ('set "a" text: trailing\n.\n;', "1:9"),
        ("stop 99999999999999999999;", "1:6"),
        ("keep; stop", "1:11"),
        ("else ( anyof ) ; 2K [ if if", "1:"),
        ("header ; stop ( allof false foo :is ) {", "1:"),
        ("fileinto :comparator ( else :is :is )", "1:38"),
        ("keep []", "1:7"),
        ("if allof () { keep; }", "1:11"),
        ('keep ["a" "b"];', "1:11"),
        ("if allof (true; false) {}", "1:15"),
        ("keep; /* open", "1:7"),
        ('keep "a\n\nb', "1:6"),
        ("keep : ;", "1:6"),
        ("keep @;", "1:6"),
        ("fileinto text:\r\nno end\r\n", "1:10"),
        ("keep; }", "1:7"),
    ],
)
def test_what_the_grammar_refuses(script: str, where: str) -> None:
    with pytest.raises(SieveSyntaxError) as info:
        parse(script)
    assert str(info.value).startswith(where)


def test_positions_count_characters_not_bytes() -> None:
    tree = parse('if header :is "Sujet" "été" {\n  fileinto "Déjà";\n}\n')
    strings = tree[0].tests[0].args[2]
    assert (strings.line, strings.column) == (1, 23)
    assert (tree[0].block or [])[0].column == 3
    assert tree[0].end_line == 3
    with pytest.raises(SieveSyntaxError) as info:
        parse('keep "é" ]')
    assert str(info.value).startswith("1:10:")


def test_the_tree_of_a_script() -> None:
    tree = parse('IF Not Header :Is ["a", "b"] "c" { keep; }\nstop;')
    assert tree == [
        Command(
            "if",
            [],
            [
                SieveTest(
                    "not",
                    [],
                    [
                        SieveTest(
                            "header",
                            [
                                Tag("is", 1, 15),
                                Strings(["a", "b"], True, 1, 19),
                                Strings(["c"], False, 1, 30),
                            ],
                            [],
                            1,
                            8,
                        )
                    ],
                    1,
                    4,
                )
            ],
            1,
            1,
            block=[Command("keep", [], [], 1, 36, end_line=1)],
            end_line=1,
        ),
        Command("stop", [], [], 2, 1, end_line=2),
    ]


def test_lexical_structure() -> None:
    """Comments of both kinds, ``#`` inside strings, escapes, quantifiers, ``text:`` with a comment on its
    first line and dot-unstuffing (RFC 5228 §2.2–§2.4)."""
    script = (
        "# a comment\r\n"
        'keep /* a\r\n bracketed ; comment */ "#not a comment" ["a\\\\b", "q\\"x"] 1K 2m 3G 4;\r\n'
        "vacation text: # first line comment\r\n..stuffed\r\n..\r\n.\r\n;"
    )
    keep, vacation = parse(script)
    assert keep.line == 2 and keep.args[0] == Strings(["#not a comment"], False, 3, 25)
    assert keep.args[1].values == ["a\\b", 'q"x']  # type: ignore[union-attr]
    assert [a.value for a in keep.args[2:]] == [1024, 2 << 20, 3 << 30, 4]  # type: ignore[union-attr]
    assert vacation.args[0].values == [".stuffed\r\n.\r\n"]  # type: ignore[union-attr]
    assert parse("keep text:\n.\n;")[0].args[0] == Strings([""], False, 1, 6)
    assert parse('keep "a\r\nb";')[0].args[0].values == ["a\r\nb"]  # type: ignore[union-attr]


def test_tokens_for_the_rules_format() -> None:
    assert [(t.kind, t.value, t.pos) for t in tokens('fileinto :copy "é" ["a"];# c\n2K')] == [
        ("ident", "fileinto", 0),
        ("tag", ":copy", 9),
        ("string", "é", 15),
        ("punct", "[", 19),
        ("string", "a", 20),
        ("punct", "]", 23),
        ("punct", ";", 24),
        ("number", "2K", 29),
    ]


def test_nesting_and_size_are_bounded() -> None:
    deep = "if true {" * (MAX_NESTING + 1) + "}" * (MAX_NESTING + 1)
    with pytest.raises(SieveSyntaxError, match="nested too deeply"):
        parse(deep)
    with pytest.raises(SieveSyntaxError, match="nested too deeply"):
        parse("if " + "not " * (MAX_NESTING + 1) + "true {}")
    with pytest.raises(SieveSyntaxError, match="nested too deeply"):
        parse("if " + "allof(" * (MAX_NESTING + 1) + "true" + ")" * (MAX_NESTING + 1) + " {}")
    assert parse("if true {" * 40 + "}" * 40)  # deeper than the policy allows: compile reports it
    with pytest.raises(SieveCompileError, match="blocks are nested too deeply"):
        compile_script("if true {" * 40 + "}" * 40)
    with pytest.raises(SieveSyntaxError, match="too large"):
        parse("keep;" * 10, max_size=49)
    assert parse("keep;" * 10, max_size=50)
    with pytest.raises(SieveSyntaxError, match="too large"):
        parse('keep "' + "é" * 30 + '";', max_size=40)


@pytest.mark.parametrize(
    "script",
    [
        'require "fileinto" true { keep; }\nfileinto "x";',
        'require "fileinto" { keep; }\nfileinto "x";',
        'require "fileinto" anyof (true);\nfileinto "x";',
        'require :copy "fileinto";\nfileinto "x";',
        "require 2;",
    ],
)
def test_require_followed_by_anything_else_is_refused(script: str) -> None:
    with pytest.raises(SieveCompileError) as info:
        compile_script(script)
    assert str(info.value).startswith("1:")


def test_parses_share_nothing() -> None:
    """Each parse has its own state: many threads parse different scripts at once, each gets its own tree."""
    scripts = [
        'require "fileinto";\n'
        + "".join(f'if header :contains "subject" "w{i}-{n}" {{ fileinto "f{i}"; }}\n' for i in range(40))
        for n in range(4)
    ]
    expected = [parse(s) for s in scripts]
    barrier = threading.Barrier(4)
    failures: list[object] = []

    def work(n: int) -> None:
        barrier.wait()
        for _ in range(30):
            try:
                assert parse(scripts[n]) == expected[n]
                compile_script(scripts[n])
                with pytest.raises(SieveSyntaxError):
                    parse(scripts[n] + "if true {")
            except Exception as exc:  # pragma: no cover - reported below
                failures.append(exc)
                raise

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_each_policy_has_its_own_extensions_in_parallel() -> None:
    """The extension set is the compiling call's policy, not a table shared by the process: two threads with
    different policies compile the same script at once and each gets its own verdict (RFC 5228 §3.2)."""
    script = 'require ["fileinto", "vacation"];\nif true { fileinto "a"; vacation "away"; }\n'
    narrow = Policy(extensions=frozenset({"fileinto"}))
    verdicts: dict[str, list[bool]] = {"wide": [], "narrow": []}
    barrier = threading.Barrier(2)

    def work(name: str, policy: Policy) -> None:
        barrier.wait()
        for _ in range(50):
            try:
                compile_script(script, policy)
                verdicts[name].append(True)
            except SieveCompileError as exc:
                assert str(exc).startswith("1:9: unknown Sieve capability 'vacation'")
                verdicts[name].append(False)

    threads = [
        threading.Thread(target=work, args=("wide", Policy())),
        threading.Thread(target=work, args=("narrow", narrow)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert verdicts == {"wide": [True] * 50, "narrow": [False] * 50}


def test_the_package_does_not_import_sievelib() -> None:
    code = (
        "import sys, groupware.sieve as s\n"
        's.compile_script(\'require "fileinto"; if true { fileinto "a"; }\')\n'
        "import groupware.sieve.managesieve, groupware.sieve.delivery\n"
        "sys.exit('sievelib' in sys.modules)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_numbers() -> None:
    assert parse("keep 9223372036854775807;")[0].args[0] == Number((1 << 63) - 1, 1, 6)
    with pytest.raises(SieveSyntaxError, match="too large"):
        parse("keep 8589934592G;")


LEX_TEXTS = [  # (text, read on the common path)
    ('require ["fileinto"];\r\n# rule:[a]\r\nif header :contains "subject" "x" {\r\n\tkeep;\r\n}\r\n', True),
    ('keep; # "quoted" in a comment\n  stop ;  \n\n', True),
    ('fileinto :copy "a\\"b\\\\c" 2K; x_y 10g ["", "é", "\\q"];', True),
    ("", True),
    ("   \n\t", True),
    ('if text :is "a" "b" { keep; }', False),  # an identifier "text": perhaps a multi-line string
    ("keep; /* comment */ stop;", False),
    ("vacation text:\r\nline\r\n..dot\r\n.\r\n;", False),
    ('keep; "unterminated', False),
    ('keep; "\\"\\"\\"', False),
    ("keep; 99999999999999999999;", False),
    ("keep; :", False),
    ("keep; .", False),
]


@pytest.mark.parametrize(("text", "common_path"), LEX_TEXTS)
def test_the_common_token_path_reads_what_the_careful_path_reads(text: str, common_path: bool) -> None:
    """The one-search path over the common tokens gives the careful path's tokens, or leaves the text."""
    common = _lex_common(text)
    try:
        careful: object = _lex_careful(text, Positions(text))
    except SieveSyntaxError as exc:
        careful = exc
    assert (common is not None) == common_path
    assert common is None or common == careful


@pytest.mark.parametrize("tail", [" " * 300_000, '"\\"' * 100_000, "# c" + " \t" * 150_000 + "\n"])
def test_lexing_stays_linear(tail: str) -> None:
    """White space after the last token, or quotes that never close, do not make the search quadratic."""
    start = time.perf_counter()
    with contextlib.suppress(SieveSyntaxError):
        lex("keep;" + tail)
    assert time.perf_counter() - start < 5
