# SPDX-License-Identifier: GPL-3.0-or-later
"""Guards for the one Radicale patch: it fails when the upstream code it relies on changes."""

from __future__ import annotations

import inspect

import radicale.app.propfind
import radicale.utils

from groupware.server import patch_radicale


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
