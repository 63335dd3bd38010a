# SPDX-License-Identifier: GPL-3.0-or-later
"""Structured logging: one line per record, ``key=value`` fields after the message, never a password."""

from __future__ import annotations

import logging
import sys

__all__ = ["ClientErrorsAtInfo", "KeyValueFormatter", "setup"]

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_SECRET_KEYS = ("password", "secret", "token", "authorization")


class KeyValueFormatter(logging.Formatter):
    """``2026-11-22 10:00:00 INFO groupware.accounts: login failed event=login_failed login=…``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = []
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            shown = "***" if any(secret in key.lower() for secret in _SECRET_KEYS) else value
            fields.append(f"{key}={shown!r}" if isinstance(shown, str) and " " in shown else f"{key}={shown}")
        return line + (" " + " ".join(fields) if fields else "")


class _Worker(logging.Filter):
    """Marks every record of a helper process of ``[server] workers`` with ``worker=<pid>``."""

    def __init__(self, worker: int) -> None:
        super().__init__()
        self.worker = worker

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self.worker
        return True


class ClientErrorsAtInfo(logging.Filter):
    """Radicale's warnings about a client's bad request (``Bad PUT request on …``), which carry a traceback,
    become one info line: a malformed request is the client's error, not the server's (the answer is a
    4xx)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and str(record.msg).startswith("Bad "):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info, record.exc_text = None, None
        return True


def setup(level: str = "info", worker: int | None = None) -> None:
    """Send every log record (ours and Radicale's) to stderr in the key=value format; a helper process passes
    its ``worker`` id (its pid), which every line then carries."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    if worker is not None:
        handler.addFilter(_Worker(worker))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    radicale = logging.getLogger("radicale")
    radicale.setLevel(max(numeric, logging.WARNING) if numeric <= logging.INFO else numeric)
    if not any(isinstance(f, ClientErrorsAtInfo) for f in radicale.filters):
        radicale.addFilter(ClientErrorsAtInfo())
    # waitress warns at every queued request under load; queueing is normal and measured by the benchmarks.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
