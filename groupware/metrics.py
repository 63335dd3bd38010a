# SPDX-License-Identifier: GPL-3.0-or-later
"""The server's Prometheus metrics (prometheus_client), counted in every process and read at
``/.groupware/metrics`` (:mod:`groupware.dav.operations`).

The metrics, their labels bounded (a method outside the DAV methods counts as ``other``):

* ``groupware_http_requests_total{method,status}`` and ``groupware_http_request_seconds{method}``;
* ``groupware_logins_total{outcome}``: ``ok``, ``failed``, ``locked`` (refused by a lockout);
* ``groupware_deliveries_total{outcome}``: ``delivered``, ``rejected``, ``deferred`` (LMTP, RFC 2033);
* ``groupware_sieve_actions_total{action}``: ``keep``/``fileinto`` (stores), ``redirect``, ``vacation``,
  ``notify``, ``reject``, ``failure`` (a script that failed or ran over its budget);
* ``groupware_addressbook_sync_seconds`` and ``groupware_addressbook_sync_failures_total``.

With helper processes (``[server] workers`` of 2 or more) the first process names a fresh folder in
``PROMETHEUS_MULTIPROC_DIR`` before any metric exists (:func:`share_between_processes`); each process then
keeps its counts in files there and a reader sums them, the dead processes' included (prometheus_client's
multiprocess mode). The metrics are made at their first use, so that this choice comes first.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from typing import Any

__all__ = ["count", "exposition", "observe", "process_gone", "remove_shared", "share_between_processes"]

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "groupware-metrics-"
METHODS = frozenset(
    ["DELETE", "GET", "HEAD", "MKCALENDAR", "MKCOL", "MOVE", "OPTIONS", "POST", "PROPFIND", "PROPPATCH"]
    + ["PUT", "REPORT"]
)
#: name: (kind, help, labels)
DEFINITIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "groupware_http_requests_total": ("counter", "HTTP requests answered", ("method", "status")),
    "groupware_http_request_seconds": ("histogram", "Seconds to answer an HTTP request", ("method",)),
    "groupware_logins_total": ("counter", "Logins, by outcome", ("outcome",)),
    "groupware_deliveries_total": ("counter", "LMTP deliveries, by outcome", ("outcome",)),
    "groupware_sieve_actions_total": ("counter", "Sieve actions carried out at delivery", ("action",)),
    "groupware_addressbook_sync_seconds": ("histogram", "Seconds of one address-book sync", ()),
    "groupware_addressbook_sync_failures_total": ("counter", "Address-book syncs that failed", ()),
}


def share_between_processes() -> str:
    """Make the metrics of this process and of the processes it starts one set (call before any metric is
    used); returns the folder, emptied of an earlier run's files."""
    folder = os.environ.get(MULTIPROCESS) or tempfile.mkdtemp(prefix=PREFIX)
    for entry in os.listdir(folder):
        path = os.path.join(folder, entry)
        if os.path.isfile(path) and entry.endswith(".db"):
            os.unlink(path)
    os.environ[MULTIPROCESS] = folder
    return folder


_MADE: dict[str, Any] = {}
_MAKING = threading.Lock()


def _metric(name: str) -> Any:
    """The metric ``name``, made once (a second registration of a name is an error in prometheus_client:
    threads delivering to several recipients at once ask for the same metric together)."""
    found = _MADE.get(name)
    if found is not None:
        return found
    with _MAKING:
        if name not in _MADE:
            import prometheus_client

            kind, documentation, labels = DEFINITIONS[name]
            factory = prometheus_client.Counter if kind == "counter" else prometheus_client.Histogram
            _MADE[name] = factory(name, documentation, labels)
        return _MADE[name]


def _labelled(name: str, labels: dict[str, str]) -> Any:
    """The metric's child for ``labels``; an HTTP method we do not know counts as ``other`` (a client cannot
    grow the number of series)."""
    metric = _metric(name)
    if "method" in labels and labels["method"] not in METHODS:
        labels["method"] = "other"
    return metric.labels(**labels) if labels else metric


def count(name: str, **labels: str) -> None:
    """Add one to the counter ``name`` (one of :data:`DEFINITIONS`)."""
    _labelled(name, labels).inc()


def observe(name: str, seconds: float, **labels: str) -> None:
    """Record ``seconds`` in the histogram ``name``."""
    _labelled(name, labels).observe(seconds)


def exposition() -> tuple[bytes, str]:
    """Every process's metrics in the text format, and its content type."""
    import prometheus_client
    from prometheus_client import multiprocess

    folder = os.environ.get(MULTIPROCESS)
    if folder:
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    else:
        registry = prometheus_client.REGISTRY
    return prometheus_client.generate_latest(registry), prometheus_client.CONTENT_TYPE_LATEST


def process_gone(pid: int) -> None:
    """A helper process died: its live values are dropped (its counts stay in the sums)."""
    if os.environ.get(MULTIPROCESS):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def remove_shared(folder: str) -> None:
    """Remove the folder of :func:`share_between_processes` once the server has stopped (only one it made: a
    folder given in the environment is the administrator's)."""
    if os.path.basename(folder).startswith(PREFIX):
        shutil.rmtree(folder, ignore_errors=True)
