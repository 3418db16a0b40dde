"""A killed attributor's successor continues its signals (issue 14): the engine's state after each
window (each signal's last readings, carries) is written with that window, so the first reading
after a restart yields a delta across the downtime, and the gap rules of
docs/explanation/attribution.md decide as for a live gap: a downtime shorter than max_gap loses
no window; a longer one makes the windows it leaves uncovered stale (their time `unmeasured`),
and a counter's energy across it comes back as catch-up.

The real LiveAttributor on a real store, driven by an injected clock; the "kill" drops the
process's memory (the store is closed without a word, as the kernel would). Expectations come
from the samples that survived, with the rules written out here, not from the engine."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from collector.attribution.engine import Engine
from collector.attribution.live import LiveAttributor
from collector.attribution.persist import load_totals
from collector.attribution.records import EnergyRecord, Record, TrafficRecord
from collector.attribution.snapshot import Totals
from collector.attribution.topology import topology_from_settings
from collector.settings import Settings, parse_settings
from collector.store import Store
from tests.attribution.drive import drive as tick_until

W, MAX_GAP, STEP = 15.0, 45.0, 5.0
RU_WATTS, UPF_WATTS = 100.0, 40.0
RATES = {"a": 1000.0, "b": 3000.0}  # bytes/s: a's share is 1/4 in every window with traffic
T0, LAST_COMMIT_TICK, KILL_TICK, END = 1000.0, 1100.0, 1105.0, 1400.0


def settings(nfs: tuple[str, ...] = ("ru", "upf")) -> Settings:
    roles = {"ru": "ru", "upf": "upf"}
    return parse_settings(
        {
            "window_seconds": W,
            "max_gap_seconds": MAX_GAP,
            "nfs": [{"name": n, "role": roles[n], "node_id": i + 1} for i, n in enumerate(nfs)],
            "apps": [
                {"name": app, "traces": [{"namespace_id": 1, "trace_id": i + 1}]}
                for i, app in enumerate(RATES)
            ],
        }
    )


def readings(t: float) -> list[Record]:
    """What the sources serve at t: the RU's energy counter (100 W), the UPF's power gauge
    (40 W), the agents' byte counters of two apps at the RU."""
    out: list[Record] = [
        EnergyRecord(t=t, nf="ru", joules_total=RU_WATTS * t),
        EnergyRecord(t=t, nf="upf", watts=UPF_WATTS),
    ]
    for app, rate in RATES.items():
        out.append(TrafficRecord(t=t, nf="ru", app=app, direction="uplink",
                                 packets_total=rate * t / 100, bytes_total=rate * t,
                                 series=f"node/1/{app}"))  # fmt: skip
    return out


drive = partial(tick_until, step=STEP)
"""drive(live, now, until): tick every STEP seconds of the injected clock until `until`."""


def start(path: Path, now: list[float], first: float, last: float) -> LiveAttributor:
    """A process whose sources serve readings every STEP seconds from `first` to `last`."""
    records = [r for k in range(int(first), int(last) + 1, int(STEP)) for r in readings(float(k))]
    store = Store(path, writer=True, clock=lambda: now[0])
    return LiveAttributor(
        settings(), store, clock=lambda: now[0], settle_seconds=1.0, replay_inputs=records
    )


def stale_by_the_rules(start: float, samples: list[float]) -> bool:
    """A window is stale when a point of [start, start + W] lies more than max_gap after the
    latest sample at or before it (or before the first sample)."""
    end = start + W
    if not samples or samples[0] > start:
        return True
    for a, b in zip(samples, [*samples[1:], float("inf")], strict=True):
        if b - a > MAX_GAP and start < b and end > a + MAX_GAP:
            return True
    return False


def nf_rows(path: Path) -> dict[tuple[float, str], dict[str, float]]:
    store = Store(path)
    cols = ("stale", "measured_joules", "attributed_joules", "idle_no_traffic_joules",
            "catch_up_joules", "unmeasured_seconds")  # fmt: skip
    try:
        rows = store.query(f"SELECT window_start, nf, {', '.join(cols)} FROM nf_window")
        totals = store.query("SELECT app, SUM(static_joules + dynamic_joules) FROM totals_app "
                             "WHERE nf = 'ru' GROUP BY app")  # fmt: skip
    finally:
        store.close()
    out = {(r[0], r[1]): dict(zip(cols, r[2:], strict=True)) for r in rows}
    out[(-1.0, "apps")] = dict(totals)
    return out


