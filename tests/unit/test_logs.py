# SPDX-License-Identifier: GPL-3.0-or-later
"""Log lines: key=value fields, no secret, and a client's bad request as one info line without traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from groupware import logs


@pytest.fixture
def stderr_logging(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    root, radicale = logging.getLogger(), logging.getLogger("radicale")
    saved = (root.handlers[:], root.level, radicale.level, radicale.filters[:])
    yield capsys
    root.handlers[:], radicale.filters[:] = saved[0], saved[3]
    root.setLevel(saved[1])
    radicale.setLevel(saved[2])


def test_a_clients_bad_request_is_one_info_line(stderr_logging: pytest.CaptureFixture[str]) -> None:
    logs.setup("info")  # here, where the captured stderr is the test's
    radicale = logging.getLogger("radicale")
    try:
        raise ValueError("unexpected end of data")
    except ValueError as exc:
        radicale.warning("Bad PUT request on %r: %s", "/helene.lefevre/calendar/x.ics", exc, exc_info=True)
        radicale.warning("Storage is almost full: %s", exc, exc_info=True)
    lines = stderr_logging.readouterr().err.splitlines()
    bad = [line for line in lines if "Bad PUT request" in line]
    assert len(bad) == 1 and "INFO" in bad[0] and "WARNING" not in bad[0]
    other = [line for line in lines if "Storage is almost full" in line]
    assert len(other) == 1 and "WARNING" in other[0]
    assert sum("Traceback" in line for line in lines) == 1  # the server's own warning keeps its traceback


def test_secrets_never_reach_the_log(stderr_logging: pytest.CaptureFixture[str]) -> None:
    logs.setup("info")
    logging.getLogger("groupware.test").info("login", extra={"user": "h.l", "password": "s3cr3t-pw"})
    err = stderr_logging.readouterr().err
    assert "user=h.l" in err and "s3cr3t-pw" not in err
