"""A recording made across a restart replays to the live windows (issue 14). The restarted
attributor appends a `restart` marker to its recording (`--record`) with the engine state it
took from the store: replay then drops what the killed process read after that state (those
readings are in the file, but died with the process) and continues from the same state.

The real LiveAttributor on a real store with an injected clock, killed as in
test_restart_state.py (memory dropped, the store closed without a word), recording into one file
across both processes; the power varies at every reading, so a reading more or less changes the
numbers. The live windows are read back from the store; replay runs on the file."""

from __future__ import annotations

import json
import math
from functools import partial
from pathlib import Path

import pytest

from collector.attribution.live import LiveAttributor
from collector.attribution.records import (
    EnergyRecord,
    Record,
    RestartMarker,
    TrafficRecord,
    record_from_dict,
    restart_marker_json,
)
from collector.attribution.replay import load_entries_file, replay_run
from collector.attribution.topology import topology_from_settings
from collector.settings import Settings, parse_settings
from collector.store import Store
from tests.attribution.drive import drive as tick_until

W, MAX_GAP, STEP = 15.0, 45.0, 5.0
T0, KILL, END = 1000.0, 1107.0, 1400.0


def settings() -> Settings:
    return parse_settings({
        "window_seconds": W, "max_gap_seconds": MAX_GAP,
        "nfs": [{"name": "ru", "role": "ru", "node_id": 1},
                {"name": "upf", "role": "upf", "node_id": 2}],
        "apps": [{"name": a, "traces": [{"namespace_id": 1, "trace_id": i + 1}]}
                 for i, a in enumerate(("a", "b"))],
    })  # fmt: skip


def watts(t: float) -> float:
    return 100.0 + 40.0 * math.sin(t / 7.0)


def readings(t: float) -> list[Record]:
    """The RU's energy counter (the power held over each step), the UPF's gauge, two apps'
    byte counters whose rates change too."""
    joules = sum(watts(k) * STEP for k in range(int(T0), int(t), int(STEP)))
    out: list[Record] = [EnergyRecord(t=t, nf="ru", joules_total=joules),
                         EnergyRecord(t=t, nf="upf", watts=watts(t) / 3)]  # fmt: skip
    for app, rate in (("a", 1000.0), ("b", 3000.0)):
        total = sum(rate * (1 + math.cos(k / 11.0)) for k in range(int(T0), int(t) + 1, 5))
        out.append(TrafficRecord(t=t, nf="ru", app=app, direction="uplink",
                                 packets_total=total / 100, bytes_total=total,
                                 series=f"node/1/{app}"))  # fmt: skip
    return out


def process(store_path: Path, now: list[float], first: float, last: float,
            recording: Path) -> tuple[LiveAttributor, object]:  # fmt: skip
    records = [r for k in range(int(first), int(last) + 1, int(STEP)) for r in readings(float(k))]
    store = Store(store_path, writer=True, clock=lambda: now[0])
    out = recording.open("a")
    live = LiveAttributor(settings(), store, clock=lambda: now[0], settle_seconds=1.0,
                          replay_inputs=list(records), record=out)  # fmt: skip
    return live, out


drive = partial(tick_until, step=STEP)
"""drive(live, now, until): tick every STEP seconds of the injected clock until `until`."""


def live_windows(path: Path) -> dict[float, dict[str, float]]:
    store = Store(path)
    try:
        nfs = store.query("SELECT window_start, nf, measured_joules, attributed_joules, "
                          "catch_up_joules, unmeasured_seconds FROM nf_window")  # fmt: skip
        apps = store.query("SELECT window_start, app, sum(static_joules + dynamic_joules) "
                           "FROM app_window GROUP BY 1, 2")  # fmt: skip
    finally:
        store.close()
    out: dict[float, dict[str, float]] = {}
    for s, nf, measured, attributed, catch_up, unmeasured in nfs:
        row = out.setdefault(s, {})
        row |= {f"{nf}.measured": measured, f"{nf}.attributed": attributed,
                f"{nf}.catch_up": catch_up, f"{nf}.unmeasured": unmeasured}  # fmt: skip
    for s, app, joules in apps:
        out[s][f"app.{app}"] = joules
    return out


def replayed(path: Path) -> dict[float, dict[str, float]]:
    out: dict[float, dict[str, float]] = {}
    for snap in replay_run(topology_from_settings(settings()), load_entries_file(
            path, topology_from_settings(settings()))):  # fmt: skip
        row = out.setdefault(snap.window_start, {})
        for w in snap.nfs:
            row |= {f"{w.nf}.measured": w.measured_joules, f"{w.nf}.attributed":
                    w.attributed_joules, f"{w.nf}.catch_up": w.catch_up_joules,
                    f"{w.nf}.unmeasured": w.unmeasured_seconds}  # fmt: skip
        r = snap.rows
        for app, joules in zip(r.app.tolist(), (r.static_joules + r.dynamic_joules).tolist(),
                               strict=True):  # fmt: skip
            row[f"app.{app}"] = row.get(f"app.{app}", 0.0) + joules
    return out


@pytest.mark.parametrize("downtime", [18.0, 120.0], ids=["shorter-than-max-gap", "longer"])
def test_a_recording_across_a_restart_replays_to_the_live_windows(
    tmp_path: Path, downtime: float
) -> None:
    path, recording = tmp_path / "store.sqlite", tmp_path / "inputs.jsonl"
    now = [T0 - STEP]
    first, out = process(path, now, T0, KILL, recording)
    drive(first, now, KILL)  # the last tick (1105) reads, computes nothing: then the kill
    first.store.close()
    out.close()  # type: ignore[attr-defined]
    back = KILL + downtime
    now[0] = back - STEP
    second, out = process(path, now, back, END, recording)
    assert second.resumed_signals
    drive(second, now, END)
    second.store.close()
    out.close()  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in recording.read_text().splitlines()]
    (marker,) = [i for i, d in enumerate(lines) if d["kind"] == "restart"]
    assert 0 < marker < len(lines) - 1 and lines[marker]["state"] is not None
    assert any(d["kind"] == "energy" and d["t"] == 1105.0 for d in lines[:marker])  # died
    live, replay = live_windows(path), replayed(recording)
    assert set(live) <= set(replay) and len(live) > 20
    for start, row in live.items():
        assert replay[start] == pytest.approx(row, rel=1e-9, abs=1e-9), start


def test_the_marker_reads_back_and_bad_ones_are_named() -> None:
    line = restart_marker_json(1.5, 15.0, '{"version":1}')
    marker = record_from_dict(json.loads(line))
    assert marker == RestartMarker(1.5, 15.0, {"version": 1})
    assert record_from_dict(json.loads(restart_marker_json(1.5, 15.0, None))) == RestartMarker(
        1.5, 15.0, None
    )
    with pytest.raises(ValueError, match="state"):
        record_from_dict({"kind": "restart", "t": 1, "next_window": 15, "state": [1]})
    with pytest.raises(ValueError, match="next_window"):
        record_from_dict({"kind": "restart", "t": 1})
