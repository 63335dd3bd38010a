# SPDX-License-Identifier: GPL-3.0-or-later
"""check-config knows our options in Radicale's sections ([storage] of our plugin, [server] workers);
Radicale's own storage still refuses ours."""

from __future__ import annotations

import os

from groupware.config import AccountsConfig, Config, DirectoryConfig
from groupware.dav.configuration import RADICALE_DEFAULTS, check_radicale_sections, radicale_configuration
from groupware.runtime.checks import runtime_option_problems
from groupware.runtime.supervisor import server_workers
from groupware.runtime.workers import worker_count


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
    for good in ("auto", "3"):
        assert check_radicale_sections("g.conf", {"server": {"workers": good}}) == []
        assert runtime_option_problems("g.conf", {"server": {"workers": good}}) == []
    for bad in ("0", "-1", "many", ""):
        assert check_radicale_sections("g.conf", {"server": {"workers": bad}}) == []  # not Radicale's
        problems = runtime_option_problems("g.conf", {"server": {"workers": bad}})
        assert [(p.section, p.key) for p in problems] == [("server", "workers")], bad
        assert "auto or a whole number" in problems[0].message
    config = Config(
        "g.conf", DirectoryConfig(), AccountsConfig(), {"server": {"workers": "3", "timeout": "7"}}
    )
    assert server_workers(config) == 3
    assert radicale_configuration(config).get("server", "timeout") == 7
    assert worker_count("auto") == len(os.sched_getaffinity(0))
