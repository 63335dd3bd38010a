# SPDX-License-Identifier: GPL-3.0-or-later
"""The wheel holds every package, and imports run only in the directions ARCHITECTURE.md allows."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = {
    "groupware": ROOT / "groupware",
    "groupware.plugins": ROOT / "plugins",
    "groupware.sieve": ROOT / "sieve",
}
COMPOSITION_ROOT = {
    "groupware.cli",
    "groupware.server",
    "groupware.managesieve_door",
    "groupware.sharing_door",
    "groupware.addressbooks_door",
    "groupware.lmtp_door",
    "groupware.workers",
    "groupware.serving",
}


def _module_name(path: Path) -> str:
    for package, folder in sorted(SOURCE_DIRS.items(), key=lambda item: -len(str(item[1]))):
        if path.is_relative_to(folder):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            return ".".join(p for p in parts if p != "__init__")
    raise AssertionError(path)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _all_modules() -> dict[str, set[str]]:
    modules = {}
    for folder in SOURCE_DIRS.values():
        for path in folder.rglob("*.py"):
            modules[_module_name(path)] = _imports(path)
    return modules


def _layer(module: str) -> str:
    if module.startswith("groupware.plugins"):
        return "plugins"
    if module.startswith("groupware.sieve"):
        return "sieve"
    return "root" if module in COMPOSITION_ROOT else "core"


def test_import_directions_hold() -> None:
    """plugins → core (+Radicale); root → core, sieve, Radicale; core → core only; sieve → nothing of ours."""
    allowed = {"plugins": {"core"}, "root": {"core", "sieve"}, "core": {"core"}, "sieve": {"sieve"}}
    violations = []
    for module, imports in _all_modules().items():
        layer = _layer(module)
        for name in imports:
            if name.startswith("radicale") and layer in ("core", "sieve"):
                violations.append(f"{module} imports {name}")
            if name == "groupware" or name.startswith("groupware."):
                target = _layer(name)
                if name == "groupware.plugins" or name == "groupware.sieve":
                    target = name.split(".")[1]
                if target != layer and target not in allowed[layer]:
                    violations.append(f"{module} ({layer}) imports {name} ({target})")
    assert violations == []


def test_import_direction_check_catches_a_violation(tmp_path: Path) -> None:
    """The checker itself sees an upward import (so the test above can fail)."""
    bad = tmp_path / "bad.py"
    bad.write_text("from groupware.plugins import auth\nimport radicale\n")
    assert {"groupware.plugins", "groupware.plugins.auth", "radicale"} <= _imports(bad)


def test_declared_packages_cover_every_source_folder() -> None:
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {_module_name(init) for folder in SOURCE_DIRS.values() for init in folder.rglob("__init__.py")}
    assert found == declared


@pytest.mark.slow
def test_wheel_contains_every_package(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("groupware-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    for package in declared:
        assert f"{package.replace('.', '/')}/__init__.py" in names, package
    assert not any(name.startswith(("sieve/", "plugins/")) for name in names), "a top-level sieve or plugins"
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "groupware = groupware.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_package_guard_refuses_a_top_level_import() -> None:
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import plugins"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "groupware.plugins" in result.stderr
