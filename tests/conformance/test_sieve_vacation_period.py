# SPDX-License-Identifier: GPL-3.0-or-later
"""The minimum vacation period is a compile policy value: with ``min_vacation_seconds`` at one day our periods
are those of a stock Pigeonhole, which raises shorter ``:days``/``:seconds`` to its
``sieve_vacation_min_period`` (one day unless configured; RFC 5230 §4.1, RFC 6131 §2 let the site set a
minimum)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from groupware.sieve import Environment, MessageFacts, Policy, compile_script, describe, evaluate

MESSAGE = Path(__file__).resolve().parents[1] / "data" / "sieve" / "messages" / "plain.eml"
SENDER, RECIPIENT = "alice@example.com", "me@example.net"
PERIODS = [
    ":days 0",
    ":seconds 0",
    ":seconds 60",
    ":seconds 3600",
    ":seconds 86399",
    ":seconds 86400",
    ":seconds 90000",
    ":days 1",
    ":days 2",
    ":days 30",
    "",
]
DAY = Policy(min_vacation_seconds=86400, max_vacation_seconds=1 << 40)


def script(period: str) -> str:
    return (
        f'require ["vacation", "vacation-seconds"];\nvacation {period} :subject "Absent" "Je suis '
        'absente.";\n'
    )


def ours(text: str, policy: Policy) -> list[str]:
    env = Environment(envelope_from=SENDER, envelope_to=RECIPIENT)
    actions = evaluate(compile_script(text, policy), MessageFacts(MESSAGE.read_bytes()), env)
    return [line for a in actions if (line := describe(a)) is not None]


@pytest.fixture(scope="module")
def stock(stock_vacation_pigeonhole: Any) -> dict[str, list[str]]:
    cases = [(script(p), MESSAGE, SENDER, RECIPIENT) for p in PERIODS]
    return dict(zip(PERIODS, stock_vacation_pigeonhole.run_many(cases), strict=True))


@pytest.mark.parametrize("period", PERIODS)
def test_one_day_minimum_matches_stock_pigeonhole(
    stock_vacation_pigeonhole: Any, stock: dict[str, list[str]], period: str
) -> None:
    assert stock_vacation_pigeonhole.normalise(ours(script(period), DAY)) == stock[period]


@pytest.mark.parametrize("period", PERIODS)
def test_default_policy_is_stock_pigeonhole(
    stock_vacation_pigeonhole: Any, stock: dict[str, list[str]], period: str
) -> None:
    """``min_vacation_seconds`` is one day by default, as ``sieve_vacation_min_period``: clamped."""
    assert stock_vacation_pigeonhole.normalise(ours(script(period), Policy())) == stock[period]


def test_policy_bounds_the_period() -> None:
    assert ours(script(":seconds 60"), DAY)[0].startswith("vacation :seconds 86400 ")
    assert ours(script(":seconds 60"), Policy())[0].startswith("vacation :seconds 86400 ")  # as Pigeonhole
    assert ours(script(":seconds 60"), Policy(min_vacation_seconds=0))[0].startswith("vacation :seconds 60 ")
    capped = Policy(min_vacation_seconds=3600, max_vacation_seconds=7 * 86400)
    assert ours(script(":days 30"), capped)[0].startswith(f"vacation :seconds {7 * 86400} ")
    assert ours(script(":seconds 1"), capped)[0].startswith("vacation :seconds 3600 ")
