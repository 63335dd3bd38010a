# SPDX-License-Identifier: GPL-3.0-or-later
"""The counters of :mod:`groupware.metrics` as the doors feed them (single process: the default registry)."""

from __future__ import annotations

import prometheus_client

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
