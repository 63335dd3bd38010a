# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests compiled into predicates over an evaluation :class:`~program.Context` (RFC 5228 §5 and
extensions).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from . import dates
from .binding import Bound, Builder, TestFn
from .grammar import KNOWN_EXTENSIONS
from .mailto import valid_mailto
from .match import COMPARATORS, RELATIONAL_OPS, Matcher, ascii_lower
from .message import Address, MessageFacts
from .program import Context, Value
from .regex import compiled_regex, regex_problem

__all__ = [
    "ENVIRONMENT_DEFAULTS",
    "Counted",
    "TestFn",
    "address_part",
    "build",
    "constant",
    "counted",
    "make_matcher",
]

#: Pigeonhole 0.5 restricts the address test to these header fields (RFC 5228 §5.1 "MUST restrict").
ADDRESS_HEADERS = frozenset(
    {
        "from",
        "sender",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "resent-from",
        "resent-sender",
        "resent-to",
        "resent-cc",
        "resent-bcc",
        "resent-reply-to",
        "return-path",
        "disposition-notification-to",
        "errors-to",
        "delivered-to",
        "envelope-to",
        "x-original-to",
        "x-envelope-to",
        "x-beenthere",
        "x-delivered-to",
        "original-recipient",
        "original-from",
        "mail-followup-to",
        "mail-reply-to",
        "apparently-to",
        "for-approval",
        "for-handling",
        "for-comment",
        "approved-by",
    }
)

ENVIRONMENT_DEFAULTS = {
    "name": "groupware",
    "version": "0.1.0",
    "location": "MS",
    "phase": "post",
    "domain": "localhost",
    "host": "localhost",
}


class Counted:
    """What a builder returns for a test that counts its own step of the evaluation's budget (see
    :func:`counted`): the common tests do it inline, one call less per test and message."""

    __slots__ = ("test",)

    def __init__(self, test: TestFn) -> None:
        self.test = test


def counted(test: TestFn) -> TestFn:
    """A test that counts one step of the evaluation's budget (see :class:`~program.Meter`) before it runs."""

    def counted(ctx: Context) -> bool:
        meter = ctx.meter
        meter.left -= 1
        if meter.left <= 0:
            meter.over()
        return test(ctx)

    return counted


def constant(value: bool) -> TestFn:
    """A test that always returns ``value`` (RFC 5228 §5.6, §5.10)."""
    return (lambda ctx: True) if value else (lambda ctx: False)


_MATCH_TYPES = ("is", "contains", "matches", "regex", "value", "count")


def make_matcher(
    c: Builder, b: Bound, keys: Sequence[Value], default: str = "i;ascii-casemap", capture: bool = True
) -> Matcher:
    """The match type, comparator and relational operator of a test (RFC 5228 §2.7, RFC 5231 §4)."""
    tags, kind = b.tags, "is"
    for name in _MATCH_TYPES:
        if name in tags:
            kind = name
            break
    comparator = default
    if "comparator" in b.tags:
        arg = b.tags["comparator"]
        value = c.string(arg)
        assert arg is not None
        if not isinstance(value, str) or value not in COMPARATORS:
            c.error(arg, f"unknown comparator {value!r}")
        elif value == "i;ascii-numeric" and not c.has("comparator-i;ascii-numeric"):
            c.error(arg, "comparator 'i;ascii-numeric' needs require \"comparator-i;ascii-numeric\"")
        else:
            comparator = value
            if value == "i;ascii-numeric" and kind in ("contains", "matches", "regex"):
                c.error(arg, f"comparator 'i;ascii-numeric' does not support :{kind}")
    op = "eq"
    if kind in ("value", "count"):
        arg = b.tags[kind]
        relop = c.string(arg)
        assert arg is not None
        if not isinstance(relop, str) or relop.lower() not in RELATIONAL_OPS:
            c.error(arg, f"invalid relational match operator {relop!r}")
        else:
            op = relop.lower()
    if kind == "regex":
        for key in keys:
            if isinstance(key, str):
                problem = regex_problem(key)
                if problem is not None:
                    c.error(b.tag_nodes["regex"], f"regular expression {key!r} refused: {problem}")
                    kind = "is"
                    continue
                try:
                    compiled_regex(key, comparator == "i;ascii-casemap")
                except re.error as exc:
                    message = f"invalid regular expression '{key}' for regex match: {exc}"
                    c.error(b.tag_nodes["regex"], message)
                    kind = "is"
    capture = capture and c.has("variables")
    return Matcher(kind, comparator, keys, op, capture=capture, max_cost=c.policy.max_regex_cost)


