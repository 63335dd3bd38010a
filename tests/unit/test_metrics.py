# SPDX-License-Identifier: GPL-3.0-or-later
"""The counters of :mod:`groupware.metrics` as the doors feed them (single process: the default registry)."""

from __future__ import annotations

import time
from typing import Any

import prometheus_client
import pytest

from groupware import metrics
from groupware.runtime.mail import MeteredDelivery
from groupware.sieve.delivery import Plan


def value(name: str, **labels: str) -> float:
    return prometheus_client.REGISTRY.get_sample_value(name, labels) or 0.0


def test_each_action_of_a_plan_is_counted_once() -> None:
    before = {
        action: value("groupware_sieve_actions_total", action=action) for action in ("keep", "fileinto")
    }
    redirects = value("groupware_sieve_actions_total", action="redirect")
    plan = Plan()
    plan.store("INBOX", False, ())
    plan.store("inbox", False, ())  # the same folder: one store
    plan.store("Listes", True, ())
    plan.redirects += ["a@example.org", "b@example.org"]
    delivery = MeteredDelivery.__new__(MeteredDelivery)  # planned() reads nothing of the delivery
    delivery.planned(plan)
    assert value("groupware_sieve_actions_total", action="keep") == before["keep"] + 1
    assert value("groupware_sieve_actions_total", action="fileinto") == before["fileinto"] + 1
    assert value("groupware_sieve_actions_total", action="redirect") == redirects + 2


def test_labels_stay_bounded() -> None:
    metrics.count("groupware_http_requests_total", method="X" * 1000, status="400")
    assert value("groupware_http_requests_total", method="other", status="400") >= 1
    assert value("groupware_http_requests_total", method="X" * 1000, status="400") == 0


def test_threads_asking_for_a_new_metric_at_once_share_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by the LMTP tests: two recipients delivered in parallel made the same counter twice (451)."""
    import threading

    made_slowly = prometheus_client.Counter

    def slow_counter(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)  # a wide window for a second thread
        return made_slowly(*args, **kwargs)

    monkeypatch.setattr(prometheus_client, "Counter", slow_counter)

    name = "groupware_addressbook_sync_failures_total"
    made = metrics._MADE.pop(name, None)
    if made is not None:
        prometheus_client.REGISTRY.unregister(made)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def count() -> None:
        start.wait()
        try:
            metrics.count(name)
        except BaseException as exc:  # a duplicate registration
            errors.append(exc)

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and value(name) == 8
