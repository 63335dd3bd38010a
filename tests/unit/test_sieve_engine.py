# SPDX-License-Identifier: GPL-3.0-or-later
"""Parse, compile and evaluate: errors with line and column, policy limits, actions and their text form."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from groupware.sieve import (
    Action,
    Discard,
    Environment,
    FileInto,
    ImplicitKeep,
    Keep,
    MessageFacts,
    Policy,
    Redirect,
    RuntimeFailure,
    SieveCompileError,
    SieveSyntaxError,
    Vacation,
    compile_script,
    describe,
    evaluate,
    parse,
)

MESSAGES = Path(__file__).resolve().parents[1] / "data" / "sieve" / "messages"
PLAIN = (MESSAGES / "plain.eml").read_bytes()


def run(script: str, message: bytes = PLAIN, **env: Any) -> list[Action]:
    return list(evaluate(compile_script(script), MessageFacts(message), Environment(**env)))


def errors(script: str, policy: Policy | None = None) -> list[str]:
    with pytest.raises(SieveCompileError) as info:
        compile_script(script, policy)
    return [str(d) for d in info.value.diagnostics]


# -- parse
# ------------------------------------------------------------------------------------------------------
def test_parse_tree_and_positions() -> None:
    tree = parse('require "fileinto";\nif header :is "a" ["b", "c"] {\n  fileinto "x";\n}\n')
    assert [c.name for c in tree] == ["require", "if"]
    assert (tree[1].line, tree[1].column) == (2, 1)
    assert tree[1].tests[0].name == "header"
    assert tree[1].block is not None and tree[1].block[0].name == "fileinto"


def test_multiline_string_dot_stuffing_and_numbers() -> None:
    tree = parse("reject text: # comment\r\nline\r\n..dot\r\n.\r\n;\nif size :over 2K { keep; }")
    assert tree[0].args[0].values == ["line\r\n.dot\r\n"]  # type: ignore[union-attr]
    assert tree[1].tests[0].args[1].value == 2048  # type: ignore[union-attr]


def test_quoted_string_escapes() -> None:
    assert parse(r'keep "a\"b\\c\n";')[0].args[0].values == ['a"b\\cn']  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("script", "where"),
    [("keep", "1:5"), ("if true {\n keep;\n", "3:1"), ("keep;\n  ]", "2:3"), ('"unterminated', "1:1")],
)
def test_syntax_errors_have_line_and_column(script: str, where: str) -> None:
    with pytest.raises(SieveSyntaxError) as info:
        parse(script)
    assert str(info.value).startswith(where + ":")


# -- compile
# ----------------------------------------------------------------------------------------------------
def test_every_error_is_reported_with_its_position() -> None:
    found = errors('if foo "x" {\n  keep;\n}\nrequire "x";\nfileinto "a";\n')
    assert found == [
        "1:4: unknown test 'foo'",
        "4:1: require commands can only be placed at top level at the beginning of the file",
        "5:1: unknown command 'fileinto' (missing require for 'fileinto')",
    ]


def test_unknown_capability_and_policy_extensions() -> None:
    assert errors('require "bogus";') == ["1:9: unknown Sieve capability 'bogus'"]
    policy = Policy(extensions=frozenset({"fileinto"}))
    assert "unknown Sieve capability 'vacation'" in errors('require "vacation";', policy)[0]


def test_sievelib_gaps_are_accepted() -> None:
    """Valid scripts that sievelib 1.6 rejects (see REFERENCES.md)."""
    compile_script(
        'require ["subaddress", "variables", "index", "editheader", "include", "duplicate", "relational",'
        ' "comparator-i;ascii-numeric"];\n'
        'if address :user "to" "me" { keep; }\nif address :detail "to" "x" { keep; }\n'
        'if string :is "${a}" "" { keep; }\nif header :index 2 :is "received" "x" { keep; }\n'
        'addheader "X-A" "b"; deleteheader "X-A";\ninclude :optional "none";\n'
        "if duplicate { discard; }\n"
        'if header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "5" { discard; }\n'
    )


def test_policy_limits() -> None:
    assert "script is too large" in errors("keep;" * 10, Policy(max_script_size=20))[0]
    nested = "if true { " * 5 + "keep;" + " }" * 5
    assert "nested too deeply" in errors(nested, Policy(max_block_nesting=3))[0]
    deep = "if " + "not " * 6 + "true { keep; }"
    assert "too deep" in errors(deep, Policy(max_test_nesting=4))[0]
    redirects = " ".join(f'redirect "u{i}@example.org";' for i in range(3))
    out = evaluate(compile_script(redirects, Policy(max_redirects=2)), PLAIN)
    assert isinstance(out[0], RuntimeFailure) and "(3 > 2)" in out[0].message


# -- evaluate
# ---------------------------------------------------------------------------------------------------
def test_implicit_keep_and_copy() -> None:
    assert run("") == [ImplicitKeep()]
    assert run('require ["fileinto", "copy"]; fileinto :copy "A";') == [
        FileInto("A", copy=True),
        ImplicitKeep(),
    ]
    assert run("discard;") == [Discard()]
    assert run('redirect "x@example.org"; keep;') == [Redirect("x@example.org"), Keep()]


def test_stores_merge_and_inbox_is_keep() -> None:
    script = (
        'require ["fileinto", "imap4flags"]; fileinto :flags "a" "A"; fileinto :flags "b" "A"; '
        'fileinto "INBOX";'
    )
    assert run(script) == [FileInto("A", flags=("b",)), Keep()]


def test_match_variables_are_shortest_first() -> None:
    script = 'require ["fileinto", "variables"]; if header :matches "subject" "* *" { fileinto "${1}|${2}"; }'
    assert run(script) == [FileInto("Meeting|tomorrow at 10")]


def test_envelope_subaddress_and_date() -> None:
    script = (
        'require ["envelope", "subaddress", "fileinto", "date"];\n'
        'if envelope :detail "to" "lists" { fileinto "L"; }\n'
        'if date :zone "+0000" :is "date" "hour" "09" { fileinto "H"; }\n'
    )
    assert run(script, envelope_to="me+lists@example.net") == [FileInto("L"), FileInto("H")]


def test_currentdate_uses_the_injected_clock() -> None:
    script = (
        'require ["date", "relational"]; if currentdate :zone "+0000" :value "ge" "date" "2030-01-01" '
        "{ discard; }"
    )
    later = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)
    assert run(script, now=later) == [Discard()]
    assert run(script, now=later.replace(year=2020)) == [ImplicitKeep()]


def test_duplicate_asks_the_host() -> None:
    seen: set[str] = set()

    def check(key: str, seconds: int) -> bool:
        found = key in seen
        seen.add(key)
        return found

    script = 'require "duplicate"; if duplicate { discard; }'
    assert run(script, seen=check) == [ImplicitKeep()]
    assert run(script, seen=check) == [Discard()]


def test_vacation_action_fields() -> None:
    (action, keep) = run('require "vacation"; vacation :days 2 :from "me@example.net" "Away.";')
    assert isinstance(action, Vacation) and keep == ImplicitKeep()
    assert (action.seconds, action.subject, action.from_addr) == (
        172800,
        "Auto: Meeting tomorrow at 10",
        "me@example.net",
    )
    assert action.handle == "Away.<default-subject>me@example.net<NO-MIME>"


def test_editheader_changes_what_later_tests_see() -> None:
    script = (
        'require ["editheader", "fileinto"]; deleteheader "subject"; addheader "X-A" "1";'
        ' if allof (not exists "subject", header :is "x-a" "1") { fileinto "ok"; }'
    )
    out = run(script)
    assert [describe(a) for a in out if describe(a)] == ['fileinto "ok"']
    assert run('require "fileinto"; if exists "x-a" { fileinto "leak"; }') == [ImplicitKeep()]
    shared = MessageFacts(PLAIN)
    evaluate(compile_script('require "editheader"; deleteheader "subject";'), shared)
    assert shared.header("subject") == ["Meeting tomorrow at 10"]


def test_runtime_errors_fall_back_to_implicit_keep() -> None:
    assert run('require "ihave"; error "boom";') == [RuntimeFailure("boom"), ImplicitKeep()]
    out = run('require ["reject", "fileinto"]; fileinto "A"; reject "no";')
    assert isinstance(out[0], RuntimeFailure)


def test_date_index_follows_rfc5260() -> None:
    """Deliberate difference: Pigeonhole ignores :index for "received" (see SIEVE-DIFFERENCES.md)."""
    message = (MESSAGES / "received.eml").read_bytes()
    script = (
        'require ["date", "index", "fileinto"]; if date :index 2 :zone "+0000" :is "received" "second" "02" '
        '{ fileinto "second"; }'
    )
    assert run(script, message) == [FileInto("second")]


def test_describe_escapes_and_orders_flags() -> None:
    assert (
        describe(FileInto('a"b\\', copy=True, create=True, flags=("$X", "\\Seen")))
        == 'fileinto "a\\"b\\\\" :copy :create :flags "\\\\seen $X"'
    )
    assert (
        describe(Vacation("l1\nl2\t", "S", 60, "h", "f@x"))
        == 'vacation :seconds 60 :subject "S" :from "f@x" :reason "l1\\nl2\\t"'
    )


def test_ereject_refuses_at_delivery_time() -> None:
    """RFC 5429 §2.1: ``ereject`` (which Pigeonhole 0.5.19 lacks, SIEVE-DIFFERENCES.md) is a reject action."""
    actions = run('require "ereject"; ereject "Pas ici.";')
    assert [describe(a) for a in actions] == ['ereject "Pas ici."']