def _index(c: Builder, b: Bound) -> tuple[int, bool]:
    if "last" in b.tags and "index" not in b.tags:
        c.error(b.tag_nodes["last"], ":last requires :index")
    if "index" in b.tags:
        n = c.number(b.tags["index"])
        if n < 1:
            c.error(b.tag_nodes["index"], ":index must be at least 1")
        return n, "last" in b.tags
    return 0, False


def _pick(values: list[str], index: int, last: bool) -> list[str]:
    """The field selected by ``:index``/``:last`` (RFC 5260 §6), or all of them; with several names, the
    fields are counted over all of them, in the order of the names (as Pigeonhole)."""
    if not index:
        return values
    if index > len(values):
        return []
    return [values[-index] if last else values[index - 1]]


def address_part(addr: Address, part: str) -> str | None:
    """One part of an address (RFC 5228 §2.7.4, RFC 5233 §4); None when it does not exist."""
    local, domain = addr
    if part == "all":
        return f"{local}@{domain}" if domain else local
    if part == "localpart":
        return local
    if part == "domain":
        return domain
    plus = local.find("+")
    if part == "user":
        return local if plus < 0 else local[:plus]
    return None if plus < 0 else local[plus + 1 :]


def _part_name(b: Bound) -> str:
    for part in ("localpart", "domain", "user", "detail"):
        if part in b.tags:
            return part
    return "all"


