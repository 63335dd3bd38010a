# SPDX-License-Identifier: GPL-3.0-or-later
"""Compile-time verdicts: a script we accept, Pigeonhole's ``sievec`` accepts, and the other way round.

``INVALID`` holds scripts Pigeonhole rejects (syntax, unknown names, missing ``require``, misplaced
``require``, wrong arguments, bad values); ``VALID`` holds scripts it accepts, many of which sievelib 1.6
wrongly rejects.
"""

from __future__ import annotations

from typing import Any

import pytest

from groupware.sieve import SieveCompileError, compile_script

INVALID: list[str] = [
    # syntax (RFC 5228 §8)
    "keep",
    "keep;;",
    'fileinto "a"',
    "if true keep;",
    "if true { keep; ",
    "}",
    "keep; }",
    'require "fileinto"; fileinto "unterminated;',
    "/* unterminated comment",
    'require ["fileinto" "envelope"];',
    'require ["fileinto",];',
    "require [];",
    'if header :is "a" "b" { keep; } else keep;',
    "if (true) { keep; }",
    "if anyof true { keep; }",
    "if anyof (true false) { keep; }",
    "if anyof () { keep; }",
    "if not { keep; }",
    "stop true;",
    "keep 1;",
    'keep "x";',
    "discard :copy;",
    "text:\nfoo\n.\n",
    "if true { keep; } elsif { keep; }",
    "if true { keep; } else true { keep; }",
    "123;",
    ":tag;",
    '"string";',
    "if true { keep; } else { keep; } else { keep; }",
    "elsif true { keep; }",
    "else { keep; }",
    "keep; else { discard; }",
    # require placement and names (RFC 5228 §3.2)
    'keep; require "fileinto";',
    'if true { require "fileinto"; }',
    'require "no-such-extension";',
    'require ["fileinto", "bogus"];',
    "require 1;",
    "require;",
    'require :copy "copy";',
    'require "comparator-i;no-such";',
    'require "vacation-days";',
    # unknown commands / tests / missing require
    'fileinto "a";',
    "foo;",
    'reject "no";',
    'vacation "away";',
    'redirect :copy "a@b.c";',
    'require "fileinto"; fileinto :copy "a";',
    'require "fileinto"; fileinto :create "a";',
    'require "fileinto"; fileinto :flags "x" "a";',
    'setflag "x";',
    'set "a" "b";',
    'if envelope "from" "a" { keep; }',
    'if body :contains "x" { keep; }',
    'if header :regex "subject" "x" { keep; }',
    'if header :value "gt" "x" "1" { keep; }',
    'if header :count "gt" "x" "1" { keep; }',
    'if address :user "to" "x" { keep; }',
    'if date :is "date" "year" "2024" { keep; }',
    'if currentdate :is "year" "2024" { keep; }',
    'if string "a" "b" { keep; }',
    'if environment "name" "x" { keep; }',
    'if ihave "x" { keep; }',
    "if duplicate { keep; }",
    'if header :index 1 "x" "y" { keep; }',
    'if mailboxexists "x" { keep; }',
    'if hasflag "x" { keep; }',
    'addheader "X-A" "b";',
    'deleteheader "X-A";',
    'include "x";',
    'notify "mailto:a@b.c";',
    "if foo { keep; }",
    "if true { foo; }",
    'if header :comparator "i;ascii-numeric" :is "x" "1" { keep; }',
    'require "vacation"; vacation :seconds 10 "x";',
    'require "variables"; if string :regex "a" "b" { keep; }',
    # arguments (RFC 5228 §2.6)
    "redirect;",
    'redirect "a@b.c" "d@e.f";',
    'redirect ["a@b.c", "d@e.f"];',
    "redirect 1;",
    'require "fileinto"; fileinto;',
    'require "fileinto"; fileinto ["a", "b"];',
    'require "fileinto"; fileinto "a" "b";',
    'if header "x" { keep; }',
    'if header :is "x" { keep; }',
    'if header :is :contains "x" "y" { keep; }',
    'if header :is :is "x" "y" { keep; }',
    'if header :comparator "x" { keep; }',
    'if header :comparator "i;nope" "x" "y" { keep; }',
    'if header :no-such-tag "x" "y" { keep; }',
    'if header :all "x" "y" { keep; }',
    'if address :localpart :domain "to" "y" { keep; }',
    'if address :is "subject" "y" { keep; }',
    "if size 10 { keep; }",
    'if size :over "10" { keep; }',
    "if size :over :under 10 { keep; }",
    "if size :over 10 20 { keep; }",
    "if exists { keep; }",
    "if exists 1 { keep; }",
    'if true "x" { keep; }',
    "if not true false { keep; }",
    'require "envelope"; if envelope :is "subject" "x" { keep; }',
    'require "relational"; if header :value "xx" "x" "1" { keep; }',
    'require "relational"; if header :value "x" "1" { keep; }',
    'require "regex"; if header :regex "x" "(" { keep; }',
    'require "regex"; if header :regex "x" "[a" { keep; }',
    'require "comparator-i;ascii-numeric"; if header :contains :comparator "i;ascii-numeric" "x" "1" { keep; '
    "}",
    'require "vacation"; vacation;',
    'require "vacation"; vacation :days "3" "x";',
    'require "vacation"; vacation :subject "a" :subject "b" "x";',
    'require "vacation"; vacation :days 1 :seconds 1 "x";',
    'require "vacation"; vacation :mime;',
    'require "imap4flags"; addflag;',
    'require "imap4flags"; addflag 1;',
    'require "imap4flags"; keep :flags;',
    'require "variables"; set "a";',
    'require "variables"; set "a-b" "c";',
    'require "variables"; set "1" "c";',
    'require "variables"; set :upper :lower "a" "c";',
    'require "variables"; set :upperfirst :lowerfirst "a" "c";',
    'require "date"; if date "date" "year" { keep; }',
    'require ["date", "index"]; if date :last :is "date" "year" "2024" { keep; }',
    'require "index"; if header :index "1" :is "x" "y" { keep; }',
    'require "index"; if header :last :is "x" "y" { keep; }',
    'require "enotify"; notify "xmpp:a@b.c";',
    'require "enotify"; notify :importance "4" "mailto:a@b.c";',
    'require "enotify"; notify;',
    'require "editheader"; addheader "X A" "b";',
    'require "editheader"; addheader "X-A";',
    'require "editheader"; deleteheader;',
    'require "editheader"; addheader "X-A:" "b";',
    'require "include"; include;',
    'require "include"; include :personal :global "x";',
    'require "include"; include "no-such-script";',
    'require "include"; include "../escape";',
    'require "include"; global "x";',
    'require "reject"; reject;',
    'require "reject"; reject 1;',
    'require "body"; if body :raw :text :contains "x" { keep; }',
    'require "body"; if body :content :contains "x" { keep; }',
    'require "duplicate"; if duplicate :header "a" :uniqueid "b" { keep; }',
    'require "duplicate"; if duplicate :seconds "1" { keep; }',
    'require "mailbox"; if mailboxexists { keep; }',
    'require "ihave"; error;',
    'require "environment"; if environment "name" { keep; }',
    'require "encoded-character"; keep "${unicode:110000}";',
    'require "envelope"; if envelope :detail "to" "x" { keep; }',
    'redirect "not an address";',
    'redirect "";',
    'require "imap4flags"; setflag "v" "a"; addflag "v" ["b"]; removeflag "v" "a"; if hasflag "v" "b" { keep;'
    " }",
    'require ["regex", "variables"]; set :quoteregex "a" "b.c";',
    'require "enotify"; notify :options ["a"] :message "m" :from "a@b.c" "mailto:x@y.z?subject=hi&body=b";',
    # at most 255 variables per scope (sieve_variables_max_scope_size, issue 13)
    'require "variables"; ' + "".join(f'set "v{i}" "{i}"; ' for i in range(256)),
    'require ["variables", "imap4flags"]; ' + "".join(f'addflag "f{i}" "x"; ' for i in range(256)),
    'require ["variables", "include"]; ' + "".join(f'global "g{i}"; ' for i in range(256)),
]

