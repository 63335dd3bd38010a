# SPDX-License-Identifier: GPL-3.0-or-later
"""Roundcube-format rules: byte-for-byte round trip, editing, the vacation helper, and vacation
suppression.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from groupware.sieve import Environment, MessageFacts, Vacation, compile_script, evaluate
from groupware.sieve.rules import (
    Rule,
    RuleSet,
    RulesFormatError,
    VacationSettings,
    parse_rules,
    render,
    vacation_rule,
    with_vacation,
)
from groupware.sieve.vacation import build_reply, decide

DATA = Path(__file__).resolve().parents[1] / "data" / "sieve"
ROUNDCUBE = sorted((DATA / "rules").glob("roundcube-*.sieve"))


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


@pytest.mark.parametrize("path", ROUNDCUBE, ids=[p.stem for p in ROUNDCUBE])
def test_roundcube_scripts_round_trip_byte_for_byte(path: Path) -> None:
    text = read(path)
    rules = parse_rules(text)
    assert render(rules) == text
    rules.requires = None  # recomputed from the rules themselves
    assert render(rules) == text
    compile_script(text)


@pytest.mark.parametrize("path", ROUNDCUBE, ids=[p.stem for p in ROUNDCUBE])
def test_a_rules_script_saved_with_lf_reads_the_same_and_is_written_with_crlf(path: Path) -> None:
    text = read(path)
    assert "\r\n" in text
    lf = parse_rules(text.replace("\r\n", "\n"))
    assert lf == parse_rules(text)
    assert render(lf) == text
    mixed = text.replace("\r\n", "\n", 3)
    assert render(parse_rules(mixed)) == text


def test_rules_read_back() -> None:
    rules = parse_rules(read(DATA / "rules" / "roundcube-filters.sieve"))
    assert [r.name for r in rules.rules] == ["Spam", "Chef", "Listes", "Ancien"]
    chef = rules.find("Chef")
    assert chef is not None and chef.join == "allof" and len(chef.tests) == 2
    assert chef.actions == ['addflag "\\\\Flagged"', 'fileinto :copy "Direction"']
    ancien = rules.find("Ancien")
    assert ancien is not None and not ancien.enabled and ancien.actions == ["discard", "stop"]
    assert rules.prefix == "# Filters written by Roundcube\r\n"


def test_roundcube_header_comes_before_the_require_line() -> None:
    """Roundcube writes the script's leading comments first, then an empty line, then ``require``."""
    rules = parse_rules(read(DATA / "rules" / "roundcube-header-comments.sieve"))
    assert rules.header == "# Filtres de Marie Dupont\r\n# Modifiés avec Roundcube"
    assert rules.prefix == "" and rules.requires is not None and "subaddress" in rules.requires
    assert [r.name for r in rules.rules][:3] == ["Direction", "Listes de diffusion", "Inscriptions"]
    tickets = rules.find("Tickets")
    assert (
        tickets is not None
        and not tickets.enabled
        and tickets.actions == ['redirect :copy "support@ac-exemple.fr"']
    )
    rules.rules.append(Rule("Nouveau", ['header :contains "subject" "x"'], ['fileinto "X"'], "anyof"))
    rules.requires = None
    assert render(rules).startswith("# Filtres de Marie Dupont\r\n# Modifiés avec Roundcube\r\n\r\nrequire [")


def test_roundcube_require_line_rules() -> None:
    """vacation-seconds stands alone, i;ascii-numeric brings relational, duplicate's :seconds is not
    vacation's."""
    seconds = parse_rules(read(DATA / "rules" / "roundcube-vacation-seconds.sieve"))
    assert seconds.requires == ["date", "relational", "vacation-seconds"]
    only = RuleSet(
        [Rule("n", ['header :is :comparator "i;ascii-numeric" "x-level" "3"'], ["discard"], "anyof")]
    )
    assert render(only).startswith('require ["comparator-i;ascii-numeric","relational"];\r\n')
    dup = parse_rules(read(DATA / "rules" / "roundcube-editheader-duplicate.sieve"))
    dup.requires = None
    assert render(dup).startswith('require ["duplicate","editheader","fileinto","index"];\r\n')


def test_script_without_require_keeps_its_header() -> None:
    rules = parse_rules(read(DATA / "rules" / "roundcube-no-require.sieve"))
    assert rules.requires is None and rules.header.startswith("# Script du secrétariat")
    assert [r.name for r in rules.rules] == ["Publicité", "Désactivée", "Tout le reste"]
    everything = rules.find("Tout le reste")
    assert everything is not None and everything.tests == [] and everything.actions == ["keep"]


def test_editing_a_rule() -> None:
    rules = parse_rules(read(DATA / "rules" / "roundcube-filters.sieve"))
    rules.rules.append(Rule("Nouveau", ['header :contains "subject" "x"'], ['fileinto "X"'], "anyof"))
    rules.requires = None
    text = render(rules)
    assert text.endswith(
        '# rule:[Nouveau]\r\nif header :contains "subject" "x"\r\n{\r\n\tfileinto "X";\r\n}\r\n'
    )
    compile_script(text)


def test_nested_if_is_not_the_rules_format() -> None:
    with pytest.raises(RulesFormatError):
        parse_rules("# rule:[a]\r\nif true\r\n{\r\n\tif true { keep; }\r\n}\r\n")


