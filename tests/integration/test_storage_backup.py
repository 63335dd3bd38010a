# SPDX-License-Identifier: GPL-3.0-or-later
"""``groupware storage backup|restore``: a backup taken while a real server process takes PUTs over HTTP holds
every item acknowledged before it began and none sent after it ended; restored into a fresh data folder and
served, every such item reads back. Restore refuses a database a running server has open, a damaged backup and
a file that is not a groupware database, and leaves the database as it was then."""

from __future__ import annotations

import http.client
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import LDIF_DIRECTORY, USER, free_port, request, wait_for_port, write_config

from groupware.store import Store
from groupware.store.backup import BackupError, backup, check_database

GROUPWARE = [sys.executable, "-m", "groupware.cli"]
BOOK = f"/{USER}/contacts/"
PHOTO = "A" * 30000  # a large card: the database grows by several pages with every PUT


@dataclass
class Put:
    """One acknowledged PUT: when it was sent and answered, and the entity tag answered."""

    href: str
    sent: float
    acked: float
    etag: str


class Serve:
    """``groupware serve --config`` in a child process, serving HTTP at :attr:`url`."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = write_config(folder / "groupware.conf", LDIF_DIRECTORY, port=self.port)
        self.database = folder / "collections" / "groupware.sqlite"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [*GROUPWARE, "serve", "--config", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port("127.0.0.1", self.port, timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            try:
                assert self.process.wait(timeout=15) == 0
            finally:
                self.process.kill()
            self.process = None


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    server = Serve(tmp_path / "site")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GROUPWARE, *args], capture_output=True, text=True, timeout=120, check=False)


def card(uid: str) -> str:
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Personne {uid}\r\nNOTE:{PHOTO}\r\nEND:VCARD\r\n"


def put(server: Serve, uid: str) -> Put | None:
    href = f"{BOOK}{uid}.vcf"
    sent = time.monotonic()
    status, headers, _ = request(server, "PUT", href, body=card(uid), headers={"Content-Type": "text/vcard"})
    return Put(href, sent, time.monotonic(), headers["etag"]) if status in (201, 204) else None


def writer(server: Serve, worker: int, done: list[Put], stop: threading.Event) -> None:
    """PUT new cards until ``stop``; record each acknowledged one."""
    n = 0
    while not stop.is_set():
        try:
            acknowledged = put(server, f"w{worker}-{n}")
        except (OSError, http.client.HTTPException):
            return
        if acknowledged is not None:
            done.append(acknowledged)
        n += 1


def backed_up_hrefs(path: Path) -> set[str]:
    store = Store(str(path))
    try:
        return {f"{BOOK}{href}" for href in store.hrefs(store.collection(BOOK.strip("/")).id)}
    finally:
        store.close()


def test_backup_under_write_load_then_restore_serves_every_acknowledged_item(
    serve: Serve, tmp_path: Path
) -> None:
    assert request(serve, "PROPFIND", f"/{USER}/", headers={"Depth": "1"})[0] == 207
    done: list[Put] = []
    for n in range(40):  # a database of a few megabytes before the load starts
        acknowledged = put(serve, f"seed-{n}")
        assert acknowledged is not None
        done.append(acknowledged)
    stop = threading.Event()
    writers = [threading.Thread(target=writer, args=(serve, w, done, stop)) for w in range(3)]
    for thread in writers:
        thread.start()
    steps: list[tuple[int, int]] = []

    def slowly(copied: int, total: int) -> None:
        steps.append((copied, total))
        time.sleep(0.05)  # let the writers commit between the steps of the copy

    watchdog = threading.Timer(90, stop.set)  # a copy restarted by every write would never end otherwise
    watchdog.start()
    try:
        time.sleep(0.5)
        began = time.monotonic()
        report = backup(str(serve.database), str(tmp_path / "backup.sqlite"), slowly, step_pages=16)
        ended = time.monotonic()
        time.sleep(0.3)
        command_began = time.monotonic()  # the command too, while the writes go on
        command = cli("storage", "backup", str(tmp_path / "command.sqlite"), "--config", str(serve.config))
        command_ended = time.monotonic()
        time.sleep(0.3)
    finally:
        watchdog.cancel()
        stop.set()
        for thread in writers:
            thread.join(timeout=30)
    assert ended - began < 90, "the backup only ended once the writes stopped"
    during = [p for p in done if began < p.acked < ended]
    assert len(steps) > 10 and len(during) >= 1, (len(steps), len(during))  # writes went on during the copy
    assert report.pages == steps[-1][1]
    saved = backed_up_hrefs(tmp_path / "backup.sqlite")
    before = [p for p in done if p.acked < began]
    after = [p for p in done if p.sent > ended]
    assert after, "no write after the backup: the load ended too early"
    assert {p.href for p in before} <= saved
    assert not {p.href for p in after} & saved  # one snapshot: nothing written after the copy ended

    assert command.returncode == 0, command.stderr
    assert "integrity ok" in command.stdout and "backup: 100%" in command.stderr  # its progress bar
    by_command = backed_up_hrefs(tmp_path / "command.sqlite")
    assert {p.href for p in done if p.acked < command_began} <= by_command
    assert not {p.href for p in done if p.sent > command_ended} & by_command

    fresh = Serve(tmp_path / "fresh")
    restored = cli("storage", "restore", str(tmp_path / "backup.sqlite"), "--config", str(fresh.config))
    assert restored.returncode == 0, restored.stderr
    assert "integrity ok" in restored.stdout and f"configuration {fresh.config}" in restored.stderr
    store = Store(str(fresh.database))
    assert store.verify() == []
    store.close()
    fresh.start()
    try:
        in_backup = [p for p in done if p.href in saved]
        assert len(in_backup) >= len(before)
        for item in in_backup:
            status, headers, body = request(fresh, "GET", item.href)
            assert status == 200 and headers["etag"] == item.etag, item.href
            assert f"UID:{item.href.rsplit('/', 1)[1][:-4]}" in body.decode()
    finally:
        fresh.stop()


def test_backup_command_names_its_configuration_and_refuses_to_overwrite(
    serve: Serve, tmp_path: Path
) -> None:
    assert request(serve, "PROPFIND", f"/{USER}/", headers={"Depth": "1"})[0] == 207
    target = tmp_path / "nightly" / "groupware.sqlite"
    made = cli("storage", "backup", str(target), "--config", str(serve.config), "--quiet")
    assert made.returncode == 0, made.stderr
    assert f"configuration {serve.config}" in made.stderr and "integrity ok" in made.stdout
    check_database(str(target))
    again = cli("--config", str(serve.config), "storage", "backup", str(target))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_backup_of_a_missing_database_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path / "empty.conf", LDIF_DIRECTORY)
    result = cli("storage", "backup", str(tmp_path / "b.sqlite"), "--config", str(config))
    assert result.returncode == 1 and "no database there" in result.stderr
    assert not (tmp_path / "b.sqlite").exists()


def test_restore_refuses_a_database_a_running_server_has_open(serve: Serve, tmp_path: Path) -> None:
    assert put(serve, "before") is not None
    copy = tmp_path / "copy.sqlite"
    backup(str(serve.database), str(copy))
    assert put(serve, "after") is not None
    refused = cli("storage", "restore", str(copy), "--config", str(serve.config))
    assert refused.returncode == 1 and "is in use" in refused.stderr and "--force" in refused.stderr
    assert request(serve, "GET", f"{BOOK}after.vcf")[0] == 200  # the database was left alone
    serve.stop()
    restored = cli("storage", "restore", str(copy), "--config", str(serve.config))
    assert restored.returncode == 0, restored.stderr
    assert f"kept as {serve.database}.before-restore" in restored.stdout
    assert "after.vcf" not in {h.rsplit("/", 1)[1] for h in backed_up_hrefs(serve.database)}
    assert f"{BOOK}after.vcf" in backed_up_hrefs(Path(f"{serve.database}.before-restore"))
    serve.start()
    assert request(serve, "GET", f"{BOOK}before.vcf")[0] == 200
    assert request(serve, "GET", f"{BOOK}after.vcf")[0] == 404


def damaged(copy: Path) -> None:
    """Overwrite a page in the middle of a database file (its header stays valid)."""
    data = bytearray(copy.read_bytes())
    middle = (len(data) // 4096 // 2) * 4096
    data[middle : middle + 4096] = b"\xa5" * 4096
    copy.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", ["damaged", "not-sqlite", "not-ours", "missing"])
def test_restore_refuses_a_bad_backup_and_leaves_the_database(tmp_path: Path, kind: str) -> None:
    site = Serve(tmp_path / "site")
    site.start()
    try:
        for n in range(30):
            assert put(site, f"c{n}") is not None
    finally:
        site.stop()
    before = site.database.read_bytes()
    source = tmp_path / "source.sqlite"
    if kind == "damaged":
        backup(str(site.database), str(source))
        damaged(source)
    elif kind == "not-sqlite":
        source.write_text("BEGIN:VCARD\r\n")
    elif kind == "not-ours":
        sqlite3.connect(source).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(BackupError):
        check_database(str(source))
    result = cli("storage", "restore", str(source), "--config", str(site.config))
    assert result.returncode == 1 and f"{source}:" in result.stderr, result.stderr
    assert site.database.read_bytes() == before
    assert not Path(f"{site.database}.before-restore").exists()