VALID: list[str] = [
    'require "enotify"; notify :options ["a=b"] :message "m" :from "a@b.c" "mailto:x@y.z?subject=hi&body=b";',
    (
        'require ["imap4flags", "variables"]; setflag "v" "a"; addflag "v" ["b"]; removeflag "v" "a"; '
        'if hasflag "v" "b" { keep; }'
    ),
    'require "enotify"; notify "mailto:";',
    'require "date"; if currentdate :is "century" "21" { keep; }',
    'require "date"; if date :is "date" "epoch" "1" { keep; }',
    "",
    "# only a comment\n",
    "keep;",
    "KEEP;",
    "if true { } else { }",
    'require ["fileinto", "envelope"]; require "reject";',
    'require "comparator-i;octet"; require "comparator-i;ascii-casemap";',
    'require ["subaddress"]; if address :user "to" "me" { keep; }',
    'require ["subaddress", "envelope"]; if envelope :detail "to" "lists" { keep; }',
    'require "variables"; if string :is "${a}" "" { keep; }',
    'require "index"; if header :index 1 :last :is "received" "x" { keep; }',
    'require "editheader"; addheader :last "X-A" "b"; deleteheader :index 1 :contains "received" "x";',
    'require "include"; include :optional "no-such-script";',
    'require ["include", "variables"]; global ["a", "b"]; set "a" "1";',
    'require "duplicate"; if duplicate :handle "h" :header "subject" :seconds 10 :last { discard; }',
    (
        'require ["relational", "comparator-i;ascii-numeric"]; if header :value "lt" :comparator "i;'
        'ascii-numeric" '
        '"x" "10" { keep; }'
    ),
    'require "vacation-seconds"; vacation :seconds 0 "x";',
    'require "vacation"; vacation :days 0 :mime :handle "h" :addresses ["a@b.c"] :from "a@b.c" "x";',
    'require ["enotify", "variables"]; set :encodeurl "a" "b c";',
    'require "ihave"; if ihave "no-such-extension" { no_such_command 1 2 3; }',
    'require "ihave"; error "x";',
    'require ["fileinto", "mailbox"]; if mailboxexists ["a", "b"] { fileinto :create "c"; }',
    'require "environment"; if environment :contains "name" "x" { keep; }',
    'require "date"; if currentdate :zone "+0100" :is "weekday" "1" { keep; }',
    'require "date"; if date :originalzone :is "date" "zone" "+0000" { keep; }',
    'require "body"; if body :content ["text", "application/pdf"] :contains "x" { keep; }',
    'require "encoded-character"; keep; if header :is "x" "${hex:41 42}${unicode:1F600}" { keep; }',
    'if header :comparator "i;octet" :matches "x" "*" { keep; }',
    'if address :all :comparator "i;octet" :contains "to" "x" { stop; }',
    "if size :over 10M { discard; }",
    "if anyof (true, false, not true) { keep; } elsif allof (true) { discard; } else { stop; }",
    'require "fileinto"; fileinto "INBOX";',
    'require "reject"; reject text: # comment\nline\n..dot\n.\n;',
    'redirect "a+b@example.com";',
    "/* multi\nline */ keep;",
    'require "copy"; redirect :copy "x@example.org";',
    'require "variables"; ' + "".join(f'set "v{i}" "{i}"; set "V{i}" "again"; ' for i in range(255)),
    'require ["variables", "include"]; ' + "".join(f'global "g{i}"; set "v{i}" "x"; ' for i in range(255)),
    'require ["imap4flags", "fileinto"]; fileinto :flags ["a", "\\\\Seen"] "x";',
]


