# SPDX-License-Identifier: GPL-3.0-or-later
"""Differential tests: our Sieve engine and Pigeonhole's ``sieve-test`` must report the same actions.

Cases are generated from templates: every test expression below is run on every message of
``tests/data/sieve/messages``, and so is every action script. Deliberate differences are listed in
``SIEVE-DIFFERENCES.md`` and kept out of the corpus.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from groupware.sieve import Environment, MessageFacts, SieveCompileError, compile_script, describe, evaluate
from groupware.sieve.cli import DirectoryLocator

DATA = Path(__file__).resolve().parents[1] / "data" / "sieve"
MESSAGES = DATA / "messages"
INCLUDES = DATA / "include"

ENVELOPES = {
    "plain.eml": ("alice@example.com", "me@example.net"),
    "list.eml": ("list-bounces@lists.example.org", "me+lists@example.net"),
    "mime.eml": ("francois@exemple.fr", "Me@Example.NET"),
    "broken.eml": ("postmaster@example.net", "me@example.net"),
    "latin1.eml": ("rene@example.be", "me+fr@example.net"),
    "attachment.eml": ("bob@example.org", "me@example.net"),
    "autoreply.eml": ("noreply@example.com", "me@example.net"),
    "received.eml": ("alerts@monitoring.example.net", "ops+pager@example.net"),
}

#: (extensions to require, test) pairs; each becomes `if TEST { fileinto "yes"; } else { fileinto "no"; }`.
TESTS: list[tuple[str, str]] = [
    ("", "true"),
    ("", 'header :is "subject" "Meeting tomorrow at 10"'),
    ("", 'header :contains "subject" "release"'),
    ("", 'header :contains "Subject" ["budget", "ALERT"]'),
    ("", 'header :matches "subject" "*tomorrow*"'),
    ("", 'header :matches "subject" "?dev? *"'),
    ("", 'header :matches "subject" "*"'),
    ("", 'header :is "subject" ""'),
    ("", 'header :contains "x-missing" ""'),
    ("", 'header :comparator "i;octet" :contains "subject" "alert"'),
    ("", 'header :comparator "i;octet" :is "from" "alerts@monitoring.example.net"'),
    ("", 'header :contains ["from", "sender"] "lists.example.org"'),
    ("", 'header :contains "subject" "réunion"'),
    ("", 'header :contains "subject" "CAFÉ"'),
    ("", 'header :contains "subject" "café"'),
    ("", 'header :contains "from" "François"'),
    ("", 'header :contains "from" "René"'),
    ("", 'header :is "subject" "second subject"'),
    ("", 'header :matches "received" "*b.example*"'),
    ("", 'header :contains "list-id" "<dev.lists.example.org>"'),
    ("", 'exists "list-id"'),
    ("", 'exists ["from", "date", "message-id"]'),
    ("", 'not exists "auto-submitted"'),
    ("", "size :over 500"),
    ("", "size :under 300"),
    ("", "size :over 1K"),
    ("", 'address :is "from" "alice@example.com"'),
    ("", 'address :domain :is "from" "example.org"'),
    ("", 'address :domain :is ["to", "cc"] "EXAMPLE.org"'),
    ("", 'address :localpart :is "to" "me"'),
    ("", 'address :localpart :matches "cc" "carol*"'),
    ("", 'address :all :contains "from" "example"'),
    ("", 'address :is "to" "undisclosed-recipients:;"'),
    ("", 'address :contains "from" "broken"'),
    ("", 'address :domain :is "from" ""'),
    ("", 'address :localpart :is "cc" "x"'),
    ("", 'address :all :is "from" "Alice Martin <alice@example.com>"'),
    ("", 'address :matches "sender" "*=*"'),
    ("", 'anyof (header :contains "subject" "dev", address :domain :is "from" "example.com")'),
    ("", 'allof (header :contains "subject" "Meeting", not size :over 100K)'),
    ("", "allof (true, false)"),
    ("", 'anyof (false, not true, exists "x-foo")'),
    ("envelope", 'envelope :is "from" "alice@example.com"'),
    ("envelope", 'envelope :domain :is "to" "example.net"'),
    ("envelope", 'envelope :localpart :matches "to" "me*"'),
    ("envelope", 'envelope :is "from" ""'),
    ("envelope", 'envelope :all :contains "from" "example"'),
    ("envelope subaddress", 'envelope :detail :is "to" "lists"'),
    ("envelope subaddress", 'envelope :user :is "to" "me"'),
    ("envelope subaddress", 'envelope :detail :is "to" ""'),
    ("subaddress", 'address :detail :is "cc" "work"'),
    ("subaddress", 'address :user :is "to" "team"'),
    ("subaddress", 'address :detail :matches "to" "*"'),
    ("subaddress", 'address :detail :contains ["to", "bcc"] "arch"'),
    ("relational", 'header :value "gt" "x-spam-score" "5"'),
    (
        "relational comparator-i;ascii-numeric",
        'header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "7"',
    ),
    (
        "relational comparator-i;ascii-numeric",
        'header :value "lt" :comparator "i;ascii-numeric" "x-priority" "3"',
    ),
    (
        "relational comparator-i;ascii-numeric",
        'header :count "eq" :comparator "i;ascii-numeric" "received" "3"',
    ),
    (
        "relational comparator-i;ascii-numeric",
        'header :count "ge" :comparator "i;ascii-numeric" "subject" "2"',
    ),
    (
        "relational comparator-i;ascii-numeric",
        'address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "3"',
    ),
    ("relational comparator-i;ascii-numeric", 'address :count "eq" :comparator "i;ascii-numeric" "to" "0"'),
    ("relational", 'header :value "lt" "subject" "M"'),
    ("relational", 'header :value "ne" :comparator "i;octet" "x-priority" "3"'),
    ("relational", 'header :count "ne" "subject" "1"'),
    ("comparator-i;ascii-numeric", 'header :is :comparator "i;ascii-numeric" "x-spam-score" "07"'),
    ("comparator-i;ascii-numeric", 'header :is :comparator "i;ascii-numeric" "x-missing-or-text" "abc"'),
    ("regex", 'header :regex "subject" "^\\\\[dev\\\\]"'),
    ("regex", 'header :regex "subject" "[0-9]+%"'),
    ("regex", 'address :regex :domain "from" "example\\\\.(com|org)$"'),
    ("regex", 'header :regex :comparator "i;octet" "subject" "^alert"'),
    ("regex", 'header :regex "subject" "^ALERT"'),
    ("body", 'body :contains "room"'),
    ("body", 'body :contains "réunion"'),
    ("body", 'body :text :contains "invoice"'),
    ("body", 'body :raw :contains "=C3=A9"'),
    ("body", 'body :content "text/plain" :contains "budget"'),
    ("body", 'body :content "application/pdf" :contains "PDF"'),
    ("body", 'body :content "text" :contains "Bonjour"'),
    ("body", 'body :matches "*95%*"'),
    ("body", 'body :contains "gâteau"'),
    ("date", 'date :is "date" "year" "2024"'),
    ("date", 'date :is "date" "weekday" "2"'),
    ("date", 'date :originalzone :is "date" "hour" "10"'),
    ("date", 'date :zone "+0000" :is "date" "date" "2024-02-01"'),
    ("date", 'date :zone "-0500" :matches "date" "time" "*:30:*"'),
    ("date", 'date :originalzone :is "date" "zone" "+1300"'),
    ("date", 'date :zone "+0100" :is "date" "iso8601" "2024-03-05T10:00:00+01:00"'),
    ("date", 'date :zone "+0000" :is "date" "julian" "60374"'),
    ("date", 'date :zone "+0000" :is "date" "std11" "Fri, 01 Mar 2024 08:15:30 +0000"'),
    ("date relational", 'date :value "ge" :zone "+0000" "date" "date" "2024-03-01"'),
    ("date", 'date :zone "+0000" :is "date" "month" "02"'),
    ("date relational", 'currentdate :value "ge" "year" "2020"'),
    ("date", 'currentdate :matches "year" "2*"'),
    ("date relational", 'currentdate :zone "+0000" :value "gt" "date" "2000-01-01"'),
    ("date index", 'date :index 1 :zone "+0000" :is "received" "second" "02"'),
    ("index", 'header :index 1 :contains "received" "c.example"'),
    ("index", 'header :index 2 :last :contains "received" "b.example"'),
    ("index", 'header :index 1 :last :is "subject" "second subject"'),
    ("index", 'header :index 3 :is "subject" "x"'),
    ("index subaddress", 'address :index 1 :detail :is "to" "pager"'),
    ("variables", 'string :is "" ""'),
    ("variables relational", 'string :count "eq" ["a", "", "b"] "2"'),
    ("variables", 'string :matches "abc" "a*"'),
    ("variables relational", 'string :count "eq" ["a", "", "b"] "2"'),
    ("imap4flags", 'hasflag "\\\\Seen"'),
    ("environment", 'environment :is "location" "MS"'),
    ("environment", 'environment :is "phase" "post"'),
    ("environment", 'environment :contains "no-such-item" ""'),
    ("ihave", 'ihave "fileinto"'),
    ("ihave", 'ihave ["body", "no-such-extension"]'),
    ("mailbox", 'mailboxexists "INBOX"'),
    ("duplicate", "duplicate"),
    ("duplicate", 'duplicate :header "subject" :seconds 60'),
    ("enotify", 'valid_notify_method "mailto:alice@example.com"'),
    ("enotify", 'valid_notify_method "xmpp:alice@example.com"'),
    ("enotify", 'notify_method_capability "mailto:a@b.c" "online" "maybe"'),
    ("encoded-character", 'header :contains "subject" "${hex:4d 65}eting"'),
    ("encoded-character", 'header :contains "subject" "${unicode:e9}union"'),
    ("", 'header :contains "subject" "${hex:4d 65}eting"'),
    ("body", 'body :text :contains "SECRETWORD"'),
    ("body", 'body :contains "<b>"'),
    ("body", 'body :raw :contains "Content-Type: text/html"'),
    ("body", 'body :content "multipart" :contains "multi-part message"'),
    ("body", 'body :content "" :contains "invoice"'),
    ("body", 'body :content "text/html" :contains "réunion"'),
    ("body", 'body :is "disk /var is at 95%"'),
    ("body", 'body :matches "Hello*Alice*"'),
    ("body relational comparator-i;ascii-numeric", 'body :count "ge" :comparator "i;ascii-numeric" "1"'),
    ("body regex", 'body :regex "[0-9]{4} EUR"'),
    ("", 'header :is "to" "me@example.net"'),
    ("", 'header :contains "cc" "Carol"'),
    ("", 'header :matches "from" "*<*@*>"'),
    ("", 'address :all :is "to" "ME@EXAMPLE.NET"'),
    ("", 'address :all :comparator "i;octet" :is "cc" "bob@Example.ORG"'),
    ("", 'address :domain :comparator "i;octet" :is "cc" "example.org"'),
    ("", 'header :is "from" "François Lévêque <francois@exemple.fr>"'),
    ("", 'header :contains "subject" "Réunion département et budget"'),
    ("", 'address :is "bcc" "me+archive@example.net"'),
    ("", 'header :contains "sender" "="'),
    ("", 'header :matches "message-id" "<*@example.*>"'),
    ("variables", 'string :matches "${hex:41}" "$*"'),
    ("variables", 'string :is "a" ["b", "A"]'),
    ("variables", 'string :contains :comparator "i;octet" "Hello" "hello"'),
    ("relational variables", 'string :value "gt" "b" "a"'),
    ("relational", 'header :value "ge" "subject" "["'),
    ("relational", 'address :value "gt" :domain "from" "example.com"'),
    ("relational envelope", 'envelope :value "lt" :localpart "from" "m"'),
    ("relational", 'header :value "le" "x-priority" "3"'),
    (
        "relational comparator-i;ascii-numeric",
        'header :value "gt" :comparator "i;ascii-numeric" "subject" "5"',
    ),
    (
        "relational comparator-i;ascii-numeric",
        'header :value "lt" :comparator "i;ascii-numeric" "x-spam-score" "0"',
    ),
    ("", 'exists "subject"'),
    ("", 'header :contains "subject" ""'),
    ("", 'not header :matches "subject" "*"'),
    ("", 'header :matches "subject" "* *"'),
    ("", 'header :matches "subject" "\\[dev\\]*"'),
    ("", 'header :matches "subject" "?*?"'),
    ("", "size :under 1M"),
    ("", "size :over 280"),
]

#: Whole scripts with actions beyond fileinto; each runs on every message.
ACTION_SCRIPTS: list[str] = [
    "keep;",
    "discard;",
    "stop; discard;",
    'require "fileinto"; fileinto "Archive"; fileinto "Archive";',
    'require ["fileinto", "copy"]; fileinto :copy "Copies";',
    'require ["fileinto", "mailbox"]; fileinto :create "New/Folder";',
    'require "fileinto"; fileinto "INBOX"; fileinto "Other";',
    'redirect "bob@example.org";',
    'require "copy"; redirect :copy "bob@example.org"; redirect "bob@EXAMPLE.org";',
    (
        'redirect "a@example.org"; redirect "b@example.org"; redirect "c@example.org"; redirect '
        '"d@example.org"; '
        'redirect "e@example.org";'
    ),
    'require "reject"; reject "Not wanted here.";',
    'require ["reject", "fileinto"]; fileinto "A"; reject "no";',
    'require "vacation"; vacation "I am away until Monday.";',
    (
        'require "vacation"; vacation :days 3 :subject "Away" :from "me@example.net" :addresses '
        '["me@example.net"] '
        '"Back on Monday.";'
    ),
    'require "vacation-seconds"; vacation :seconds 3600 :subject "Out" :handle "h1" "Back soon.";',
    'require "vacation"; vacation "a"; vacation "b";',
    (
        'require ["vacation", "variables"]; if header :matches "subject" "*" { set "s" "${1}"; } '
        'vacation :subject "Re: ${s}" "Thanks for your mail about ${s}.";'
    ),
    'require "imap4flags"; addflag "\\\\Seen"; addflag ["$Work", "\\\\Flagged"];',
    'require "imap4flags"; setflag "A B C"; removeflag "b"; keep;',
    'require ["imap4flags", "fileinto"]; fileinto :flags "\\\\Answered Junk" "Junk"; keep :flags "x";',
    (
        'require ["imap4flags", "variables"]; set "f" ""; addflag "f" "one two"; if hasflag "f" "TWO" '
        '{ addflag "\\\\Flagged"; }'
    ),
    'require ["fileinto", "variables"]; if header :matches "subject" "*t*" { fileinto "${1}-${2}"; }',
    'require ["fileinto", "variables"]; if address :matches :localpart "from" "?*" { fileinto "u-${1}-${2}"; '
    "}",
    (
        'require ["fileinto", "variables"]; set :upper "a" "loud"; set :lowerfirst "b" "QUIET"; '
        'set :length "c" "four"; set :quotewildcard "d" "a*b?"; fileinto "${a}.${b}.${c}.${d}";'
    ),
    'require ["fileinto", "variables"]; set "x" "1"; set "x" "${x}${x}"; set "x" "${x}${x}"; fileinto '
    '"n${x}";',
    (
        'require ["fileinto", "variables", "regex"]; if header :regex "subject" "^([A-Za-z]+) (.*)$" '
        '{ fileinto "r-${1}"; }'
    ),
    (
        'require ["fileinto", "variables", "date"]; if date :zone "+0000" :matches "date" "date" "*" '
        '{ fileinto "d/${1}"; }'
    ),
    (
        'require ["fileinto", "subaddress", "envelope", "variables"]; if envelope :detail :matches "to" "*" '
        '{ fileinto "plus/${1}"; }'
    ),
    'require ["enotify"]; notify :importance "1" :message "New mail" "mailto:alice@example.com";',
    (
        'require ["enotify", "variables"]; if header :matches "from" "*" { set "f" "${1}"; } '
        'notify :from "me@example.net" "mailto:ops@example.net?subject=alert";'
    ),
    (
        'require ["editheader", "fileinto"]; addheader "X-Tagged" "yes"; if header :is "x-tagged" "yes" '
        '{ fileinto "Tagged"; }'
    ),
    'require ["editheader", "fileinto"]; deleteheader "subject"; if not exists "subject" { fileinto "NoSubj";'
    " }",
    (
        'require ["editheader", "fileinto"]; deleteheader :index 1 "received"; if header :contains '
        '"received" "d.example" '
        '{ fileinto "Still"; }'
    ),
    'require "include"; include :personal "helper"; keep;',
    (
        'require ["include", "variables", "fileinto"]; global "tag"; set "tag" "from-main"; include "settag";'
        " "
        'fileinto "${tag}";'
    ),
    'require "include"; include :global "global-spam";',
    'require ["include"]; include :once "helper"; include :once "helper";',
    'require ["ihave", "fileinto"]; if ihave "no-such" { nosuchcommand; } else { fileinto "fallback"; }',
    'require "ihave"; if true { error "stopped here"; }',
    'require ["fileinto"]; if header :contains "subject" "dev" { fileinto "Dev"; stop; } fileinto "Rest";',
    'require ["fileinto"]; if false { discard; } elsif exists "cc" { fileinto "cc"; } else { fileinto "nocc";'
    " }",
    'require ["fileinto", "encoded-character"]; fileinto "caf${unicode:e9}";',
    'require "fileinto"; fileinto "Collègues/Lefèvre";',
    'require "fileinto"; fileinto "inbox";',
    'require "enotify"; notify "mailto:";',
    "keep; discard;",
    "discard; keep;",
    'require ["vacation", "reject"]; vacation "away"; reject "no";',
    'require ["copy"]; redirect :copy "a@example.org"; redirect :copy "a@example.org"; discard;',
    'require "vacation"; vacation :mime text:\nContent-Type: text/plain; charset=utf-8\n\nJe suis '
    "absent.\n.\n;",
    'require "vacation"; vacation :subject "Absence — réunion" "Je suis absent jusqu\'à lundi.";',
    'require "vacation"; vacation :days 1 :handle "x" "one"; keep;',
    'require ["enotify"]; notify "mailto:a@example.org"; notify "mailto:a@example.org";',
    'require ["enotify"]; notify :message "one" "mailto:a@example.org"; notify :message "two" '
    '"mailto:b@example.org";',
    (
        'require ["fileinto", "variables", "regex"]; if header :regex "from" "([a-z]+)@([a-z.]+)" '
        '{ fileinto "${0}|${1}|${2}|${3}"; }'
    ),
    'require ["fileinto", "variables"]; if string :matches "abc.def" "*.*" { fileinto "${2}${1}"; }',
    (
        'require ["fileinto", "variables"]; set :lower "a" "ÉCOLE Mixed"; set :upperfirst "b" "élan"; '
        'fileinto "${a}/${b}";'
    ),
    'require ["fileinto", "variables"]; set :length "n" "héllo"; fileinto "len${n}";',
    'require ["fileinto", "variables"]; set :upper :length "n" "abc"; fileinto "x${n}";',
    'require ["fileinto", "variables"]; set "v" "${unknown}x${1}"; fileinto "v${v}";',
    'require ["fileinto", "variables"]; set "a" "b"; set "B" "c"; fileinto "${A}${b}";',
    'require ["fileinto", "variables"]; set "a" "${"; fileinto "x${a}{a}";',
    (
        'require ["fileinto", "variables"]; if header :matches "subject" "*" { if header :matches "from" "*" '
        "{} } "
        'fileinto "s-${1}";'
    ),
    (
        'require ["fileinto", "variables"]; if header :matches "subject" "*" {} if header :matches "x-none" '
        '"*" {} '
        'fileinto "kept-${1}";'
    ),
    'require ["imap4flags"]; addflag "\\seen"; addflag "\\SEEN \\Draft $Label1"; removeflag "\\Draft";',
    'require ["imap4flags", "variables"]; set "fl" "\\Answered"; setflag "${fl} extra";',
    'require ["imap4flags", "fileinto"]; addflag "a"; fileinto "A"; setflag "b"; fileinto "B"; keep;',
    'require ["imap4flags", "fileinto"]; fileinto :flags "" "E";',
    (
        'require ["editheader", "index", "fileinto"]; addheader :last "X-Hello" "World"; '
        'if header :index 1 :last :is "x-hello" "World" { fileinto "last"; }'
    ),
    (
        'require ["editheader", "fileinto"]; addheader :last "X-Hello" "World"; '
        'if header :is "x-hello" "World" { fileinto "last"; }'
    ),
    (
        'require ["editheader", "fileinto", "relational"]; deleteheader :contains "received" "b.example"; '
        'if header :count "eq" "received" "2" { fileinto "two"; }'
    ),
    (
        'require ["editheader", "fileinto"]; deleteheader :contains "subject" "dev"; '
        'if exists "subject" { fileinto "has"; }'
    ),
    'require ["editheader", "fileinto"]; deleteheader "received"; if exists "received" { fileinto "stay"; }',
    (
        'require ["editheader", "fileinto"]; addheader "Auto-Submitted" "yes"; if exists "auto-submitted" '
        '{ fileinto "auto"; }'
    ),
    'require ["fileinto", "body", "variables"]; if body :matches "*room*" { fileinto "b${2}"; }',
    (
        'require ["fileinto", "date", "variables"]; if date :originalzone :matches "date" "zone" "*" '
        '{ fileinto "z${1}"; }'
    ),
    (
        'require ["fileinto", "date", "variables"]; if date :zone "+0530" :matches "date" "iso8601" "*" '
        '{ fileinto "i${1}"; }'
    ),
    (
        'require ["fileinto", "date", "variables"]; if date :zone "-0000" :matches "date" "std11" "*" '
        '{ fileinto "s${1}"; }'
    ),
    (
        'require ["fileinto", "date", "variables"]; if date :zone "+0000" :matches "date" "weekday" "*" '
        '{ fileinto "w${1}"; }'
    ),
    (
        'require ["fileinto", "include", "variables"]; include :personal "helper"; include :personal '
        '"helper"; '
        'fileinto "after";'
    ),
    "if true { stop; } keep;",
    (
        'require "fileinto"; if anyof (header :contains "subject" "x", header :contains "subject" "e") '
        '{ fileinto "any"; }'
    ),
    'require "fileinto"; fileinto "a"; fileinto "b"; fileinto "c"; redirect "x@example.org";',
    # Variables are cut to 4096 octets at a UTF-8 boundary (sieve_variables_max_variable_size), before the
    # modifiers; an expanded string is not (issue 13).
    'require ["fileinto", "variables"]; set "a" "0123456789"; '
    + 'set "a" "${a}${a}"; ' * 12
    + 'set :length "n" "${a}"; set :length "m" "${a}${a}"; fileinto "len${n}-${m}";',
    'require ["fileinto", "variables"]; set "e" "é"; '
    + 'set "e" "${e}${e}${e}${e}${e}${e}${e}${e}"; ' * 4
    + 'set :length "n" "${e}"; set "f" "x${e}"; set :length "m" "${f}"; set "g" "xy${e}"; '
    'set :length "o" "${g}"; fileinto "${n}-${m}-${o}";',
    'require ["fileinto", "variables"]; set "a" "' + "ab" * 2100 + '"; '
    'if string :matches "${a}${a}" "*b*b" { set :length "n" "${1}"; set :length "m" "${2}"; '
    'fileinto "n${n}-${m}"; }',
    'require ["fileinto", "variables"]; ' + "".join(f'set "v{i}" "{i}"; ' for i in range(255)) + "keep;",
    # :matches with many stars fills the match variables leftmost, the last star taking the rest.
    (
        'require ["fileinto", "variables"]; if header :matches "subject" "*e*e*?" '
        '{ fileinto "${1}|${2}|${3}|${4}"; }'
    ),
]


def _script(requires: str, test: str) -> str:
    names = ["fileinto", *requires.split()]
    req = ", ".join(f'"{n}"' for n in names)
    return f'require [{req}];\nif {test} {{\n  fileinto "yes";\n}} else {{\n  fileinto "no";\n}}\n'


def _cases() -> list[tuple[str, str, Path, str, str]]:
    scripts = [(f"t{i:03d}", _script(r, t)) for i, (r, t) in enumerate(TESTS)]
    scripts += [(f"a{i:03d}", s) for i, s in enumerate(ACTION_SCRIPTS)]
    out = []
    for name, script in scripts:
        for message, (sender, recipient) in ENVELOPES.items():
            out.append(
                (f"{name}-{message.removesuffix('.eml')}", script, MESSAGES / message, sender, recipient)
            )
    return out


CASES = _cases()


def ours(script: str, message: Path, sender: str, recipient: str) -> list[str | None]:
    """Our actions in the CLI's line form."""
    try:
        program = compile_script(script, locator=DirectoryLocator(INCLUDES / "personal", INCLUDES / "global"))
    except SieveCompileError:
        return ["error compile"]
    env = Environment(envelope_from=sender, envelope_to=recipient)
    lines = [describe(a) for a in evaluate(program, MessageFacts(message.read_bytes()), env)]
    return [line for line in lines if line is not None]


@pytest.fixture(scope="module")
def reference(pigeonhole: Any) -> dict[str, list[str]]:
    """Pigeonhole's actions for every case, computed once in parallel."""
    results = pigeonhole.run_many([(s, m, f, t) for _, s, m, f, t in CASES])
    return {case[0]: result for case, result in zip(CASES, results, strict=True)}


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 300


@pytest.mark.parametrize(
    ("case_id", "script", "message", "sender", "recipient"), CASES, ids=[c[0] for c in CASES]
)
def test_same_actions_as_pigeonhole(
    pigeonhole: Any,
    reference: dict[str, list[str]],
    case_id: str,
    script: str,
    message: Path,
    sender: str,
    recipient: str,
) -> None:
    expected = reference[case_id]
    assert "error compile" not in expected, f"the corpus holds a script Pigeonhole rejects:\n{script}"
    assert pigeonhole.normalise(ours(script, message, sender, recipient)) == expected, script
