# SPDX-License-Identifier: GPL-3.0-or-later
"""Bounds on recurrence, judged from the text of the rules before anything is expanded (RFC 5545 §3.3.10,
§3.8.5).

Radicale checks the ``COUNT`` of the first ``RRULE`` of a component and counts the instances of the others by
expanding them: a second rule without bound made that count endless (a PUT that never returned while its
memory grew). A ``FREQ=SECONDLY`` rule is accepted and then walked second by second by every time-range
query. :func:`recurrence_problem` refuses, for every component of an object, what the server could not expand
within the ``[limits]`` bounds — before any expansion:

* more than ``max_rrules`` ``RRULE`` properties, more than ``max_rdates`` ``RDATE`` (or ``EXDATE``) values;
* a rule bounded by ``COUNT`` or ``UNTIL`` that gives more than ``max_recurrence_count`` instances (``UNTIL``:
  estimated from ``DTSTART``, the frequency, the interval and the ``BYxxx`` parts that expand it, §3.3.10's
  table);
* rules of one component of which some are bounded and some are not;
* a rule whose days never come, or not within :data:`RECUR_WITHIN_YEARS` years (``BYMONTH=2;BYMONTHDAY=30``),
  or whose ``BYSETPOS`` or ordinal weekday no period has: finding that a rule has no instance scans every day
  up to the year 9999 (seconds of CPU for every expansion);
* a rule without bound that gives more than ``max_daily_instances`` instances a day (``FREQ=SECONDLY`` and
  ``FREQ=MINUTELY`` need ``COUNT`` or ``UNTIL``).

Since the server only stores what passes, the same bounds bound the work of every later expansion.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import vobject

from groupware.config import LimitsConfig

__all__ = ["iter_components", "recurrence_problem", "rule_problem"]

#: Seconds in one period of each frequency (RFC 5545 §3.3.10; months and years on average).
PERIOD = {
    "SECONDLY": 1.0,
    "MINUTELY": 60.0,
    "HOURLY": 3600.0,
    "DAILY": 86400.0,
    "WEEKLY": 7 * 86400.0,
    "MONTHLY": 30.4375 * 86400.0,
    "YEARLY": 365.25 * 86400.0,
}
#: The ``BYxxx`` parts that expand a rule by days (rather than limit it), by frequency (RFC 5545 §3.3.10, the
#: table), with the most days one value can give in one period (a weekday without ordinal: 5 in a month, 53
#: in a year); the instances a period gives on days are at most the days it has.
_DAY_PARTS: dict[str, dict[str, int]] = {
    "WEEKLY": {"BYDAY": 1},
    "MONTHLY": {"BYDAY": 5, "BYMONTHDAY": 1},
    "YEARLY": {"BYDAY": 53, "BYMONTHDAY": 12, "BYYEARDAY": 1, "BYWEEKNO": 7, "BYMONTH": 31},
}
#: The parts that expand a rule within a day, by the frequencies they expand.
_TIME_PARTS = {"BYHOUR": PERIOD["DAILY"], "BYMINUTE": PERIOD["HOURLY"], "BYSECOND": PERIOD["MINUTELY"]}
_DAY = 86400.0


def iter_components(component: Any) -> Iterator[Any]:
    """``component`` and every component nested in it, depth first, without recursion."""
    stack = [component]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.components())


def _parts(rule: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for part in rule.split(";"):
        name, _, value = part.partition("=")
        parts[name.strip().upper()] = value.strip().upper()
    return parts


def _date(text: str) -> dt.date | None:
    """The date of an ``UNTIL`` or ``DTSTART`` (``YYYYMMDD`` with or without a time), or None."""
    try:
        return dt.date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _count(value: str) -> int:
    return max(1, len(value.split(",")))


def _positions_exist(parts: dict[str, str]) -> bool:
    """Whether some ``BYSETPOS`` value is within the most instances one period can hold."""
    freq = parts.get("FREQ", "")
    per_period = _per_period(parts, freq)
    positions = [abs(int(p)) for p in parts["BYSETPOS"].split(",") if p.strip().lstrip("+-").isdigit()]
    return any(0 < p <= per_period for p in positions)


def _per_period(parts: dict[str, str], freq: str) -> float:
    """Most instances one period of the rule can hold (RFC 5545 §3.3.10, the table)."""
    period = PERIOD[freq]
    per_period = 1.0
    for name, expands_from in _TIME_PARTS.items():
        if name in parts and period >= expands_from:
            per_period *= _count(parts[name])
    days = 1.0
    for name, weight in _DAY_PARTS.get(freq, {}).items():
        if name in parts:
            days *= _count(parts[name]) * weight
    return per_period * min(days, max(1.0, period / _DAY + 1))


def _daily_rate(parts: dict[str, str]) -> float | None:
    """Most instances a day the rule can give (None: not a rule this module can judge)."""
    freq = parts.get("FREQ", "")
    if freq not in PERIOD:
        return None
    try:
        interval = int(parts.get("INTERVAL", "1"))
    except ValueError:
        return None
    if interval < 1:
        return None
    return _per_period(parts, freq) * _DAY / (PERIOD[freq] * interval)


#: The parts that select days (RFC 5545 §3.3.10), whatever the frequency.
_DAY_LIMITERS = ("BYMONTH", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYDAY")
#: Years within which a rule must recur: the calendar repeats its weekdays and leap days every 28 years (but
#: at non-leap centuries). Finding the instances of a rule that never recurs scans every day up to 9999.
RECUR_WITHIN_YEARS = 28


def _ordinals(value: str) -> list[int]:
    found = []
    for day in value.split(","):
        digits = day.strip().rstrip("AEFHMORSTUW")
        if digits not in ("", "+", "-") and digits.lstrip("+-").isdigit():
            found.append(abs(int(digits)))
    return found


def _sparse_problem(parts: dict[str, str], start: dt.date) -> str | None:
    """Why the days a rule selects are too few to be found without scanning centuries, or None.

    The day-selecting parts are tried as a yearly rule from ``start``'s year (one step a year, cheap even when
    it never matches, where a daily or hourly one steps through every day up to the year 9999)."""
    freq = parts.get("FREQ", "")
    limit = {"MONTHLY": 5, "YEARLY": 53}.get(freq)
    if "BYDAY" in parts and any(n > (limit or 0) for n in _ordinals(parts["BYDAY"])):
        return "BYDAY has an ordinal that no period has"
    limiters = {name: parts[name] for name in _DAY_LIMITERS if name in parts}
    if not limiters:
        return None
    if "BYDAY" in limiters:
        limiters["BYDAY"] = ",".join(d.strip().lstrip("+-0123456789") for d in limiters["BYDAY"].split(","))
    probe = ";".join(["FREQ=YEARLY", *(f"{name}={value}" for name, value in limiters.items())])
    try:
        rule = vobject.icalendar.rrule.rrulestr(probe, dtstart=dt.datetime(start.year, 1, 1))
        first = next(iter(rule), None)
    except (ValueError, TypeError, OverflowError) as exc:
        return f"its BYxxx parts are not valid ({exc})"
    if first is None or first.year - start.year > RECUR_WITHIN_YEARS:
        return f"it does not recur within {RECUR_WITHIN_YEARS} years"
    return None


def rule_problem(rule: str, start: dt.date | None, limits: LimitsConfig) -> str | None:
    """Why one ``RRULE`` value gives more instances than the limits allow, or None."""
    parts = _parts(rule)
    rate = _daily_rate(parts)
    if rate is None:
        return f"RRULE {rule[:80]!r} has no valid FREQ and INTERVAL (RFC 5545 §3.3.10)"
    sparse = _sparse_problem(parts, start or dt.date(2000, 1, 1))
    if sparse is not None:
        return f"RRULE {rule[:80]!r}: {sparse}"
    if "BYSETPOS" in parts and not _positions_exist(parts):
        return f"RRULE {rule[:80]!r}: BYSETPOS selects a position no period has"
    bound = limits.max_recurrence_count
    if "COUNT" in parts and "UNTIL" in parts:
        return f"RRULE {rule[:80]!r} has both COUNT and UNTIL (RFC 5545 §3.3.10)"
    if "COUNT" in parts:
        count = int(parts["COUNT"]) if parts["COUNT"].isdigit() else -1
        if not 0 < count <= bound:
            return f"RRULE COUNT must be between 1 and {bound} (found {parts['COUNT'][:20]!r})"
        return None
    if "UNTIL" in parts:
        until = _date(parts["UNTIL"])
        if until is None:
            return f"RRULE UNTIL {parts['UNTIL'][:40]!r} is not a date (RFC 5545 §3.3.10)"
        days = (until - start).days + 1 if start is not None else 366 * 100
        estimate = max(0, days) * rate
        if estimate > bound:
            return f"RRULE {rule[:80]!r} gives about {estimate:.0f} instances, over {bound}"
        return None
    if rate > limits.max_daily_instances:
        return (
            f"RRULE {rule[:80]!r} has no COUNT or UNTIL and gives up to {rate:.0f} instances a day, "
            f"over {limits.max_daily_instances}"
        )
    return _past_problem(rule, start, rate, limits)


#: How many instances an endless rule may have had before today, in ``max_recurrence_count``\ s: every walk
#: (free-busy, expansion, a time-range test, the read-back of a PUT) starts at DTSTART (RFC 5545 §3.8.5.3).
PAST_INSTANCES_FACTOR = 10


def _past_problem(rule: str, start: dt.date | None, rate: float, limits: LimitsConfig) -> str | None:
    """Why an endless rule started too long ago for a query of today to reach today quickly, or None (an
    hourly rule from the year 1 has 17 million instances to walk before today's)."""
    if start is None:
        return None
    bound = PAST_INSTANCES_FACTOR * limits.max_recurrence_count
    elapsed = (dt.date.today() - start).days * rate
    if elapsed > bound:
        return (
            f"RRULE {rule[:80]!r} has no COUNT or UNTIL and had about {elapsed:.0f} instances since its "
            f"DTSTART {start.isoformat()}, over {bound}: every query would walk them first"
        )
    return None


def _values(lines: list[Any]) -> int:
    """How many date values the ``RDATE`` or ``EXDATE`` lines hold."""
    return sum(len(line.value) if isinstance(line.value, list) else 1 for line in lines)


def _start(component: Any) -> dt.date | None:
    dtstart = component.contents.get("dtstart")
    if not dtstart:
        return None
    value = dtstart[0].value
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return _date(str(value))


def recurrence_problem(component: Any, limits: LimitsConfig) -> str | None:
    """Why the recurrence of ``component`` or of a component in it is beyond the limits, or None."""
    for current in iter_components(component):
        rules = current.contents.get("rrule", [])
        name = current.name
        if "recurrence-id" in current.contents and (rules or "rdate" in current.contents):
            # RFC 5545 §3.8.4.4: RECURRENCE-ID names one instance of the rule of its master; an instance that
            # recurs itself is walked to its end by free-busy (Radicale never stops an overridden instance).
            return f"{name} with RECURRENCE-ID may not carry RRULE or RDATE (it names one instance)"
        if len(rules) > limits.max_rrules:
            return f"{name} has {len(rules)} RRULE properties, over {limits.max_rrules}"
        for prop in ("rdate", "exdate"):
            count = _values(current.contents.get(prop, []))
            if count > limits.max_rdates:
                return f"{name} has {count} {prop.upper()} values, over {limits.max_rdates}"
        bounded = {"COUNT" in _parts(str(rule.value)) or "UNTIL" in _parts(str(rule.value)) for rule in rules}
        if len(bounded) > 1:
            # Radicale counts the instances of every rule when the first is bounded: endless if one is not.
            return f"{name}: its RRULEs are all bounded (COUNT or UNTIL) or none is"
        start = _start(current)
        for rule in rules:
            problem = rule_problem(str(rule.value), start, limits)
            if problem is not None:
                return f"{name}: {problem}"
        problem = _combined_rate_problem([str(rule.value) for rule in rules], limits)
        if problem is not None:
            return f"{name}: {problem}"
    return None


def _combined_rate_problem(rules: list[str], limits: LimitsConfig) -> str | None:
    """Why the endless rules of one component give together more instances a day than the limits allow
    (each walk merges them: three hourly rules cost three times one), or None."""
    endless = [parts for parts in map(_parts, rules) if "COUNT" not in parts and "UNTIL" not in parts]
    if len(endless) < 2:
        return None
    rate = sum(_daily_rate(parts) or 0.0 for parts in endless)
    if rate > limits.max_daily_instances:
        return (
            f"its {len(endless)} RRULEs without COUNT or UNTIL give up to {rate:.0f} instances a day "
            f"together, over {limits.max_daily_instances}"
        )
    return None
