# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTTP door stops cleanly whatever waitress's loop is doing at that moment."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from support import LDIF_DIRECTORY, USER, RunningServer, request, write_config
from waitress import trigger

from groupware import config as config_module


def test_stop_while_a_pull_of_the_trigger_is_pending(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """:meth:`HttpDoor.stop` hands waitress's loop a thunk that closes the trigger's pipe. A byte already in
    that pipe (a worker's pull at the end of a request) wakes the loop, which must not run the thunk before
    stop's own byte is written: the write would fail with EBADF, or land in a descriptor reused meanwhile.
    """
    server = RunningServer(config_module.load(write_config(tmp_path / "groupware.conf", LDIF_DIRECTORY)))
    assert request(server, "PROPFIND", f"/{USER}/", headers={"Depth": "0"})[0] == 207
    waker = next(c for c in server.server.http._socket_map().values() if isinstance(c, trigger.trigger))
    physical_pull = trigger.trigger._physical_pull

    def slow_pull(self: trigger.trigger) -> None:
        if self.thunks:
            time.sleep(0.2)  # widens the window between queuing the thunk and writing the byte
        physical_pull(self)

    monkeypatch.setattr(trigger.trigger, "_physical_pull", slow_pull)
    os.write(waker.trigger, b"x")  # pending, as a worker's last pull leaves it
    server.stop()
    assert not server.thread.is_alive() and waker._closed
