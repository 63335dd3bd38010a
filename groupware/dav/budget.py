# SPDX-License-Identifier: GPL-3.0-or-later
"""The budget of one request: its work stops when it has run ``[limits] max_request_seconds`` or when its
client has gone.

Python cannot stop a thread from outside, so the work stops itself: the loops a request can spend unbounded
time in (the instances of a recurrence walked by time-range filters, free-busy and the index; the items a
query tests; the items a listing reads) call :func:`spend` at each step. Over budget, :func:`spend` raises
:class:`RequestCancelled`, which the application answers once, at the edge (:func:`cancelled_answer`):
``503`` with the reason while the client is there, nothing once it has gone.

:class:`RequestCancelled` derives from :class:`BaseException`, like :class:`KeyboardInterrupt`: Radicale's
report and filter code catch :class:`Exception` around each item (to log it and go on, or to answer 500),
and the cancellation must pass through them. Every lock and transaction on the way is released by its
``with`` block as for any exception.

The client's departure is seen through waitress's ``waitress.client_disconnected`` (the channel reads ahead
while the request runs, ``channel_request_lookahead``): a time-range query left by a phone that gave up stops
within a step instead of burning its whole budget.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from http import client
from typing import Any

from groupware.dav.request import Answer

__all__ = ["RequestCancelled", "cancelled_answer", "request_budget", "spend"]

log = logging.getLogger("groupware.server")

#: Steps between two looks at the client's connection (a look is cheap, a step is cheaper).
CHECK_EVERY = 64
DISCONNECTED = "waitress.client_disconnected"


class RequestCancelled(BaseException):
    """The request spent its budget (``gone`` False) or its client has gone (``gone`` True)."""

    def __init__(self, reason: str, gone: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gone = gone


class Budget:
    """The time left to one request, and how to tell whether its client is still there."""

    def __init__(self, seconds: float, disconnected: Callable[[], bool] | None) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.disconnected = disconnected
        self.steps = 0

    def spend(self) -> None:
        """One step of work; raises :class:`RequestCancelled` when the request must stop."""
        self.steps += 1
        if self.steps % CHECK_EVERY:
            return
        if time.monotonic() > self.deadline:
            raise RequestCancelled(f"the request took more than {self.seconds:g} s", gone=False)
        if self.disconnected is not None and self.disconnected():
            raise RequestCancelled("the client has gone", gone=True)


_CURRENT: ContextVar[Budget | None] = ContextVar("groupware_request_budget", default=None)


def spend() -> None:
    """One step of the current request's work (nothing outside a request)."""
    budget = _CURRENT.get()
    if budget is not None:
        budget.spend()


@contextlib.contextmanager
def request_budget(environ: Mapping[str, Any], seconds: float) -> Iterator[Budget]:
    """The budget of the request of ``environ`` while its work runs in this thread."""
    disconnected = environ.get(DISCONNECTED)
    budget = Budget(seconds, disconnected if callable(disconnected) else None)
    token = _CURRENT.set(budget)
    try:
        yield budget
    finally:
        _CURRENT.reset(token)


def cancelled_answer(exc: RequestCancelled, method: str, path: str) -> Answer:
    """``503`` with the reason (RFC 9110 §15.6.4: the server cannot afford the request); logged once."""
    log.warning(
        "request stopped: %s",
        exc.reason,
        extra={"event": "request_cancelled", "method": method, "path": path, "reason": exc.reason},
    )
    body = f"The server stopped this request: {exc.reason}.\n".encode()
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    return client.SERVICE_UNAVAILABLE, headers, body, None
