# SPDX-License-Identifier: GPL-3.0-or-later
"""A helper process of ``[server] workers`` (``python -m groupware.runtime.helper``): serves the sockets it
inherited from the first process until that process closes the helper's standard input or goes away."""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from typing import IO

from groupware.config import Config

__all__ = ["main"]

log = logging.getLogger("groupware.workers")


def _stop_with_parent(stdin: IO[bytes]) -> None:
    """Block until the first process closes the helper's standard input (or dies), then stop this helper as
    SIGTERM does (requests in progress finish)."""
    try:
        while stdin.read(4096):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    """A helper process: serve the inherited sockets until the first process stops or goes away."""
    parser = argparse.ArgumentParser(prog="python -m groupware.runtime.helper", description=main.__doc__)
    parser.add_argument("--sockets", required=True, help="inherited listening sockets (file descriptors)")
    args = parser.parse_args(argv)

    from groupware import logs
    from groupware.runtime.supervisor import Supervisor, install_signal_handlers

    install_signal_handlers()
    stdin = sys.stdin.buffer
    loaded: Config = pickle.load(stdin)  # written by the first process, which started this one
    logs.setup(loaded.radicale_sections.get("logging", {}).get("level", "info"), worker=os.getpid())
    sockets = [socket.socket(fileno=int(fd)) for fd in args.sockets.split(",")]
    try:
        http = Supervisor(loaded, sockets=sockets)
        threading.Thread(target=_stop_with_parent, args=(stdin,), daemon=True).start()
        log.info("worker serving", extra={"event": "worker_serving"})
        http.run()
    except KeyboardInterrupt:  # stopped before or while starting
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
