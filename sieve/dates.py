# SPDX-License-Identifier: GPL-3.0-or-later
"""Date parts of the ``date`` and ``currentdate`` tests (RFC 5260 §4–§5)."""

from __future__ import annotations

import datetime as dt
import email.utils
import re

__all__ = ["DATE_PARTS", "date_part", "in_zone", "parse_date_header", "parse_zone"]

DATE_PARTS = frozenset(
    {
        "year",
        "month",
        "day",
        "date",
        "julian",
        "hour",
        "minute",
        "second",
        "time",
        "iso8601",
        "std11",
        "zone",
        "weekday",
    }
)
_ZONE = re.compile(r"([+-])([0-9]{2})([0-9]{2})\Z")
_MJD_EPOCH = dt.date(1858, 11, 17)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_zone(text: str) -> dt.timezone | None:
    """A ``:zone`` argument such as ``+0100`` (RFC 5260 §4.1), or None when malformed."""
    m = _ZONE.match(text)
    if m is None or int(m.group(3)) > 59:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    return dt.timezone(dt.timedelta(minutes=-minutes if m.group(1) == "-" else minutes))


def parse_date_header(value: str) -> dt.datetime | None:
    """An RFC 5322 §3.3 date-time, in its own zone; None when it cannot be read."""
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    try:
        offset = parsed[9] or 0
        naive = dt.datetime(*parsed[:6])
    except (TypeError, ValueError):
        return None
    return naive.replace(tzinfo=dt.timezone(dt.timedelta(seconds=offset)))


def in_zone(when: dt.datetime, zone: dt.tzinfo | None) -> dt.datetime:
    """``when`` converted to ``zone`` (the local zone of ``when`` itself when None)."""
    return when if zone is None else when.astimezone(zone)


def _zone_text(when: dt.datetime) -> str:
    offset = when.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def date_part(when: dt.datetime, part: str) -> str:
    """The text of one date part (RFC 5260 §4.3)."""
    if part == "year":
        return f"{when.year:04d}"
    if part == "month":
        return f"{when.month:02d}"
    if part == "day":
        return f"{when.day:02d}"
    if part == "date":
        return when.date().isoformat()  # YYYY-MM-DD, the year on four digits
    if part == "julian":
        return str((when.date() - _MJD_EPOCH).days)
    if part == "hour":
        return f"{when.hour:02d}"
    if part == "minute":
        return f"{when.minute:02d}"
    if part == "second":
        return f"{when.second:02d}"
    if part == "time":
        return when.time().isoformat("seconds")
    zone = _zone_text(when)
    if part == "iso8601":
        # RFC 5260 §4.2 (RFC 3339 §5.6): UTC is written "Z", as Pigeonhole does
        return when.strftime("%Y-%m-%dT%H:%M:%S") + (
            "Z" if zone in ("+0000", "-0000") else zone[:3] + ":" + zone[3:]
        )
    if part == "std11":
        day, month = _DAYS[when.weekday()], _MONTHS[when.month - 1]
        return (
            f"{day}, {when.day:02d} {month} {when.year:04d} "
            f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} {zone}"
        )
    if part == "zone":
        return zone
    if part == "weekday":
        return str((when.weekday() + 1) % 7)
    return ""
