# SPDX-License-Identifier: GPL-3.0-or-later
"""Nothing acknowledged is lost: ``groupware serve`` (one process, or two killed together) killed with SIGKILL
in the middle of a burst of PUTs and DELETEs from several threads, then restarted, has every acknowledged
write and a consistent store."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support import LDIF_DIRECTORY, USER, child_pids, free_port, request, wait_until, write_config

from groupware.store import Store

GROUPWARE = [sys.executable, "-m", "groupware.cli"]
BOOK = f"/{USER}/contacts/"


class _Address:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"


def _serve(config: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [*GROUPWARE, "serve", "--config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until(lambda: process.poll() is not None or _accepts(port), 30, "groupware serve did not start")
    except AssertionError:
        process.kill()
        raise
    if process.poll() is not None:
        pytest.fail(f"groupware serve exited with {process.returncode}")
    return process


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def _card(uid: str, n: int) -> str:
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Personne {uid} v{n}\r\nEND:VCARD\r\n"


def _burst(server: _Address, worker: int, acked: dict[str, str | None], stop: threading.Event) -> None:
    """PUT and DELETE cards; record what the server acknowledged (href → etag, ``None`` once deleted, ``""``
    while a DELETE is unanswered: either state is then right)."""
    n = 0
    while not stop.is_set():
        uid = f"w{worker}-{n}"
        href = f"{BOOK}{uid}.vcf"
        try:
            status, headers, _ = request(
                server,
                "PUT",
                href,
                body=_card(uid, n),  # type: ignore[arg-type]
                headers={"Content-Type": "text/vcard"},
            )
            if status in (201, 204):
                acked[href] = headers["etag"]
            if n % 3 == 2:
                previous = f"{BOOK}w{worker}-{n - 1}.vcf"
                acked[previous] = ""
                if request(server, "DELETE", previous)[0] == 204:  # type: ignore[arg-type]
                    acked[previous] = None
        except (OSError, http.client.HTTPException):
            return
        n += 1


def _kill_every_process(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the server and its worker processes at once (they run in their own session)."""
    for pid in [process.pid, *child_pids(process.pid)]:
        os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_during_a_burst_loses_nothing_acknowledged(tmp_path: Path, workers: int) -> None:
    port = free_port()
    storage = tmp_path / "collections"
    config = write_config(
        tmp_path / "serve.conf", LDIF_DIRECTORY, port=port, storage=storage, workers=workers
    )
    server = _Address(port)
    process = _serve(config, port)
    acked: dict[str, str | None] = {}
    try:
        assert request(server, "PROPFIND", f"/{USER}/", headers={"Depth": "1"})[0] == 207  # type: ignore[arg-type]
        stop = threading.Event()
        writers = [threading.Thread(target=_burst, args=(server, w, acked, stop)) for w in range(4)]
        for writer in writers:
            writer.start()
        # Kill in the middle of the burst: once every writer has had writes acknowledged.
        wait_until(lambda: len(acked) >= 60, 60, "the burst did too little before the kill")
        _kill_every_process(process)
        process.wait(timeout=10)
        stop.set()
        for writer in writers:
            writer.join(timeout=30)
    finally:
        process.kill()
    assert len(acked) > 20, "the burst did too little before the kill"
    process = _serve(config, port)
    try:
        for href, etag in acked.items():
            status, headers, _ = request(server, "GET", href)  # type: ignore[arg-type]
            if etag == "":
                assert status in (200, 404), href
            elif etag is None:
                assert status == 404, href
            else:
                assert status == 200 and headers["etag"] == etag, href
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    store = Store(str(storage / "groupware.sqlite"))
    assert store.verify() == []
    store.close()
