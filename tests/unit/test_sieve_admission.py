# SPDX-License-Identifier: GPL-3.0-or-later
"""Admission of mail-server connections: per-address bounds; trusted clients are held to the total only."""

from __future__ import annotations

import pytest

from groupware.sieve.admission import Admission, Networks


@pytest.mark.parametrize(
    ("address", "trusted"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # IPv4-mapped, as a dual-stack socket names an IPv4 client
        ("fe80::1%eth0", False),
        ("10.0.0.1", False),
        ("", False),
        ("not an address", False),
    ],
)
def test_networks_know_their_addresses(address: str, trusted: bool) -> None:
    assert (address in Networks(["127.0.0.0/8", "::1"])) is trusted


def test_a_trusted_address_is_held_to_the_total_only() -> None:
    admission = Admission(max_connections=5, per_address=1, trusted=Networks(["192.0.2.7"]))
    assert admission.admit("192.0.2.8", 0) is None
    assert admission.admit("192.0.2.8", 1) == "address"
    assert [admission.admit("192.0.2.7", open_now) for open_now in (1, 2, 3, 4)] == [None] * 4
    assert admission.admit("192.0.2.7", 5) == "total"
    assert admission.held("192.0.2.7") == 4
