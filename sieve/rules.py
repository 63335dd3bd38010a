# SPDX-License-Identifier: GPL-3.0-or-later
"""Editable rules ⇄ Sieve script, in the format Roundcube's managesieve plugin writes.

The format: the script's leading comments (Roundcube writes them first, then an empty line), one sorted
``require ["a","b"];`` line, then for each rule ``# rule:[Name]``, ``if TEST`` (one test with *any*), ``if
allof (T1, T2)`` / ``if anyof (…)``, or ``if false # …`` for a disabled rule, then ``{``, one TAB-indented
action per line, ``}``; lines end with CRLF (RFC 5228 §2.2; a script saved with bare LF or mixed endings reads
the same, and is written back with CRLF); no nested ``if``. Comments between the ``require`` line and the
first rule (as other editors leave them) are kept too. A script in this format reads into :class:`RuleSet` and
writes out byte for byte the same. The ``require`` line lists what the rules use as Roundcube computes it (RFC
5228 §3.2): ``vacation-seconds`` stands alone (RFC 6131 §2 makes it include ``vacation``) and the
``i;ascii-numeric`` comparator brings ``relational`` with it.

:func:`vacation_rule` builds the vacation rule (date range with zone, optional time of day and weekdays, never
to lists; RFC 5230, RFC 5260 ``currentdate``) and :func:`with_vacation` puts it first without ``stop`` so that
the user's other rules keep running.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

from .actions import quote
from .parse import Token, tokens

__all__ = [
    "VACATION_RULE",
    "Rule",
    "RuleSet",
    "RulesFormatError",
    "VacationSettings",
    "parse_rules",
    "render",
    "sieve_string",
    "vacation_rule",
    "with_vacation",
]

NL = "\r\n"
VACATION_RULE = "Vacation"
_LINE_END = re.compile(r"\r?\n")
_RULE = re.compile(r"# rule:\[(.*)\]\Z")
_REQUIRE = re.compile(r'require \[("[^"]*"(?:,"[^"]*")*)\];\Z')
_EXTENSION_WORDS = {
    "fileinto": "fileinto",
    "reject": "reject",
    "ereject": "ereject",
    "vacation": "vacation",
    "envelope": "envelope",
    "body": "body",
    "date": "date",
    "currentdate": "date",
    "string": "variables",
    "set": "variables",
    "addflag": "imap4flags",
    "setflag": "imap4flags",
    "removeflag": "imap4flags",
    "hasflag": "imap4flags",
    ":flags": "imap4flags",
    ":copy": "copy",
    ":create": "mailbox",
    "mailboxexists": "mailbox",
    ":regex": "regex",
    ":value": "relational",
    ":count": "relational",
    ":user": "subaddress",
    ":detail": "subaddress",
    ":index": "index",
    "notify": "enotify",
    "addheader": "editheader",
    "deleteheader": "editheader",
    "include": "include",
    "duplicate": "duplicate",
    "environment": "environment",
    ":seconds": "vacation-seconds",
    '"i;ascii-numeric"': "comparator-i;ascii-numeric",
}


class RulesFormatError(ValueError):
    """The script is not in the rules format (it can still be edited as raw Sieve)."""


@dataclass(slots=True)
class Rule:
    """One named rule: tests joined by ``allof``/``anyof`` and actions, each kept as Sieve source text."""

    name: str
    tests: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    join: str = "allof"
    enabled: bool = True

    def condition(self) -> str:
        """The text after ``if``."""
        if not self.tests:
            text = "true"
        elif len(self.tests) == 1 and self.join == "anyof":
            text = self.tests[0]
        else:
            text = f"{self.join} ({', '.join(self.tests)})"
        return text if self.enabled else f"false # {text}"


@dataclass(slots=True)
class RuleSet:
    """A whole script: comments before the ``require`` line (``header``) and after it (``prefix``), required
    extensions, rules in order."""

    rules: list[Rule] = field(default_factory=list)
    requires: list[str] | None = None
    prefix: str = ""
    header: str = ""

    def find(self, name: str) -> Rule | None:
        """The rule called ``name``, if any."""
        return next((r for r in self.rules if r.name == name), None)


def sieve_string(text: str) -> str:
    """A Sieve string as Roundcube writes it: quoted, or ``text:`` when it spans lines (RFC 5228 §2.4.2)."""
    if "\n" in text or "\r" in text:
        body = NL.join("." + line if line.startswith(".") else line for line in text.splitlines())
        return f"text:{NL}{body}{NL}."
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _top_level_split(text: str, toks: list[Token], sep: str) -> list[str]:
    """Split ``text`` at ``sep`` punctuation outside brackets and parentheses."""
    parts, depth, start = [], 0, 0
    for tok in toks:
        if tok.kind != "punct":
            continue
        if tok.value in "([{":
            depth += 1
        elif tok.value in ")]}":
            depth -= 1
        elif tok.value == sep and depth == 0:
            parts.append(text[start : tok.pos].strip(" \t\r\n"))
            start = tok.pos + 1
    tail = text[start:].strip(" \t\r\n")
    if tail:
        parts.append(tail)
    return parts


def _tokens(text: str) -> list[Token]:
    try:
        return tokens(text)
    except Exception as exc:
        raise RulesFormatError(str(exc)) from exc


def _parse_condition(text: str) -> tuple[list[str], str, bool]:
    enabled = True
    if text.startswith("false # "):
        enabled, text = False, text[len("false # ") :]
    if text == "true":
        return [], "allof", enabled
    m = re.match(r"(allof|anyof) \((.*)\)\Z", text, re.DOTALL)
    if m is None:
        return [text], "anyof", enabled
    inner = m.group(2)
    return _top_level_split(inner, _tokens(inner), ","), m.group(1), enabled


def _parse_actions(body: str) -> list[str]:
    actions = _top_level_split(body, _tokens(body), ";")
    for a in actions:
        if not a or a.startswith(("if ", "if(")):
            raise RulesFormatError("nested if or empty action is not in the rules format")
    return actions


def _split_rule(name: str, chunk: str) -> Rule:
    if not chunk.startswith("if ") or f"{NL}{{{NL}" not in chunk or not chunk.endswith(f"}}{NL}"):
        raise RulesFormatError(f"rule {name!r} is not 'if …' followed by a block")
    head, _, rest = chunk.partition(f"{NL}{{{NL}")
    tests, join, enabled = _parse_condition(head[3:])
    return Rule(name, tests, _parse_actions(rest[: -len(f"}}{NL}")]), join, enabled)


def parse_rules(text: str) -> RuleSet:
    """Read a script in the rules format.

    Raises:
        RulesFormatError: the script holds something the rules format cannot express.
    """
    text = _LINE_END.sub(NL, text)  # an editor may have saved it with LF: the format is the same
    lines = text.split(NL)
    rules, requires, prefix_lines = RuleSet(), None, []
    i = _header_end(lines)
    if i:
        rules.header = NL.join(lines[: i - 1])
    if i < len(lines) and (m := _REQUIRE.match(lines[i])):
        requires = [r.strip('"') for r in m.group(1).split(",")]
        i += 1
    while i < len(lines) and not _RULE.match(lines[i]):
        prefix_lines.append(lines[i])
        i += 1
    if i == len(lines) and text and not text.endswith(NL) and text.strip():
        raise RulesFormatError("no rules found")
    rules.requires, rules.prefix = requires, NL.join(prefix_lines)
    starts = [j for j in range(i, len(lines)) if _RULE.match(lines[j])]
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        name = _RULE.match(lines[start]).group(1)  # type: ignore[union-attr]
        chunk = NL.join(lines[start + 1 : end])
        rules.rules.append(_split_rule(name, chunk + (NL if n + 1 < len(starts) else "")))
    return rules


def _header_end(lines: list[str]) -> int:
    """Where the script goes on after Roundcube's header (comment lines and an empty line, written before the
    ``require`` line); 0 when the script has no such header."""
    n = 0
    while n < len(lines) and lines[n].startswith("#") and not _RULE.match(lines[n]):
        n += 1
    return n + 1 if n and n + 1 < len(lines) and lines[n] == "" else 0


def required_extensions(rules: list[Rule]) -> list[str]:
    """The sorted extensions the rules use."""
    found: set[str] = set()
    for rule in rules:
        for text in (*rule.tests, *rule.actions):
            toks = _tokens(text + NL)
            for tok in toks:
                if tok.value == ":seconds" and toks[0].value != "vacation":
                    continue  # duplicate's :seconds (RFC 7352 §3) needs no vacation-seconds
                ext = _EXTENSION_WORDS.get(tok.value if tok.kind != "string" else f'"{tok.value}"')
                if ext is not None:
                    found.add(ext)
    if "vacation-seconds" in found:
        found.discard("vacation")
    if "comparator-i;ascii-numeric" in found:
        found.add("relational")
    return sorted(found)


def _render_action(action: str) -> str:
    last_line = action.rsplit("\n", 1)[-1]
    return f"\t{action}{NL if last_line == '.' else ''};{NL}"


def render(rules: RuleSet) -> str:
    """Write the rules in Roundcube's format."""
    requires = rules.requires if rules.requires is not None else required_extensions(rules.rules)
    out = [rules.header + NL + NL] if rules.header else []
    if requires:
        out.append('require ["' + '","'.join(requires) + '"];' + NL)
    if rules.prefix:
        out.append(rules.prefix + NL)
    for rule in rules.rules:
        out.append(f"# rule:[{rule.name}]{NL}if {rule.condition()}{NL}{{{NL}")
        out.extend(_render_action(a) for a in rule.actions)
        out.append(f"}}{NL}")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class VacationSettings:
    """What a user sets for an absence; dates are local to ``zone`` (``+0100``)."""

    subject: str
    body: str
    start: dt.date | None = None
    end: dt.date | None = None
    zone: str = "+0000"
    start_time: dt.time | None = None
    end_time: dt.time | None = None
    weekdays: tuple[int, ...] = ()
    days: int = 7
    from_addr: str | None = None
    addresses: tuple[str, ...] = ()
    skip_lists: bool = True
    enabled: bool = True