def ours_compiles(script: str) -> bool:
    """Whether our compiler accepts the script (includes resolve to nothing)."""
    try:
        compile_script(script)
    except SieveCompileError:
        return False
    return True


@pytest.fixture(scope="module")
def verdicts(pigeonhole: Any) -> dict[str, bool]:
    """Pigeonhole's verdict on every script, computed once in parallel."""
    scripts = INVALID + VALID
    return dict(zip(scripts, pigeonhole.compiles_many(scripts), strict=True))


def test_enough_invalid_scripts() -> None:
    assert len(INVALID) >= 100


@pytest.mark.parametrize("script", INVALID, ids=[f"invalid{i:03d}" for i in range(len(INVALID))])
def test_invalid_rejected_by_both(verdicts: dict[str, bool], script: str) -> None:
    assert verdicts[script] is False, "Pigeonhole accepts this script; move it to VALID"
    assert ours_compiles(script) is False


@pytest.mark.parametrize("script", VALID, ids=[f"valid{i:03d}" for i in range(len(VALID))])
def test_valid_accepted_by_both(verdicts: dict[str, bool], script: str) -> None:
    assert verdicts[script] is True, "Pigeonhole rejects this script; move it to INVALID"
    assert ours_compiles(script) is True


def test_rules_model_output_compiles_with_sievec(pigeonhole: Any) -> None:
    """A script written by our rules model (with the vacation helper) is accepted by sievec."""
    import datetime as dt
    from pathlib import Path

    from groupware.sieve.rules import VacationSettings, parse_rules, render, with_vacation

    data = Path(__file__).resolve().parents[1] / "data" / "sieve" / "rules"
    settings = VacationSettings(
        "Absente — congés",
        "Bonjour,\n.\nMarie",
        dt.date(2024, 7, 1),
        dt.date(2099, 7, 31),
        "+0100",
        dt.time(8),
        dt.time(18),
        (1, 2, 3, 4, 5),
        3,
        "m@ac.fr",
        ("n@ac.fr",),
    )
    paths = sorted(data.glob("*.sieve"))
    assert len(paths) >= 7
    for path in paths:
        original = path.read_bytes().decode()
        assert pigeonhole.compiles(original), path.name  # the Roundcube-format data itself
        assert render(parse_rules(original)) == original
        text = render(with_vacation(parse_rules(original), settings))
        assert render(parse_rules(text)) == text  # our own output reads back the same, byte for byte
        assert pigeonhole.compiles(text), text
        assert ours_compiles(text)
        without = render(with_vacation(parse_rules(text), None))
        assert pigeonhole.compiles(without), without
        assert ours_compiles(without)
