# SPDX-License-Identifier: GPL-3.0-or-later
"""``[server] workers``: how many processes ``auto`` means, and when a helper that stopped is started
again.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from groupware.runtime import workers
from groupware.runtime.workers import MAX_RESTART_DELAY, STABLE, Workers, cpu_quota, worker_count


@pytest.mark.parametrize(
    ("line", "cpus"),
    [
        ("200000 100000", 2),
        ("150000 100000", 2),
        ("50000 100000", 1),
        ("max 100000", None),
        ("", None),
        ("x y", None),
        ("0 100000", None),
    ],
)
def test_cpu_quota_of_a_cgroup(line: str, cpus: int | None) -> None:
    assert cpu_quota(line) == cpus


def test_auto_stays_within_the_container_quota(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cpu_max = tmp_path / "cpu.max"
    monkeypatch.setattr(workers, "CGROUP_CPU_MAX", cpu_max)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    cpu_max.write_text("300000 100000\n")
    assert worker_count("auto") == 3
    cpu_max.write_text("max 100000\n")
    assert worker_count("auto") == 64
    cpu_max.unlink()
    assert worker_count("AUTO") == 64
    cpu_max.write_text("50000 100000\n")  # half a core: still two, so that HTTP has processes of its own
    assert worker_count("auto") == 2
    assert worker_count("1") == 1
    assert worker_count("5") == 5
    for bad in ("0", "-2", "two", ""):
        with pytest.raises(ValueError, match="auto or a whole number"):
            worker_count(bad)


class FakeProcess:
    def __init__(self, pid: int) -> None:
        self.pid, self.stdin = pid, None
        self.status: int | None = None

    def poll(self) -> int | None:
        return self.status


class Recorder:
    """Stands for ``Workers._start``: records when each start happens and puts a fake process in the slot."""

    def __init__(self, dying: int | None = None) -> None:
        self.starts: list[float] = []
        self.now = 0.0
        self.dying = dying  # the exit status of every process started, at once (None: they keep running)

    def __call__(self, slot: workers._Slot) -> None:
        self.starts.append(self.now)
        process = FakeProcess(len(self.starts))
        process.status = self.dying
        slot.process, slot.started = process, self.now  # type: ignore[assignment]


def _watch(pool: Workers, recorder: Recorder, until: float) -> None:
    while recorder.now < until:
        recorder.now += 0.25
        for slot in pool._slots:
            pool._check(slot, recorder.now)


def test_a_helper_asked_to_stop_is_not_restarted(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = Workers({"config": 1}, [], 1)  # type: ignore[arg-type]
    recorder = Recorder()
    monkeypatch.setattr(pool, "_start", recorder)
    recorder(pool._slots[0])
    pool._slots[0].process.status = 0  # type: ignore[union-attr]
    _watch(pool, recorder, 120)
    assert recorder.starts == [0.0], "status 0: SIGTERM to the helper or to the whole service"


def test_a_helper_dying_young_is_restarted_later_and_later(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = Workers({"config": 1}, [], 1)  # type: ignore[arg-type]
    recorder = Recorder(dying=1)
    monkeypatch.setattr(pool, "_start", recorder)
    recorder(pool._slots[0])
    _watch(pool, recorder, 300)
    gaps = [round(b - a) for a, b in zip(recorder.starts, recorder.starts[1:], strict=False)]
    assert gaps[:8] == [1, 2, 4, 8, 16, 32, 60, 60]
    recorder.dying = None  # the next one runs, for long enough ...
    _watch(pool, recorder, recorder.now + MAX_RESTART_DELAY + STABLE + 1)
    pool._slots[0].process.status = 1  # type: ignore[union-attr]  # ... then dies: 1 s again
    started = len(recorder.starts)
    _watch(pool, recorder, recorder.now + 1.5)
    assert len(recorder.starts) == started + 1
