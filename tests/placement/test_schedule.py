"""The scheduled advisor: a solve slower than a window never delays a window (an injected clock and
a solver that blocks until released, no sleeps), its cadence, and a failing run."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from collector.attribution import Snapshot
from collector.attribution.live import LiveAttributor
from collector.attribution.records import EnergyRecord, Record, RequestsRecord
from collector.placement.schedule import Advisor
from collector.settings import parse_settings
from collector.store import Store

W = 15.0
DOC = {"error": None, "apps": [{"app": "vision", "status": "advice"}]}


async def step(live: LiveAttributor, advisor: Advisor) -> list[Snapshot]:
    """A turn as the attributor's two processes make it, on one loop: the tick, then the
    advisor's poll (which starts a due run on its own thread and never waits for it)."""
    snaps = await live.tick()
    advisor.poll()
    return snaps


def _live(tmp_path: Path, now: list[float]) -> LiveAttributor:
    settings = parse_settings(
        {
            "window_seconds": W,
            "max_gap_seconds": 3 * W,
            "nfs": [{"name": "gpu1", "role": "inference"}],
            "apps": [{"name": "vision", "traces": [{"namespace_id": 1, "trace_id": 1}]}],
        }
    )
    records: list[Record] = []
    for t in range(990, 1200, 5):
        records.append(EnergyRecord(t=float(t), nf="gpu1", joules_total=10.0 * t))
        records.append(RequestsRecord(t=float(t), app="vision", requests_total=float(t)))
    store = Store(tmp_path / "s.sqlite", writer=True, clock=lambda: now[0])
    return LiveAttributor(
        settings, store, clock=lambda: now[0], settle_seconds=1.0, replay_inputs=records
    )


def test_a_slow_solve_never_delays_a_window(tmp_path: Path) -> None:
    now = [1000.0]
    live = _live(tmp_path, now)
    started, release = threading.Event(), threading.Event()

    def slow_solver(**_: Any) -> dict[str, Any]:
        started.set()
        if not release.wait(60):  # blocks only the advisor's thread
            raise TimeoutError("never released")
        return DOC

    advisor = Advisor(slow_solver, interval_seconds=W, clock=lambda: now[0])

    async def drive() -> list[list[float]]:
        computed = []
        for _ in range(6):
            now[0] += W  # one window's time passes per turn
            computed.append([s.window_start for s in await step(live, advisor)])
            assert started.wait(10)  # the solve has begun (on its own thread) and goes on
        return computed

    computed = asyncio.run(drive())
    # every turn computed exactly the window that had become due, while the solve was blocked
    assert computed == [[990.0], [1005.0], [1020.0], [1035.0], [1050.0], [1065.0]]
    assert advisor.running and advisor.latest is None
    assert advisor.runs["skipped"] == 5  # due at every later turn, never queued behind it
    release.set()
    advisor.join(10)
    assert advisor.latest == DOC and advisor.runs["advice"] == 1
    live.store.close()


def test_cadence_runs_at_the_first_poll_then_every_interval() -> None:
    now = [0.0]
    calls: list[float] = []

    def fast(*, now: float, **_: Any) -> dict[str, Any]:
        calls.append(now)
        return DOC

    advisor = Advisor(fast, interval_seconds=900.0, clock=lambda: now[0])
    for t in (0.0, 10.0, 899.0, 900.0, 1000.0, 2700.5):
        now[0] = t
        advisor.poll()
        advisor.join(10)
    # 2700.5: the slot at 1800 was missed (no poll), so it runs once, late, and keeps its grid
    assert calls == [0.0, 900.0, 2700.5]
    assert advisor.next_due == 3600.0


def test_a_failing_run_keeps_the_last_advice_and_says_why() -> None:
    now = [0.0]
    answers: list[Any] = [DOC, RuntimeError("store is gone")]

    def flaky(**_: Any) -> dict[str, Any]:
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return dict(a)

    advisor = Advisor(flaky, interval_seconds=1.0, clock=lambda: now[0])
    for t in (0.0, 1.0):
        now[0] = t
        advisor.poll()
        advisor.join(10)
    assert advisor.latest == DOC
    assert advisor.runs == {"advice": 1, "refused": 0, "error": 1, "skipped": 0}
    assert advisor.last_failure == "RuntimeError: store is gone"


@pytest.mark.parametrize(
    ("doc", "outcome"),
    [
        ({"error": None, "apps": [{"status": "refused"}, {"status": "advice"}]}, "advice"),
        ({"error": None, "apps": [{"status": "refused"}]}, "refused"),
        ({"error": "no feasible region", "apps": [{"status": "refused"}]}, "error"),
    ],
)
def test_outcome_of_a_run(doc: dict[str, Any], outcome: str) -> None:
    advisor = Advisor(lambda **_: doc, interval_seconds=1.0, clock=lambda: 0.0)
    advisor.poll()
    advisor.join(10)
    assert advisor.runs[outcome] == 1 and sum(advisor.runs.values()) == 1