def _header(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn | Counted:
    names, m = c.strings(b.pos[0]), make_matcher(c, b, c.strings(b.pos[1]))
    index, last = _index(c, b)
    if not index and len(names) == 1 and isinstance(names[0], str):
        return _one_header(names[0].lower(), m)

    def test(ctx: Context) -> bool:
        values: list[str] = []
        for name in ctx.expand_list(names):
            values.extend(ctx.msg.header(name))
        return m(ctx, _pick(values, index, last))

    return test


def _one_header(key: str, m: Matcher) -> Counted:
    """The header test on one constant name without ``:index``, the common case (RFC 5228 §5.7)."""
    folded = m.bind_folded()
    if folded is not None:
        return _folded_header(key, folded, m.folded_substring())
    match = m.bind()

    def test(ctx: Context) -> bool:
        values = ctx.msg.header(key)  # no error, no effect: read before the step is counted
        meter = ctx.meter
        meter.left -= 1
        if meter.left <= 0:
            meter.over()
        return match(ctx, values)

    return Counted(test)


def _folded_header(key: str, folded: Callable[[Sequence[str]], bool], substring: str | None) -> Counted:
    """The header test on one constant name, case-insensitive: the folded values are kept for the message;
    a test for one substring, the most common, is made inline."""
    memo_key = ("header", key, "")

    def test(ctx: Context) -> bool:
        meter = ctx.meter
        meter.left -= 1
        if meter.left <= 0:
            meter.over()
        msg = ctx.msg
        values = msg.memo.get(memo_key)
        if values is None:
            values = msg.memo[memo_key] = [ascii_lower(v) for v in msg.header(key)]
        if substring is None:
            return folded(values)
        for v in values:  # noqa: SIM110 - a loop makes no generator on this hot path
            if substring in v:
                return True
        return False

    return Counted(test)


def _address(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn | Counted:
    names, m = c.strings(b.pos[0]), make_matcher(c, b, c.strings(b.pos[1]))
    index, last, part = *_index(c, b), _part_name(b)
    match, counting = m.bind(), m.kind == "count"
    if not index and len(names) == 1 and isinstance(names[0], str) and names[0].lower() in ADDRESS_HEADERS:
        return _simple_address(names[0].lower(), part, m)
    for name in names:
        if isinstance(name, str) and name.lower() not in ADDRESS_HEADERS:
            c.error(b.pos[0] or b.node, f"header '{name}' is not allowed for the address test")

    def test(ctx: Context) -> bool:
        values: list[str] = []
        raws: list[str] = []
        parsed: list[list[Address] | None] = []
        for name in ctx.expand_list(names):
            raws.extend(ctx.msg.header_raw(name))
            parsed.extend(ctx.msg.addresses(name))
        if index:
            at = (len(raws) - index if last else index - 1) if index <= len(raws) else -1
            raws, parsed = (raws[at : at + 1], parsed[at : at + 1]) if at >= 0 else ([], [])
        for raw, addrs in zip(raws, parsed, strict=True):
            if addrs is None:
                if part == "all" or counting:  # a field that cannot be parsed counts as one address
                    values.append(raw.strip())
                continue
            values.extend(_parts(addrs, part, counting))
        return match(ctx, values)

    return test


def _simple_address(key: str, part: str, m: Matcher) -> Counted:
    """The address test on one constant header name without :index, the common case: the address parts (and
    their folded form) are computed once per message (RFC 5228 §2.7.4)."""
    match, folded = m.bind(), m.bind_folded()
    counting = m.kind == "count"
    parts_key, folded_key = ("address", key, part + "#" * counting), ("address-folded", key, part)

    def values_of(msg: MessageFacts) -> list[str]:
        values = msg.memo.get(parts_key)
        if values is None:
            values = []
            for raw, addrs in zip(msg.header_raw(key), msg.addresses(key), strict=True):
                if addrs is None:
                    if part == "all" or counting:
                        values.append(raw.strip())
                else:
                    values.extend(_parts(addrs, part, counting))
            msg.memo[parts_key] = values
        return values

    keys = m.folded_keys()

    def test(ctx: Context) -> bool:
        meter = ctx.meter
        meter.left -= 1
        if meter.left <= 0:
            meter.over()
        msg = ctx.msg
        if folded is None:
            return match(ctx, values_of(msg))
        values = msg.memo.get(folded_key)
        if values is None:
            values = msg.memo[folded_key] = [ascii_lower(v) for v in values_of(msg)]
        return not keys.isdisjoint(values) if keys is not None else folded(values)

    return Counted(test)


def _parts(addresses: list[Address], part: str, counting: bool) -> list[str]:
    """The ``part`` of each address; under ``:count`` an address without that part still counts (RFC 5231
    §4.2 counts addresses, as Pigeonhole)."""
    out = []
    for address in addresses:
        value = address_part(address, part)
        if value is not None:
            out.append(value)
        elif counting:
            out.append("")
    return out


def _envelope(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn:
    parts, m, part = c.strings(b.pos[0]), make_matcher(c, b, c.strings(b.pos[1])), _part_name(b)
    for p in parts:
        if isinstance(p, str) and p.lower() not in ("from", "to", "auth"):
            c.error(b.pos[0] or b.node, f"unknown envelope part '{p}'")

    def test(ctx: Context) -> bool:
        values: list[str] = []
        for p in ctx.expand_list(parts):
            p = p.lower()
            addr = (
                ctx.env.envelope_from if p == "from" else ctx.env.envelope_to if p == "to" else ctx.env.auth
            )
            if addr is None:
                continue
            addr = addr.strip().removeprefix("<").removesuffix(">")
            at = addr.rfind("@")
            pair = (addr, "") if at < 0 else (addr[:at], addr[at + 1 :])
            values.extend(_parts([pair], part, m.kind == "count"))
        return m(ctx, values)

    return test


def _exists(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn | Counted:
    names = c.strings(b.pos[0])
    if all(isinstance(n, str) for n in names):
        keys = tuple(str(n).lower() for n in names)

        def test(ctx: Context) -> bool:
            meter = ctx.meter
            meter.left -= 1
            if meter.left <= 0:
                meter.over()
            header_raw = ctx.msg.header_raw
            for k in keys:  # noqa: SIM110 - a loop makes no generator on this hot path
                if not header_raw(k):
                    return False
            return True

        return Counted(test)
    return lambda ctx: all(ctx.msg.header_raw(n) for n in ctx.expand_list(names))


def _size(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn:
    limit = c.number(b.pos[0])
    if "over" in b.tags:
        return lambda ctx: ctx.msg.size > limit
    if "under" not in b.tags:
        c.error(b.node, "the size test needs :over or :under")
    return lambda ctx: ctx.msg.size < limit


def _body(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn:
    m = make_matcher(c, b, c.strings(b.pos[0]), capture=False)
    transform = next((t for t in ("raw", "content") if t in b.tags), "text")
    types = tuple(str(t) for t in c.strings(b.tags["content"])) if transform == "content" else ()
    return lambda ctx: m(ctx, ctx.msg.body(transform, types))


def _zone(c: Builder, b: Bound) -> object:
    if "zone" not in b.tags:
        return "original" if "originalzone" in b.tags else None
    text = c.string(b.tags["zone"])
    zone = dates.parse_zone(text) if isinstance(text, str) else None
    return zone if zone is not None else None


def _date_part(c: Builder, b: Bound, arg: object) -> Value:
    part = c.string(b.pos[1] if arg is None else b.pos[0])
    return part.lower() if isinstance(part, str) else part


def _date(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn:
    header, part, m = c.string(b.pos[0]), _date_part(c, b, None), make_matcher(c, b, c.strings(b.pos[2]))
    index, last = _index(c, b)
    zone = _zone(c, b)

    def test(ctx: Context) -> bool:
        values = []
        p = ctx.expand(part).lower()
        name = ctx.expand(header)
        for raw in _pick(ctx.msg.header(name), index, last):
            if name.lower() == "received":
                raw = raw.rpartition(";")[2]
            when = dates.parse_date_header(raw)
            if when is None:
                continue
            if zone != "original":
                when = dates.in_zone(when, zone if zone is not None else ctx.env.now.tzinfo)  # type: ignore[arg-type]
            if p in dates.DATE_PARTS:
                values.append(dates.date_part(when, p))
        return m(ctx, values)

    return test


_NOW_TEXT: dict[tuple[object, str], tuple[object, str]] = {}


def _now_text(now: object, zone: object, part: str) -> str:
    """A part of the current date in a zone; the last answer per zone and part is kept, since every
    ``currentdate`` test of an evaluation asks about the same moment (RFC 5260 §5)."""
    last = _NOW_TEXT.get((zone, part))
    if last is not None and last[0] is now:
        return last[1]
    text = dates.date_part(dates.in_zone(now, zone), part)  # type: ignore[arg-type]
    if len(_NOW_TEXT) < 1024:
        _NOW_TEXT[(zone, part)] = (now, text)
    return text


def _currentdate(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn | Counted:
    part, m, zone = _date_part(c, b, 0), make_matcher(c, b, c.strings(b.pos[1])), _zone(c, b)
    if isinstance(part, str) and m.constant and not (m.capture and m.kind in ("matches", "regex")):
        return _constant_currentdate(part, m, zone)

    def test(ctx: Context) -> bool:
        p = ctx.expand(part).lower()
        return p in dates.DATE_PARTS and m(ctx, [_now_text(ctx.env.now, zone, p)])

    return test


def _constant_currentdate(part: str, m: Matcher, zone: object) -> TestFn | Counted:
    """``currentdate`` with a constant part and keys and no match variables: the answer depends on the date
    text alone, so the last one is kept (it changes once a day for the ``date`` part)."""
    if part not in dates.DATE_PARTS:
        return constant(False)
    cell: list[tuple[str | None, bool]] = [(None, False)]

    def test(ctx: Context) -> bool:
        meter = ctx.meter
        meter.left -= 1
        if meter.left <= 0:
            meter.over()
        text = _now_text(ctx.env.now, zone, part)
        seen, result = cell[0]
        if seen != text:
            result = m(ctx, [text])
            cell[0] = (text, result)
        return result

    return Counted(test)


def _string(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn:
    """``string`` (RFC 5229 §5); like Pigeonhole, its default comparator is i;octet."""
    source, m = c.strings(b.pos[0]), make_matcher(c, b, c.strings(b.pos[1]), default="i;octet")
    if m.kind == "count":
        return lambda ctx: m(ctx, [s for s in ctx.expand_list(source) if s])
    return lambda ctx: m(ctx, ctx.expand_list(source))


def _hasflag(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn:
    """RFC 5232 §3.2, §4: the flags are space-separated lists; under ``:is`` and ``:contains`` each key is
    one too (``hasflag :is "\\Flagged \\Seen"`` is true when either flag is set), as Pigeonhole reads them;
    Pigeonhole matches ``:matches``, ``:regex``, ``:value`` and ``:count`` keys whole, and so do we."""
    names = c.strings(b.pos[0]) if b.pos[0] is not None else None
    keys = c.strings(b.pos[1])
    m = make_matcher(c, b, keys)
    split = m.kind in ("is", "contains")
    if split and m.constant:
        m = Matcher(m.kind, m.comparator, _split_flags(keys), m.op, m.capture, m.max_cost)
    split_at_run = split and not m.constant

    def test(ctx: Context) -> bool:
        if names is None:
            flags = ctx.flags
        else:
            flags = [f for n in ctx.expand_list(names) for f in ctx.vars.get(n.lower(), "").split()]
        if split_at_run:
            runtime = Matcher(m.kind, m.comparator, _split_flags(ctx.expand_list(keys)), m.op, m.capture)
            return runtime(ctx, flags)
        return m(ctx, flags)

    return test


def _split_flags(keys: Sequence[object]) -> list[str]:
    """The flags of a list of space-separated flag lists (RFC 5232 §3.2)."""
    return [flag for key in keys if isinstance(key, str) for flag in key.split()]


def _mailboxexists(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn:
    names = c.strings(b.pos[0])

    def test(ctx: Context) -> bool:
        exists = ctx.env.mailbox_exists or (lambda name: name.upper() == "INBOX")
        return all(exists(n) for n in ctx.expand_list(names))

    return test


def _environment(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn:
    item, m = c.string(b.pos[0]), make_matcher(c, b, c.strings(b.pos[1]))

    def test(ctx: Context) -> bool:
        name = ctx.expand(item).lower()
        value = ctx.env.values.get(name, ENVIRONMENT_DEFAULTS.get(name))
        return value is not None and m(ctx, [value])

    return test


def _ihave(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn:
    names = c.strings(b.pos[0])
    known = KNOWN_EXTENSIONS & c.policy.extensions
    return lambda ctx: all(n in known for n in ctx.expand_list(names))


def _duplicate(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn:
    handle = c.string(b.tags["handle"]) if "handle" in b.tags else ""
    header = c.string(b.tags["header"]) if "header" in b.tags else "message-id"
    uniqueid = c.string(b.tags["uniqueid"]) if "uniqueid" in b.tags else None
    seconds = c.number(b.tags["seconds"]) if "seconds" in b.tags else 7 * 86400

    def test(ctx: Context) -> bool:
        if uniqueid is not None:
            value = ctx.expand(uniqueid)
        else:
            values = ctx.msg.header(ctx.expand(header))
            if not values:
                return False
            value = values[0]
        seen = ctx.env.seen
        return seen is not None and seen(f"{ctx.expand(handle)}\0{value}", seconds)

    return test


def _valid_notify_method(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn:
    uris = c.strings(b.pos[0])
    return lambda ctx: all(valid_mailto(u) for u in ctx.expand_list(uris))


def _notify_method_capability(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn:
    uri, cap, m = c.string(b.pos[0]), c.string(b.pos[1]), make_matcher(c, b, c.strings(b.pos[2]))

    def test(ctx: Context) -> bool:
        if not valid_mailto(ctx.expand(uri)) or ctx.expand(cap).lower() != "online":
            return False
        return m(ctx, ["maybe"])

    return test


def _not(c: Builder, b: Bound, subs: list[TestFn]) -> Counted:
    inner = subs[0]

    def test(ctx: Context) -> bool:
        meter = ctx.meter
        meter.left -= 1
        if meter.left <= 0:
            meter.over()
        return not inner(ctx)

    return Counted(test)


def _allof(c: Builder, b: Bound, subs: list[TestFn]) -> Counted:
    return _short_circuit(subs, stop_on=False)


def _anyof(c: Builder, b: Bound, subs: list[TestFn]) -> Counted:
    return _short_circuit(subs, stop_on=True)


def _short_circuit(subs: list[TestFn], stop_on: bool) -> Counted:
    """``allof`` stops at the first false test, ``anyof`` at the first true one (RFC 5228 §5.2, §5.3); two
    tests, the common case, run without a loop."""
    if len(subs) == 2:
        first, second = subs

        def test2(ctx: Context) -> bool:
            meter = ctx.meter
            meter.left -= 1
            if meter.left <= 0:
                meter.over()
            return (first(ctx) or second(ctx)) if stop_on else (first(ctx) and second(ctx))

        return Counted(test2)
    tests = tuple(subs)

    def test(ctx: Context) -> bool:
        meter = ctx.meter
        meter.left -= 1
        if meter.left <= 0:
            meter.over()
        for t in tests:
            if bool(t(ctx)) is stop_on:
                return stop_on
        return not stop_on

    return Counted(test)


_BUILDERS: dict[str, Callable[[Builder, Bound, list[TestFn]], TestFn | Counted]] = {
    "header": _header,
    "address": _address,
    "envelope": _envelope,
    "exists": _exists,
    "size": _size,
    "body": _body,
    "date": _date,
    "currentdate": _currentdate,
    "string": _string,
    "hasflag": _hasflag,
    "mailboxexists": _mailboxexists,
    "environment": _environment,
    "ihave": _ihave,
    "duplicate": _duplicate,
    "valid_notify_method": _valid_notify_method,
    "notify_method_capability": _notify_method_capability,
    "not": _not,
    "allof": _allof,
    "anyof": _anyof,
    "true": lambda c, b, s: constant(True),
    "false": lambda c, b, s: constant(False),
}


def build(c: Builder, b: Bound, subs: list[TestFn]) -> TestFn:
    """Build the predicate of a bound test; it counts its step of the evaluation's budget when it runs."""
    made = _BUILDERS[b.node.name](c, b, subs)
    return made.test if isinstance(made, Counted) else counted(made)
