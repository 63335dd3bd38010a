# SPDX-License-Identifier: GPL-3.0-or-later
"""``[server] workers``: real ``groupware serve`` processes sharing one listening socket and one database.

Which process accepts a connection is the kernel's choice; to know who answered, a test freezes the other one
with SIGSTOP: a connection made meanwhile can only be accepted by the process still running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import LDIF_DIRECTORY, USER, child_pids, request, wait_for_port, wait_until, write_config

CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Carte {uid}\r\nEND:VCARD\r\n"


class Serve:
    """``groupware serve`` with ``workers`` processes; ``url`` for :func:`support.request`."""

    def __init__(self, tmp_path: Path, workers: int = 2, **accounts: str) -> None:
        tmp_path.mkdir(exist_ok=True)
        config = write_config(tmp_path / "groupware.conf", LDIF_DIRECTORY, accounts=accounts, workers=workers)
        hosts = next(line for line in config.read_text().splitlines() if line.startswith("hosts"))
        self.port = int(hosts.rpartition(":")[2])
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = config
        self.process = subprocess.Popen(
            [sys.executable, "-m", "groupware.cli", "serve", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )  # its own process group, as in a terminal
        wait_for_port("127.0.0.1", self.port)
        self.wait_for_helpers(workers - 1)

    def helpers(self) -> list[int]:
        """Process ids of the first process's children (the helpers)."""
        return child_pids(self.process.pid)

    def wait_for_helpers(self, count: int, timeout: float = 30.0, without: int | None = None) -> list[int]:
        """Wait until ``count`` helpers (none of them ``without``) serve: each has its request threads, and
        answers a request while every other process is frozen (its accept loop runs)."""

        def started() -> list[int]:
            pids = [pid for pid in self.helpers() if pid != without and _threads(pid) >= 5]
            return pids if len(pids) == count else []

        pids = wait_until(started, timeout, lambda: f"{count} helpers expected, found {self.helpers()}")
        for pid in pids:
            with frozen(self.process.pid, *(other for other in pids if other != pid)):
                status, _, _ = request(self, "OPTIONS", "/", login=None)
            assert status < 500, f"helper {pid} answered {status}"
        return pids

    def stop(self, group_signal: int | None = None) -> str:
        """SIGTERM (or ``group_signal`` to its whole process group, as Ctrl-C does), then what it logged."""
        if group_signal is not None:
            os.killpg(self.process.pid, group_signal)
        elif self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.communicate(timeout=20)[1]
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.communicate()[1]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groupware.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _threads(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextlib.contextmanager
def frozen(*pids: int) -> Iterator[None]:
    """SIGSTOP ``pids`` for the block: new connections go to the other processes."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    server = Serve(tmp_path)
    yield server
    server.stop()


def test_each_process_answers_and_sees_what_the_other_wrote(serve: Serve) -> None:
    (helper,) = serve.helpers()
    with frozen(serve.process.pid):
        status, _, _ = request(
            serve,
            "PUT",
            f"/{USER}/contacts/by-helper.vcf",
            body=CARD.format(uid="by-helper"),
            headers={"Content-Type": "text/vcard"},
        )
        assert status == 201
    with frozen(helper):
        status, _, _ = request(
            serve,
            "PUT",
            f"/{USER}/contacts/by-first.vcf",
            body=CARD.format(uid="by-first"),
            headers={"Content-Type": "text/vcard"},
        )
        assert status == 201
        status, _, body = request(serve, "GET", f"/{USER}/contacts/by-helper.vcf")
        assert status == 200 and b"UID:by-helper" in body
        status, _, _ = request(
            serve,
            "PUT",
            f"/{USER}/contacts/again.vcf",
            body=CARD.format(uid="by-helper"),
            headers={"Content-Type": "text/vcard"},
        )
        assert status == 409, "the UID written through the other process is known here"
    with frozen(serve.process.pid):
        status, _, body = request(serve, "GET", f"/{USER}/contacts/by-first.vcf")
        assert status == 200 and b"UID:by-first" in body


def test_a_lockout_counts_failures_made_in_every_process(tmp_path: Path) -> None:
    serve = Serve(tmp_path, max_failures_per_login="3")
    try:
        (helper,) = serve.helpers()
        for frozen_pid in (serve.process.pid, helper, serve.process.pid):
            with frozen(frozen_pid):
                assert request(serve, "PROPFIND", f"/{USER}/", password="wrong")[0] == 401
        for frozen_pid in (serve.process.pid, helper):
            with frozen(frozen_pid):
                assert request(serve, "PROPFIND", f"/{USER}/", headers={"Depth": "0"})[0] == 401, (
                    "locked out in both processes"
                )
        assert (
            request(
                serve,
                "PROPFIND",
                "/chloe.mas/",
                login="chloe.mas",
                password="chloe.mas-demo",
                headers={"Depth": "0"},
            )[0]
            == 207
        ), "the lockout is the login's, not the address's"
        listed = _cli("accounts", "lockouts", "--config", str(serve.config))
        assert listed.returncode == 0 and listed.stdout.startswith(f"login:{USER}\tuntil "), listed
        assert _cli("accounts", "unlock", f"login:{USER}", "--config", str(serve.config)).returncode == 0
        assert request(serve, "PROPFIND", f"/{USER}/", headers={"Depth": "0"})[0] == 207, "unlocked at once"
        again = _cli("accounts", "unlock", f"login:{USER}", "--config", str(serve.config))
        assert again.returncode == 1 and "not locked out" in again.stderr
    finally:
        log = serve.stop()
    lockouts = [line for line in log.splitlines() if "event=lockout " in line]
    assert len(lockouts) == 1 and f"worker={helper}" in lockouts[0], log  # the third failure was the helper's


def test_a_helper_that_dies_is_replaced(serve: Serve) -> None:
    (helper,) = serve.helpers()
    os.kill(helper, signal.SIGKILL)
    (replacement,) = serve.wait_for_helpers(1, without=helper)
    assert replacement != helper
    with frozen(serve.process.pid):
        assert request(serve, "PROPFIND", f"/{USER}/", headers={"Depth": "0"})[0] == 207
    assert "worker died" in serve.stop()


def test_helpers_stop_with_the_first_process(tmp_path: Path) -> None:
    terminated = Serve(tmp_path / "terminated", workers=3)
    helpers = terminated.helpers()
    assert len(helpers) == 2
    terminated.stop()
    assert terminated.process.returncode == 0
    assert not any(_alive(pid) for pid in helpers)

    interrupted = Serve(tmp_path / "interrupted")  # Ctrl-C in a terminal: SIGINT to the process group
    (helper,) = interrupted.helpers()
    log = interrupted.stop(group_signal=signal.SIGINT)
    assert interrupted.process.returncode == 0 and not _alive(helper)
    assert "worker died" not in log and "Traceback" not in log, log

    killed = Serve(tmp_path / "killed")
    (helper,) = killed.helpers()
    killed.process.kill()
    killed.process.wait()
    wait_until(lambda: not _alive(helper), 15, "a helper outlived its first process")
