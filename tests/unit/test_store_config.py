# SPDX-License-Identifier: GPL-3.0-or-later
"""check-config knows our options in Radicale's sections ([storage] of our plugin, [server] workers); Radicale's
own storage still refuses ours."""

from __future__ import annotations

import os

from groupware.config import AccountsConfig, Config, DirectoryConfig
from groupware.server import (
    RADICALE_DEFAULTS,
    check_radicale_sections,
    radicale_configuration,
    server_workers,
)
from groupware.workers import worker_count


def test_indexed_storage_is_the_default() -> None:
    assert RADICALE_DEFAULTS["storage"]["type"] == "groupware.plugins.storage"


def test_storage_options_are_checked() -> None:
    good = {"storage": {"database": "/var/lib/groupware/db.sqlite", "synchronous": "normal"}}
    assert check_radicale_sections("g.conf", good) == []
    bad = check_radicale_sections("g.conf", {"storage": {"synchronous": "sometimes", "nonsense": "1"}})
    assert [(p.section, p.key) for p in bad] == [("storage", "synchronous"), ("storage", "nonsense")]
    stock = check_radicale_sections("g.conf", {"storage": {"type": "multifilesystem", "database": "x"}})
    assert [(p.section, p.key) for p in stock] == [("storage", "database")]


def test_server_workers_is_ours_and_checked() -> None:
    """``[server] workers`` is groupware's: checked here, kept from Radicale's configuration."""
    assert check_radicale_sections("g.conf", {"server": {"workers": "auto"}}) == []
    assert check_radicale_sections("g.conf", {"server": {"workers": "3"}}) == []
    for bad in ("0", "-1", "many", ""):
        problems = check_radicale_sections("g.conf", {"server": {"workers": bad}})
        assert [(p.section, p.key) for p in problems] == [("server", "workers")], bad
        assert "auto or a whole number" in problems[0].message
    config = Config(
        "g.conf", DirectoryConfig(), AccountsConfig(), {"server": {"workers": "3", "timeout": "7"}}
    )
    assert server_workers(config) == 3
    assert radicale_configuration(config).get("server", "timeout") == 7
    assert worker_count("auto") == len(os.sched_getaffinity(0))
