# SPDX-License-Identifier: GPL-3.0-or-later
"""The wheel holds every package, and imports run only in the directions ARCHITECTURE.md allows."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import wait_until

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = {
    "groupware": ROOT / "groupware",
    "groupware.plugins": ROOT / "plugins",
    "groupware.sieve": ROOT / "sieve",
    "groupware.data": ROOT / "config",
}


def _module_name(path: Path) -> str:
    for package, folder in sorted(SOURCE_DIRS.items(), key=lambda item: -len(str(item[1]))):
        if path.is_relative_to(folder):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            return ".".join(p for p in parts if p != "__init__")
    raise AssertionError(path)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package installed (not editable) into a folder of its own, as a wheel would install it."""
    target = tmp_path_factory.mktemp("installed")
    source = _clean_copy(tmp_path_factory.mktemp("source"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        cwd=target,
    )
    return target


def _clean_copy(folder: Path) -> Path:
    """The source tree without build leftovers (setuptools' ``build/`` would ship modules deleted since)."""
    ignored = shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "var", "*.egg-info", "__pycache__", ".*_cache"
    )
    shutil.copytree(ROOT, folder / "groupware", ignore=ignored)
    return folder / "groupware"


def _lint_imports(site: Path) -> subprocess.CompletedProcess[str]:
    """import-linter's contracts of pyproject.toml over the package installed in ``site``."""
    command = [str(Path(sys.executable).with_name("lint-imports")), str(ROOT / "pyproject.toml")]
    environment = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(command, capture_output=True, text=True, cwd=site, env=environment, check=False)


def test_import_contracts_hold(installed: Path) -> None:
    """Layers, Radicale and Sieve boundaries, no cycle: the contracts of ARCHITECTURE.md (import-linter)."""
    result = _lint_imports(installed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout and "KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("store/planted.py", "import groupware.dav.app\n"),  # a service reaching up to the DAV edge
        ("sieve/planted.py", "import groupware.config\n"),  # the mail-rules module importing ours
        ("directory/planted.py", "import radicale\n"),  # Radicale outside the edge
        ("dav/planted.py", "import groupware.sieve.managesieve\n"),  # a Sieve server outside the runtime
    ],
)
def test_import_contracts_catch_a_planted_violation(
    installed: Path, tmp_path: Path, module: str, source: str
) -> None:
    site = tmp_path / "site"
    shutil.copytree(installed, site)
    (site / "groupware" / module).write_text(source, encoding="utf-8")
    result = _lint_imports(site)
    assert result.returncode != 0 and "BROKEN" in result.stdout, result.stdout


def test_import_contracts_catch_a_planted_cycle(installed: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(installed, site)
    (site / "groupware" / "store" / "planted_a.py").write_text("import groupware.store.planted_b\n")
    (site / "groupware" / "store" / "planted_b.py").write_text("import groupware.store.planted_a\n")
    result = _lint_imports(site)
    assert result.returncode != 0 and "No cycles are allowed in groupware.store" in result.stdout, (
        result.stdout
    )


def test_declared_packages_cover_every_source_folder() -> None:
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {_module_name(init) for folder in SOURCE_DIRS.values() for init in folder.rglob("__init__.py")}
    assert found == declared


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``python -m build`` makes of a clean copy of the tree."""
    outdir = tmp_path_factory.mktemp("wheel")
    source = _clean_copy(tmp_path_factory.mktemp("wheel-source"))
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(outdir), str(source)],
        check=True,
        capture_output=True,
    )
    return next(outdir.glob("groupware-*.whl"))


@pytest.mark.slow
def test_wheel_contains_every_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    for package in declared:
        assert f"{package.replace('.', '/')}/__init__.py" in names, package
    assert not any(name.startswith(("sieve/", "plugins/")) for name in names), "a top-level sieve or plugins"
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "groupware = groupware.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    data_files = ("demo.conf", "demo-directory.ldif", "groupware.conf", "directory-presets.conf")
    for data in (*data_files, "demo-supann-directory.ldif", "supann.schema"):
        assert f"groupware/data/{data}" in names, data


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_serves_the_demo(wheel: Path, tmp_path: Path) -> None:
    """Installed from the wheel, outside the checkout, ``groupware serve`` runs the demo from any folder."""
    fresh = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    python = fresh / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies come from the test environment's own folder (a .pth line adds no editable finder).
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    workdir = tmp_path / "anywhere"
    workdir.mkdir()
    located = subprocess.run(
        [str(python), "-c", "import groupware.config as c; print(c.DEMO_CONFIG)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=workdir,
    ).stdout
    assert located.startswith(site), located
    with _demo_port() as port:
        server = subprocess.Popen(
            [str(fresh / "bin" / "groupware"), "serve"], cwd=workdir, stderr=subprocess.PIPE, text=True
        )
        try:
            assert _answers_propfind("127.0.0.1", port, "helene.lefevre", "helene.lefevre-demo", server)
            assert (workdir / "var" / "collections" / "groupware.sqlite").is_file()
        finally:
            server.terminate()
            server.wait(timeout=30)


@contextlib.contextmanager
def _demo_port() -> Iterator[int]:
    """The demo's fixed port (5232), once free: test runs of other checkouts on this machine take turns
    (a lock file), and a server of someone else's there fails the test by name rather than answering it."""
    port = 5232
    with open(Path(tempfile.gettempdir()) / f"groupware-tests-port-{port}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)

        def free() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) != 0

        wait_until(free, 30, f"something else listens on 127.0.0.1:{port}, the demo's port")
        yield port


def _answers_propfind(host: str, port: int, user: str, password: str, server: subprocess.Popen[str]) -> bool:
    """Whether the server at ``host:port`` answers a principal's PROPFIND with 207 within 60 s."""
    import base64
    import http.client
    import time

    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            connection = http.client.HTTPConnection(host, port, timeout=5)
            connection.request(
                "PROPFIND", f"/{user}/", headers={"Depth": "0", "Authorization": f"Basic {token}"}
            )
            return connection.getresponse().status == 207
        except OSError:
            time.sleep(0.2)
    logged = server.stderr.read() if server.stderr and server.poll() is not None else ""
    raise AssertionError(f"the demo did not answer: {logged}")


def test_no_two_test_modules_share_a_name() -> None:
    """One test module name per file name (ARCHITECTURE.md): ``mypy tests`` and test reports need them
    unique."""
    names = sorted(path.name for path in (ROOT / "tests").rglob("test_*.py"))
    assert len(names) > 20 and sorted(set(names)) == names


def test_package_guard_refuses_a_top_level_import() -> None:
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import plugins"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "groupware.plugins" in result.stderr