@pytest.mark.parametrize("downtime", [20.0, 120.0], ids=["shorter-than-max-gap", "longer"])
def test_a_restart_continues_the_signals_under_the_gap_rules(
    tmp_path: Path, downtime: float
) -> None:
    path = tmp_path / "store.sqlite"
    now = [T0 - STEP]
    first = start(path, now, T0, KILL_TICK)
    drive(first, now, LAST_COMMIT_TICK)
    written = first.writer.last_written
    assert written is not None
    drive(first, now, KILL_TICK)  # a reading is taken, no window falls due: then the kill
    assert first.writer.last_written == written
    first.store.close()  # SIGKILL: nothing more is written, memory is gone

    back = KILL_TICK + downtime
    now[0] = back - STEP
    second = start(path, now, back, END)
    assert second.resumed_signals
    drive(second, now, END)
    state = json.loads(second.store.load_state() or "{}")
    assert second.writer.last_written is not None  # the state is the newest window's
    assert state["next_window"] == second.writer.last_written + W
    second.store.close()

    # what survived: the readings up to the tick that wrote the last window, then the new ones
    samples = [t for t in range(int(T0), int(END) + 1, int(STEP))
               if t <= LAST_COMMIT_TICK or t >= back]  # fmt: skip
    rows = nf_rows(path)
    starts = sorted({s for s, nf in rows if nf == "ru"})
    assert starts == [990.0 + W * k for k in range(len(starts))]  # none missing, none twice
    assert starts[-1] + W + 1.0 > END - STEP  # every window due was computed
    fresh = [s for s in starts if not stale_by_the_rules(s, [float(x) for x in samples])]
    stale = [s for s in starts if s not in fresh]
    assert stale[0] == 990.0 and (len(stale) == 1) == (downtime < MAX_GAP)
    for s in starts:
        for nf in ("ru", "upf"):
            row = rows[(s, nf)]
            assert bool(row["stale"]) == (s in stale), (s, nf, row)
            assert row["unmeasured_seconds"] == (W if s in stale else 0.0)
        upf = rows[(s, "upf")]
        assert upf["measured_joules"] == pytest.approx(0.0 if s in stale else UPF_WATTS * W)
        ru = rows[(s, "ru")]
        # every measured window has the agents' traffic: its regular energy is attributed,
        # none of it left as idle_no_traffic (a restart that lost the byte counters would)
        assert ru["idle_no_traffic_joules"] == 0.0
        assert ru["attributed_joules"] == pytest.approx(
            ru["measured_joules"] - ru["catch_up_joules"], rel=1e-12
        )
    # the counter: every joule from the first measured edge to the last is measured, once,
    # whether in its window or (across the long gap) as catch-up
    ru_measured = sum(rows[(s, "ru")]["measured_joules"] for s in starts)
    assert ru_measured == pytest.approx(RU_WATTS * (starts[-1] + W - fresh[0]), rel=1e-12)
    catch_up = sum(rows[(s, "ru")]["catch_up_joules"] for s in starts)
    assert (catch_up > 0) == (downtime > MAX_GAP)
    # the gauge: its gap is lost and declared
    upf_measured = sum(rows[(s, "upf")]["measured_joules"] for s in starts)
    assert upf_measured == pytest.approx(UPF_WATTS * W * len(fresh), rel=1e-12)
    apps = rows[(-1.0, "apps")]
    regular = ru_measured - catch_up
    assert apps["a"] == pytest.approx(regular / 4, rel=1e-9)
    assert apps["b"] == pytest.approx(3 * regular / 4, rel=1e-9)


def state_after_a_run(path: Path) -> tuple[dict[str, Any], Totals | None]:
    """The engine state and the totals a store holds after a process ran from T0 to 1100 s."""
    now = [T0 - STEP]
    live = start(path, now, T0, 1100.0)
    drive(live, now, 1100.0)
    state = json.loads(live.store.load_state() or "{}")
    live.store.close()
    store = Store(path)
    totals = load_totals(store)
    store.close()
    return state, totals


def test_a_state_of_another_window_or_version_is_not_restored(tmp_path: Path) -> None:
    state, totals = state_after_a_run(tmp_path / "store.sqlite")
    topology = topology_from_settings(settings())
    assert state["next_window"] == 1095.0
    assert Engine(topology, totals=totals).restore(state)
    assert not Engine(topology, totals=totals).restore({**state, "version": 0})
    assert not Engine(topology, totals=totals).restore({**state, "next_window": 1080.0})
    assert not Engine(topology).restore(state)  # no totals: a new store


