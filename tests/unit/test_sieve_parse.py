# SPDX-License-Identifier: GPL-3.0-or-later
"""The parser on top of sievelib: what sievelib lacks is parsed, what it lets through is refused, its own
table is left as it was, and parsing is safe from several threads."""

from __future__ import annotations

import threading

import pytest
from sievelib import commands as sievelib_commands  # type: ignore[import-untyped]
from sievelib.parser import Parser as SievelibParser  # type: ignore[import-untyped]

from groupware.sieve import SieveSyntaxError, compile_script, parse


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
    ],
)
def test_what_sievelib_lets_through_is_refused(script: str, where: str) -> None:
    with pytest.raises(SieveSyntaxError) as info:
        parse(script)
    assert str(info.value).startswith(where)


def test_positions_count_characters_not_bytes() -> None:
    tree = parse('if header :is "Sujet" "été" {\n  fileinto "Déjà";\n}\n')
    strings = tree[0].tests[0].args[2]
    assert (strings.line, strings.column) == (1, 23)
    assert (tree[0].block or [])[0].column == 3
    with pytest.raises(SieveSyntaxError) as info:
        parse('keep "é" ]')
    assert str(info.value).startswith("1:10:")


def test_sievelib_table_is_left_as_it_was() -> None:
    before = dict(vars(sievelib_commands))
    parse('require "fileinto"; if anything :goes "here" { fileinto "x"; whatever; }')
    with pytest.raises(SieveSyntaxError):
        parse("if true { keep")
    assert dict(vars(sievelib_commands)) == before
    plain = SievelibParser()
    assert plain.parse(b'require "fileinto"; if header :is "a" "b" { fileinto "x"; }')
    assert not plain.parse(b'if address :user "to" "me" { keep; }')  # sievelib's own table, unchanged


def test_parsing_from_several_threads() -> None:
    script = 'require "fileinto";\n' + "".join(
        f'if header :contains "subject" "w{i}" {{ fileinto "f{i}"; }}\n' for i in range(20)
    )
    expected = parse(script)
    failures: list[object] = []

    def work() -> None:
        for _ in range(20):
            try:
                assert parse(script) == expected
                compile_script(script)
            except Exception as exc:  # pragma: no cover - reported below
                failures.append(exc)
                raise

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
