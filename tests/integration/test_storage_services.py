# SPDX-License-Identifier: GPL-3.0-or-later
"""The storage plugin opens its store on the running services' one Database (shared with the sharing tables
and the lockouts), and on a file of its own when Radicale runs it without our runtime."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import LDIF_DIRECTORY, write_config

from groupware import config as config_module
from groupware.dav.configuration import radicale_configuration
from groupware.plugins.storage import Storage
from groupware.runtime.services import Services, build_services


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    path = write_config(tmp_path / "groupware.conf", LDIF_DIRECTORY, storage=tmp_path / "collections")
    running = build_services(config_module.load(path))
    yield running
    running.close()


def test_the_plugin_shares_the_services_database(services: Services) -> None:
    storage = Storage(radicale_configuration(services.config, services))
    try:
        assert storage.store.db is services.database
        assert services.sharing.db.db is services.database
        storage.store.ensure_collection("marie/calendar")
    finally:
        storage.close()
    # closing the plugin leaves the shared database to the services
    assert services.database.connection().execute("SELECT count(*) FROM collections").fetchone()[0] == 3


def test_without_the_runtime_the_plugin_opens_the_same_file_itself(services: Services) -> None:
    storage = Storage(radicale_configuration(services.config))
    try:
        assert storage.store.db is not services.database
        assert os.path.abspath(storage.store.db.path) == os.path.abspath(services.database.path)
    finally:
        storage.close()