SETTINGS = VacationSettings(
    subject="Absente — congés",
    body="Bonjour,\nje suis absente.\n.\nMarie",
    start=dt.date(2024, 7, 1),
    end=dt.date(2024, 7, 31),
    zone="+0200",
    weekdays=(1, 2, 3, 4, 5),
    days=3,
    from_addr="marie@ac-exemple.fr",
    addresses=("m.dupont@ac-exemple.fr",),
)


def test_vacation_keeps_the_other_rules_running() -> None:
    rules = with_vacation(parse_rules(read(DATA / "rules" / "roundcube-filters.sieve")), SETTINGS)
    text = render(rules)
    assert [r.name for r in rules.rules][:2] == ["Vacation", "Spam"]
    assert render(parse_rules(text)) == text
    program = compile_script(text)
    message = (DATA / "messages" / "plain.eml").read_bytes()
    inside = dt.datetime(2024, 7, 2, 10, tzinfo=dt.UTC)  # a Tuesday
    actions = evaluate(program, MessageFacts(message), Environment(now=inside, envelope_to="me@example.net"))
    assert isinstance(actions[0], Vacation) and actions[0].seconds == 3 * 86400
    assert actions[0].reason == "Bonjour,\r\nje suis absente.\r\n.\r\nMarie\r\n"
    outside = inside.replace(month=8)
    assert not any(
        isinstance(a, Vacation) for a in evaluate(program, MessageFacts(message), Environment(now=outside))
    )
    assert render(with_vacation(rules, None)) == read(DATA / "rules" / "roundcube-filters.sieve")


def test_vacation_rule_never_answers_lists() -> None:
    program = compile_script(render(with_vacation(parse_rules(""), vacation_rule_settings())))
    message = (DATA / "messages" / "list.eml").read_bytes()
    assert not any(isinstance(a, Vacation) for a in evaluate(program, MessageFacts(message)))


def vacation_rule_settings() -> VacationSettings:
    return VacationSettings(subject="Away", body="Back soon.")


def test_vacation_rule_shape() -> None:
    rule = vacation_rule(vacation_rule_settings())
    assert rule.actions == ['vacation :days 7 :subject "Away" "Back soon."']
    assert rule.tests == [
        'not exists ["list-id","list-unsubscribe"]',
        'not header :contains "precedence" ["list","bulk","junk"]',
    ]
    full = VacationSettings(
        "Absente",
        "Retour lundi.",
        dt.date(2024, 7, 1),
        dt.date(2024, 7, 31),
        "+0100",
        weekdays=(1, 2),
        days=3,
        from_addr="m@ac.fr",
        addresses=("m@ac.fr", "n@ac.fr"),
    )
    rule = vacation_rule(full)
    assert rule.actions == [
        'vacation :days 3 :addresses ["m@ac.fr","n@ac.fr"] :subject "Absente" :from "m@ac.fr" "Retour lundi."'
    ]
    assert rule.tests[:3] == [
        'currentdate :zone "+0100" :value "ge" "date" "2024-07-01"',
        'currentdate :zone "+0100" :value "le" "date" "2024-07-31"',
        'currentdate :zone "+0100" :is "weekday" ["1","2"]',
    ]


class Tracker:
    def __init__(self) -> None:
        self.seen: dict[str, dt.datetime] = {}

    def check_and_record(self, key: str, seconds: int, now: dt.datetime) -> bool:
        last = self.seen.get(key)
        if last is not None and (now - last).total_seconds() < seconds:
            return True
        self.seen[key] = now
        return False


def _vacation(message: bytes, sender: str) -> tuple[Vacation, MessageFacts, Environment]:
    msg = MessageFacts(message)
    env = Environment(envelope_from=sender, envelope_to="me@example.net")
    action = evaluate(compile_script('require "vacation"; vacation :days 1 "Away";'), msg, env)[0]
    assert isinstance(action, Vacation)
    return action, msg, env


@pytest.mark.parametrize(
    ("name", "sender", "why"),
    [
        ("list.eml", "list-bounces@lists.example.org", "system or list"),
        ("list.eml", "someone@lists.example.org", "mailing list"),
        ("autoreply.eml", "boss@example.com", "auto-submitted"),
        ("plain.eml", "MAILER-DAEMON", "null envelope"),
        ("plain.eml", "me@example.net", "the user"),
        ("received.eml", "alerts@monitoring.example.net", ""),
    ],
)
def test_vacation_suppression(name: str, sender: str, why: str) -> None:
    action, msg, env = _vacation((DATA / "messages" / name).read_bytes(), sender)
    decision = decide(action, msg, env, Tracker())
    assert decision.send is (why == "") and why in decision.reason


def test_vacation_once_per_period_and_reply() -> None:
    action, msg, env = _vacation((DATA / "messages" / "plain.eml").read_bytes(), "alice@example.com")
    tracker = Tracker()
    assert decide(action, msg, env, tracker).send
    assert not decide(action, msg, env, tracker).send
    env.now += dt.timedelta(days=2)
    assert decide(action, msg, env, tracker).send
    reply = build_reply(action, msg, env)
    assert reply["To"] == "alice@example.com" and reply["Subject"] == "Auto: Meeting tomorrow at 10"
    assert reply["In-Reply-To"] == "<plain-1@example.com>" and reply["Auto-Submitted"].startswith(
        "auto-replied"
    )
