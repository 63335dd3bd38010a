# SPDX-License-Identifier: GPL-3.0-or-later
"""check-config knows the options of our storage plugin; Radicale's own storage still refuses them."""

from __future__ import annotations

from groupware.server import RADICALE_DEFAULTS, check_radicale_sections


def test_indexed_storage_is_the_default() -> None:
    assert RADICALE_DEFAULTS["storage"]["type"] == "groupware.plugins.storage"


def test_storage_options_are_checked() -> None:
    good = {"storage": {"database": "/var/lib/groupware/db.sqlite", "synchronous": "normal"}}
    assert check_radicale_sections("g.conf", good) == []
    bad = check_radicale_sections("g.conf", {"storage": {"synchronous": "sometimes", "nonsense": "1"}})
    assert [(p.section, p.key) for p in bad] == [("storage", "synchronous"), ("storage", "nonsense")]
    stock = check_radicale_sections("g.conf", {"storage": {"type": "multifilesystem", "database": "x"}})
    assert [(p.section, p.key) for p in stock] == [("storage", "database")]
