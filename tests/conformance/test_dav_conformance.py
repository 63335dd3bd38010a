# SPDX-License-Identifier: GPL-3.0-or-later
"""DAV conformance: ``groupware serve`` is no worse than stock Radicale under caldav-server-tester and litmus.

``run_dav_conformance.py`` beside this file does the work (see its docstring for the servers, users and
rights). Stock Radicale runs once per session; ours runs once per storage type of ``storage_types()``:
Radicale's default storage, and ``groupware.plugins.storage`` as soon as that module can be imported (the
parameter list grows by itself; another engine joins by its dotted name in ``storage_types``). Each case
fails, and never skips, when litmus or caldav-server-tester is missing. About 10 s per server.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


def _runner() -> ModuleType:
    path = Path(__file__).with_name("run_dav_conformance.py")
    spec = importlib.util.spec_from_file_location("run_dav_conformance", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


runner = _runner()
TOOLS = {"caldav-server-tester": runner.run_caldav_tester, "litmus": runner.run_litmus}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("dav-conformance"))


@pytest.fixture(scope="module")
def stock(workdir: Path) -> Iterator[dict[str, object]]:
    """Both tools' results on stock Radicale (run once)."""
    try:
        with runner.stock_server(workdir) as url:
            yield {name: tool(url, workdir) for name, tool in TOOLS.items()}
    except runner.ConformanceError as exc:
        pytest.fail(str(exc))


@pytest.mark.slow
@pytest.mark.parametrize("storage", runner.storage_types())
def test_ours_no_worse_than_stock(storage: str, stock: dict[str, object], workdir: Path) -> None:
    try:
        with runner.our_server(workdir, storage) as url:
            ours = {name: tool(url, workdir) for name, tool in TOOLS.items()}
    except runner.ConformanceError as exc:
        pytest.fail(str(exc))
    run = runner.Run(storage, stock, ours)
    for tool, results in ours.items():
        assert results.checks, f"{tool} reported nothing on ours"
    regressions = run.regressions()
    assert not any(regressions.values()), f"ours is worse than stock: {regressions}\n\n{run.table()}"


def test_litmus_report_parsing() -> None:
    text = (
        "-> running `basic':\n\r 0. init.................. \r 0. init.................. pass\n"
        "\r 5. put_no_parent......... WARNING: MKCOL with missing intermediate gave 403, should be 409\n"
        "    ...................... pass (with 1 warning)\n"
        "    ...................... \r 6. mkcol_over_plain...... SKIPPED\n"
        "\r10. mkcol................. \r10. mkcol................. FAIL (MKCOL /litmus/coll/: 403 "
        "Forbidden)\n"
        "-> running `locks':\n\r18. cond_put_corrupt_token \r18. cond_put_corrupt_token SKIPPED\n"
    )
    assert runner.parse_litmus(text) == {
        "basic.00.init": "pass",
        "basic.05.put_no_parent": "warning",
        "basic.06.mkcol_over_plain": "skipped",
        "basic.10.mkcol": "fail",
        "locks.18.cond_put_corrupt_token": "skipped",
    }


def test_worse_ranks_per_check() -> None:
    stock = runner.Results("litmus", {"a": "pass", "b": "fail", "c": "warning", "d": "pass"})
    ours = runner.Results("litmus", {"a": "pass", "b": "pass", "c": "fail"})
    assert runner.worse(stock, ours) == {"c": ("warning", "fail"), "d": ("pass", "(not run)")}
    stock = runner.Results("caldav-server-tester", {"x": "full", "y": "unsupported", "v": "value=False"})
    ours = runner.Results("caldav-server-tester", {"x": "fragile", "y": "full"})
    assert runner.worse(stock, ours) == {"x": ("full", "fragile")}


def test_caldav_tester_hints_parsing() -> None:
    text = (
        "{\n    'principal-search': {'support': 'unsupported'},\n"
        "    'synchronous-write': {'support': 'full', 'save-load-delay': 0},\n"
        "    'get-current-user-principal.has-calendar': {'value': False},\n}\n"
    )
    assert runner.parse_tester_hints(text) == {
        "principal-search": "unsupported",
        "synchronous-write": "full",
        "get-current-user-principal.has-calendar": "value=False",
    }