def test_signals_of_an_nf_gone_from_the_settings_are_left_behind(tmp_path: Path) -> None:
    state, totals = state_after_a_run(tmp_path / "store.sqlite")
    engine = Engine(topology_from_settings(settings(("upf",))), totals=totals)
    assert engine.restore(state)
    assert engine.state()["traffic"]["keys"] == []  # the RU's byte counters are not taken
    engine.ingest([r for r in readings(1110.0) if getattr(r, "nf", "") == "upf"])
    snap = engine.compute(1095.0)
    (upf,) = snap.nfs
    assert upf.measured_joules == pytest.approx(UPF_WATTS * W)


class Killed(BaseException):
    """The process dies here (SIGKILL): nothing after this point is written."""


def test_a_kill_inside_a_catch_up_leaves_the_state_of_the_newest_stored_window(
    tmp_path: Path,
) -> None:
    """After a long downtime a tick computes hundreds of windows; a kill between two of its
    writes must leave a store whose state is of its newest window, or the next process refuses
    it and starts without readings (stale windows after a restart that lost nothing)."""
    path = tmp_path / "store.sqlite"
    now = [T0 - STEP]
    first = start(path, now, T0, 1100.0)
    drive(first, now, 1100.0)
    first.store.close()
    back = 1100.0 + 200 * W  # 200 windows are due at the first tick after the downtime
    now[0] = back
    second = start(path, now, back, back)
    assert second.resumed_signals
    writes: list[int] = []
    real = second.store.write_windows

    def dies_at_the_third(*args: object, **kw: object) -> None:
        if len(writes) == 2:
            raise Killed
        writes.append(len(args[0]))  # type: ignore[arg-type]
        real(*args, **kw)  # type: ignore[arg-type]

    second.store.write_windows = dies_at_the_third  # type: ignore[method-assign]
    with pytest.raises(Killed):
        asyncio.run(second.tick())
    second.store.close()
    assert len(writes) == 2 and sum(writes) < 200  # killed inside the catch-up
    store = Store(path)
    newest = store.query("SELECT max(window_start) FROM windows")[0][0]
    state = json.loads(store.load_state() or "{}")
    store.close()
    assert newest == 1080.0 + sum(writes) * W  # the windows written are whole batches
    assert state["next_window"] == newest + W
    third = start(path, now, back, back + 60.0)
    assert third.resumed_signals
    third.store.close()


def test_readings_of_ticks_without_a_window_are_kept_once_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick without a window due writes the state alone once the stored one is more than
    max_gap / 4 old: a kill then loses at most those few seconds of readings. Here max_gap is
    20 s: the last window is written at the tick of 1085, the state alone at 1095 (10 s > 5 s),
    the kill follows; the successor's first reading at 1110 lies 15 s after the state's newest
    (within max_gap, so no window is stale) but 25 s after the last window's (stale if the
    readings of 1090 and 1095 had died with the process)."""
    monkeypatch.setitem(globals(), "MAX_GAP", 20.0)  # settings() and the rules read it
    path = tmp_path / "store.sqlite"
    now = [T0 - STEP]
    first = start(path, now, T0, 1095.0)
    drive(first, now, 1085.0)
    assert first.writer.last_written == 1065.0 and first.state_written_at == 1085.0
    drive(first, now, 1090.0)
    assert first.state_written_at == 1085.0  # 5 s: not yet
    drive(first, now, 1095.0)
    assert first.writer.last_written == 1065.0 and first.state_written_at == 1095.0
    first.store.close()  # the kill
    now[0] = 1105.0
    second = start(path, now, 1110.0, 1200.0)
    assert second.resumed_signals
    drive(second, now, 1200.0)
    second.store.close()
    rows = nf_rows(path)
    after = sorted(s for s, nf in rows if nf == "ru" and s >= 1080.0)
    assert after[0] == 1080.0 and after[-1] >= 1170.0
    samples = [float(t) for t in range(int(T0), 1096, int(STEP))] + [
        float(t) for t in range(1110, 1201, int(STEP))
    ]
    for s in after:
        assert not stale_by_the_rules(s, samples), s
        for nf in ("ru", "upf"):
            assert rows[(s, nf)]["unmeasured_seconds"] == 0.0, (s, nf)
