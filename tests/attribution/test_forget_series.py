"""Series that stop reporting are forgotten (issue 14: memory over months). Agents restart under
new names, flows and apps come and go; a traffic series without a sample for
FORGET_SERIES_SECONDS, its increase all taken, is dropped from the engine (and so from the state
written with every window), and one that comes back starts from its first reading.

The engine is fed as the live attributor feeds it; the bounds and the shares are worked out here
from the schedule of the restarts, not from the engine."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from collector.attribution.engine import FORGET_SERIES_SECONDS, Engine
from collector.attribution.records import EnergyRecord, Record, TrafficRecord
from collector.attribution.signals import CounterBank
from collector.attribution.topology import topology_from_settings
from collector.settings import parse_settings

W, STEP, LIFE = 15.0, 5.0, 300.0
RATES = {"a": 1000.0, "b": 3000.0}  # bytes/s: a's share of every window with traffic is 1/4
RESTARTS = 30


def engine() -> Engine:
    settings = parse_settings({
        "window_seconds": W, "max_gap_seconds": 45.0,
        "nfs": [{"name": "ru", "role": "ru", "node_id": 1}],
        "apps": [{"name": app, "traces": [{"namespace_id": 1, "trace_id": i + 1}]}
                 for i, app in enumerate(RATES)],
    })  # fmt: skip
    return Engine(topology_from_settings(settings))


def readings(t: float) -> list[Record]:
    """The RU at 100 W, and each app's byte counter from the agent incarnation alive at t: a
    restarted agent has a new name and counts from zero."""
    k = int(t // LIFE)
    since = t - k * LIFE
    out: list[Record] = [EnergyRecord(t=t, nf="ru", joules_total=100.0 * t)]
    for app, rate in RATES.items():
        out.append(TrafficRecord(t=t, nf="ru", app=app, direction="uplink",
                                 packets_total=rate * since / 100, bytes_total=rate * since,
                                 series=f"agent-{k}/1/{app}"))  # fmt: skip
    return out


def test_series_of_restarted_agents_are_forgotten_and_the_split_holds() -> None:
    eng = engine()
    end = RESTARTS * LIFE
    t, window, attributed = 0.0, 0.0, {"a": 0.0, "b": 0.0}
    most = 0
    while window + W <= end:
        t += STEP
        eng.ingest(readings(t))
        if t >= window + W + STEP:
            snap = eng.compute(window)
            window += W
            rows = snap.rows
            for app, joules in zip(rows.app.tolist(), rows.dynamic_joules.tolist(), strict=True):
                attributed[app] += joules
            if round(window / W) % 10 == 0:
                most = max(most, len(eng.state()["traffic"]["keys"]))
    # incarnations whose last sample lies within the horizon (plus the window and the settle
    # it takes to be computed) may still be held; the older ones must be gone
    held = math.ceil((FORGET_SERIES_SECONDS + 2 * W + STEP) / LIFE) + 1
    assert held < RESTARTS  # the run is long enough to tell a bound from a leak
    assert most <= held * len(RATES)
    assert len(eng.state()["traffic"]["keys"]) <= held * len(RATES)
    assert attributed["b"] == pytest.approx(3 * attributed["a"], rel=1e-9)
    assert attributed["a"] > 0


def test_a_forgotten_series_that_comes_back_starts_from_its_first_reading() -> None:
    bank = CounterBank(1, 45.0)
    sid = bank.series_id(("ru", "a"))
    ts = np.arange(0.0, 101.0, 5.0)
    bank.add(np.full(len(ts), sid), ts, ts[:, None] * 2.0)
    assert bank.increase(115.0)[sid, 0] == pytest.approx(200.0)
    assert bank.forget(50.0) is None  # a sample since 50: kept
    remap = bank.forget(1000.0)
    assert remap is not None and remap.tolist() == [-1] and bank.keys == []
    sid = bank.series_id(("ru", "a"))
    bank.add(np.array([sid, sid]), np.array([5000.0, 5010.0]), np.array([[1e6], [1e6 + 10.0]]))
    # as a new series: 10 from its first reading, not the 999,800 jump since the old one's last
    assert bank.increase(5015.0)[sid, 0] == pytest.approx(10.0)


def test_a_series_not_yet_counted_to_its_last_reading_is_kept() -> None:
    bank = CounterBank(1, 45.0)
    a, b = bank.series_id(("ru", "a")), bank.series_id(("ru", "b"))
    bank.add(np.array([a, b, a, b]), np.array([0.0, 0.0, 10.0, 10.0]),
             np.array([[0.0], [0.0], [5.0], [7.0]]))  # fmt: skip
    bank.increase(5.0)  # the carry lies between the readings: 2.5 of a's 5 are still due
    remap = bank.forget(1000.0)
    assert remap is None and len(bank.keys) == 2
    assert bank.increase(20.0).ravel().tolist() == pytest.approx([2.5, 3.5])
    assert json.dumps(bank.state(20.0))  # still a state to write


def _app_joules(snap: object) -> dict[str, float]:
    rows = snap.rows  # type: ignore[attr-defined]
    out: dict[str, float] = {}
    for app, joules in zip(rows.app.tolist(), rows.dynamic_joules.tolist(), strict=True):
        out[app] = out.get(app, 0.0) + joules
    return out


def test_a_series_back_after_the_horizon_is_a_new_baseline_live_and_in_replay() -> None:
    """b's counter is silent for FORGET_SERIES_SECONDS + 400 s and comes back having counted all
    along. The live engine (windows computed as the readings come, so b is forgotten) and replay
    (every reading ingested first, so b never is) give the same windows, and the hour's jump does
    not land in the window of the return: b's first reading back is its baseline."""
    silent = (600.0, 600.0 + FORGET_SERIES_SECONDS + 400.0)
    end = silent[1] + 300.0

    def reads(t: float) -> list[Record]:
        out: list[Record] = [EnergyRecord(t=t, nf="ru", joules_total=100.0 * t)]
        for app, rate in RATES.items():
            if app == "b" and silent[0] < t < silent[1]:
                continue
            out.append(TrafficRecord(t=t, nf="ru", app=app, direction="uplink",
                                     packets_total=rate * t / 100, bytes_total=rate * t,
                                     series=f"node/1/{app}"))  # fmt: skip
        return out

    times = [STEP * k for k in range(1, int(end / STEP) + 1)]
    live, live_snaps, window = engine(), [], 0.0
    for t in times:
        live.ingest(reads(t))
        while t >= window + W + STEP:
            live_snaps.append(live.compute(window))
            window += W
    replay = engine()
    replay.ingest([r for t in times for r in reads(t)])
    replay_snaps = [replay.compute(s.window_start) for s in live_snaps]
    assert [_app_joules(s) for s in live_snaps] == [_app_joules(s) for s in replay_snaps]
    back = next(s for s in live_snaps if s.window_start <= silent[1] < s.window_start + W)
    shares = _app_joules(back)
    assert shares["b"] < 3 * shares["a"]  # 3:1 is its rate; with the jump it would be ~all
