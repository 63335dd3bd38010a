# SPDX-License-Identifier: GPL-3.0-or-later
"""``[server] workers``: real ``groupware serve`` processes sharing one listening socket and one database.

With two workers or more, the first process serves no HTTP: the helpers do, beside it, and the first process
keeps ManageSieve, LMTP and the sync. Which helper accepts a connection is the kernel's choice; to know who
answered, a test freezes the others with SIGSTOP: a connection made meanwhile can only be accepted by the
process still running.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    LDIF_DIRECTORY,
    PASSWORD,
    USER,
    child_pids,
    free_port,
    request,
    wait_for_port,
    wait_until,
    write_config,
)

CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Carte {uid}\r\nEND:VCARD\r\n"


class Serve:
    """``groupware serve`` with ``workers`` processes; ``url`` for :func:`support.request`."""

    def __init__(self, tmp_path: Path, workers: int = 2, sieve_port: int = 0, **accounts: str) -> None:
        tmp_path.mkdir(exist_ok=True)
        config = write_config(tmp_path / "groupware.conf", LDIF_DIRECTORY, accounts=accounts, workers=workers)
        if sieve_port:
            with config.open("a", encoding="utf-8") as handle:
                handle.write(
                    f"\n[sieve]\nenabled = true\nhosts = 127.0.0.1:{sieve_port}\n"
                    f"mail_root = {tmp_path / 'mail'}\nallow_plaintext = true\n"
                )
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
        self.wait_for_helpers(workers if workers > 1 else 0)

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
    one, other = serve.helpers()
    with frozen(one):
        status, _, _ = request(
            serve,
            "PUT",
            f"/{USER}/contacts/by-other.vcf",
            body=CARD.format(uid="by-other"),
            headers={"Content-Type": "text/vcard"},
        )
        assert status == 201
    with frozen(other):
        status, _, _ = request(
            serve,
            "PUT",
            f"/{USER}/contacts/by-one.vcf",
            body=CARD.format(uid="by-one"),
            headers={"Content-Type": "text/vcard"},
        )
        assert status == 201
        status, _, body = request(serve, "GET", f"/{USER}/contacts/by-other.vcf")
        assert status == 200 and b"UID:by-other" in body
        status, _, _ = request(
            serve,
            "PUT",
            f"/{USER}/contacts/again.vcf",
            body=CARD.format(uid="by-other"),
            headers={"Content-Type": "text/vcard"},
        )
        assert status == 409, "the UID written through the other process is known here"
    with frozen(one):
        status, _, body = request(serve, "GET", f"/{USER}/contacts/by-one.vcf")
        assert status == 200 and b"UID:by-one" in body


def test_the_first_process_serves_no_http(serve: Serve) -> None:
    """Every helper frozen: a request waits (the first process does not accept it), then is answered."""
    helpers = serve.helpers()
    waiting = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=1.5)
    with frozen(*helpers), pytest.raises(TimeoutError):
        request(serve, "OPTIONS", "/", login=None, conn=waiting)
    assert request(serve, "OPTIONS", "/", login=None)[0] < 500


def _managesieve_login(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        answer = b""
        while b"\r\nOK" not in b"\r\n" + answer:
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
        token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode())
        sock.sendall(b'AUTHENTICATE "PLAIN" "' + token + b'"\r\n')
        return sock.recv(65536)


def test_stuck_or_killed_http_processes_never_stop_managesieve(tmp_path: Path) -> None:
    """A request that runs away takes at most its own process: ManageSieve lives in the first one."""
    port = free_port()
    serve = Serve(tmp_path, sieve_port=port)
    try:
        wait_for_port("127.0.0.1", port)
        helpers = serve.helpers()
        with frozen(*helpers):  # every HTTP process busy forever
            assert _managesieve_login(port).startswith(b"OK"), "ManageSieve answered while HTTP was stuck"
        for pid in helpers:
            os.kill(pid, signal.SIGKILL)
        assert _managesieve_login(port).startswith(b"OK")
        serve.wait_for_helpers(2, without=helpers[0])
        assert request(serve, "PROPFIND", f"/{USER}/", headers={"Depth": "0"})[0] == 207
    finally:
        serve.stop()


def test_a_lockout_counts_failures_made_in_every_process(tmp_path: Path) -> None:
    serve = Serve(tmp_path, max_failures_per_login="3")
    try:
        one, other = serve.helpers()
        for frozen_pid in (one, other, one):
            with frozen(frozen_pid):
                assert request(serve, "PROPFIND", f"/{USER}/", password="wrong")[0] == 401
        for frozen_pid in (one, other):
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
    assert len(lockouts) == 1 and f"worker={other}" in lockouts[0], log  # the third failure was there


def test_a_helper_that_dies_is_replaced(serve: Serve) -> None:
    one, other = serve.helpers()
    os.kill(one, signal.SIGKILL)
    replacement = next(pid for pid in serve.wait_for_helpers(2, without=one) if pid != other)
    assert replacement != one
    with frozen(other):
        assert request(serve, "PROPFIND", f"/{USER}/", headers={"Depth": "0"})[0] == 207
    assert "worker died" in serve.stop()


def test_helpers_stop_with_the_first_process(tmp_path: Path) -> None:
    terminated = Serve(tmp_path / "terminated", workers=3)
    helpers = terminated.helpers()
    assert len(helpers) == 3
    terminated.stop()
    assert terminated.process.returncode == 0
    assert not any(_alive(pid) for pid in helpers)

    interrupted = Serve(tmp_path / "interrupted")  # Ctrl-C in a terminal: SIGINT to the process group
    helpers = interrupted.helpers()
    log = interrupted.stop(group_signal=signal.SIGINT)
    assert interrupted.process.returncode == 0 and not any(_alive(pid) for pid in helpers)
    assert "worker died" not in log and "Traceback" not in log, log

    killed = Serve(tmp_path / "killed")
    helpers = killed.helpers()
    killed.process.kill()
    killed.process.wait()
    wait_until(lambda: not any(_alive(pid) for pid in helpers), 15, "a helper outlived its first process")


def test_metrics_sum_every_process(serve: Serve) -> None:
    """Each helper counts in its own file; whichever answers /.groupware/metrics sums them all."""
    one, other = serve.helpers()
    for frozen_pid, times in ((one, 2), (other, 3)):
        with frozen(frozen_pid):
            for _ in range(times):
                assert request(serve, "PROPFIND", f"/{USER}/", headers={"Depth": "0"})[0] == 207
    for frozen_pid in (one, other):
        with frozen(frozen_pid):
            status, _, body = request(serve, "GET", "/.groupware/metrics", login=None)
            assert status == 200, (status, body)
            line = next(
                line
                for line in body.decode().splitlines()
                if line.startswith('groupware_http_requests_total{method="PROPFIND",status="207"}')
            )
            assert float(line.split()[-1]) == 5, line
