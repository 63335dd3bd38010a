# SPDX-License-Identifier: GPL-3.0-or-later
"""The systemd unit of ``config/groupware.service``: what it runs is a valid groupware command, it may write
where the example configuration stores data, it is hardened, and ``systemd-analyze verify`` and ``security``
accept it (systemd is a Debian package of the test machine: missing, the test fails, it never skips)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT, require_binaries

from groupware import config as config_module
from groupware.cli import build_parser

UNIT = ROOT / "config" / "groupware.service"
#: ``systemd-analyze security`` rates a unit from 0 (locked down) to 10; ours must stay "OK" (below 3).
MAX_EXPOSURE = 2.5


def directives(text: str) -> dict[str, list[str]]:
    """``Key=value`` lines of a unit file, every value of a repeated key, comments left out."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def runnable_copy(folder: Path, text: str | None = None) -> Path:
    """The unit (or ``text``) as ``groupware.service`` in ``folder``, running the groupware of this Python
    (``verify`` checks that the command exists)."""
    groupware = shutil.which("groupware", path=str(Path(sys.executable).parent)) or "groupware"
    unit = folder / "groupware.service"
    unit.write_text((text or UNIT.read_text()).replace("/opt/groupware/bin/groupware", groupware))
    return unit


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    require_binaries("systemd-analyze", packages="systemd")
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, timeout=120)


def test_the_unit_runs_valid_groupware_commands() -> None:
    unit = directives(UNIT.read_text())
    for key in ("ExecStartPre", "ExecStart"):
        (command,) = unit[key]
        binary, *args = shlex.split(command)
        assert binary == "/opt/groupware/bin/groupware"
        parsed = build_parser().parse_args(args)
        named = getattr(parsed, "config", None) or getattr(parsed, "config_file", None)
        assert named == "/etc/groupware/groupware.conf", (key, parsed)
    assert unit["ExecStart"][0].split()[1] == "serve" and unit["ExecStartPre"][0].split()[1] == "check-config"


def test_the_unit_is_hardened_and_may_write_where_the_example_stores_data() -> None:
    unit = directives(UNIT.read_text())
    expected = {
        "User": "groupware",
        "Group": "groupware",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "Restart": "on-failure",
        "StateDirectory": "groupware",
    }
    assert {key: unit.get(key, [""])[-1] for key in expected} == expected
    writable = [path.lstrip("-") for value in unit["ReadWritePaths"] for path in value.split()]
    example = config_module.read_sections(ROOT / "config" / "groupware.conf")
    for data in (example["storage"]["filesystem_folder"], example["sieve"]["mail_root"]):
        assert any(Path(data).is_relative_to(path) for path in writable), f"{data} is not writable"
    assert "CAP_NET_BIND_SERVICE" in unit["CapabilityBoundingSet"][0], "LMTP's example port is 24"


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    result = analyze("verify", str(runnable_copy(tmp_path)))
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_systemd_analyze_verify_would_see_a_mistake(tmp_path: Path) -> None:
    """The check above can fail: a misspelt value is reported (on stderr, even with status 0)."""
    broken = UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystem=strikt")
    result = analyze("verify", str(runnable_copy(tmp_path, broken)))
    assert "strikt" in result.stderr


def test_systemd_analyze_rates_the_unit_locked_down(tmp_path: Path) -> None:
    result = analyze("security", "--offline=true", str(runnable_copy(tmp_path)))
    found = re.search(r"Overall exposure level for groupware\.service: ([0-9.]+)", result.stdout)
    assert found is not None, result.stdout + result.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, result.stdout


@pytest.mark.parametrize("name", ["groupware.service", "nginx-groupware.conf"])
def test_the_operations_files_carry_the_licence(name: str) -> None:
    assert (ROOT / "config" / name).read_text().startswith("# SPDX-License-Identifier: GPL-3.0-or-later\n")
