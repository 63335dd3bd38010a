# SPDX-License-Identifier: GPL-3.0-or-later
"""Guards for the one Radicale patch: it fails when the upstream code it relies on changes."""

from __future__ import annotations

import inspect

import radicale.app.propfind
import radicale.utils

from groupware.dav.upstream import patch_radicale


def test_upstream_still_reads_versions_through_utils_package_version() -> None:
    source = inspect.getsource(radicale.app.propfind)
    assert "utils.package_version(" in source or "utils.vobject_supports_vcard4()" in source
    assert list(inspect.signature(radicale.utils.package_version).parameters) == ["name"]
    assert "package_version(" in inspect.getsource(radicale.utils.vobject_supports_vcard4)


def test_patch_memoizes_and_returns_the_same_versions() -> None:
    before = radicale.utils.package_version("radicale")
    patch_radicale()
    patch_radicale()  # idempotent
    assert radicale.utils.package_version("radicale") == before
    assert radicale.utils.package_version.cache_info().hits >= 0  # type: ignore[attr-defined]
    assert radicale.utils.package_version("radicale") is radicale.utils.package_version("radicale")


def test_trace_patch_skips_disabled_trace_and_keeps_enabled_records() -> None:
    import logging

    import radicale.log

    patch_radicale()
    patch_radicale()
    logger = radicale.log.logger
    assert getattr(logger.trace, "groupware_fast", False)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    level = logger.level
    try:
        logger.setLevel(logging.DEBUG)
        logger.trace("hidden %s", 1)
        logger.setLevel(radicale.log.LOG_LEVEL_TRACE)
        logger.trace("shown %s", 2)
    finally:
        logger.setLevel(level)
        logger.removeHandler(handler)
    assert [r.getMessage() for r in records] == ["shown 2"]
    assert records[0].levelno == radicale.log.LOG_LEVEL_TRACE and records[0].funcName != "trace"