def _currentdate(zone: str, op: str, part: str, value: str) -> str:
    return f'currentdate :zone "{zone}" :value "{op}" "{part}" "{value}"'


def vacation_rule(s: VacationSettings) -> Rule:
    """The vacation rule for these settings (RFC 5230 vacation, RFC 5260 §5 currentdate), written as Roundcube
    writes it: string lists without spaces, the vacation tags in its order."""
    tests = []
    if s.start is not None:
        tests.append(_currentdate(s.zone, "ge", "date", s.start.isoformat()))
    if s.end is not None:
        tests.append(_currentdate(s.zone, "le", "date", s.end.isoformat()))
    if s.start_time is not None:
        tests.append(_currentdate(s.zone, "ge", "time", s.start_time.strftime("%H:%M:%S")))
    if s.end_time is not None:
        tests.append(_currentdate(s.zone, "le", "time", s.end_time.strftime("%H:%M:%S")))
    if s.weekdays:
        days = ",".join(f'"{d % 7}"' for d in sorted(set(s.weekdays)))
        tests.append(f'currentdate :zone "{s.zone}" :is "weekday" [{days}]')
    if s.skip_lists:
        tests.append('not exists ["list-id","list-unsubscribe"]')
        tests.append('not header :contains "precedence" ["list","bulk","junk"]')
    parts = [f"vacation :days {s.days}"]  # Roundcube's order: period, addresses, subject, from, reason
    if s.addresses:
        parts.append(":addresses [" + ",".join(quote(a) for a in s.addresses) + "]")
    parts.append(f":subject {sieve_string(s.subject)}")
    if s.from_addr:
        parts.append(f":from {quote(s.from_addr)}")
    parts.append(sieve_string(s.body))
    return Rule(VACATION_RULE, tests, [" ".join(parts)], "allof", s.enabled)


def with_vacation(rules: RuleSet, settings: VacationSettings | None) -> RuleSet:
    """The same rules with the vacation rule set first (or removed when ``settings`` is None).

    The vacation rule has no ``stop``, so every other rule of the user still runs (RFC 5230 §4.7: vacation
    does not cancel the implicit keep).
    """
    others = [r for r in rules.rules if r.name != VACATION_RULE]
    new = ([vacation_rule(settings)] if settings is not None else []) + others
    return replace(rules, rules=new, requires=None)
