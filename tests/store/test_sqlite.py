"""The SQLite store: windows written, one writer, retention, and totals that resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.attribution import Engine, NfSpec, Topology
from collector.attribution.persist import load_totals, write_snapshot
from collector.attribution.records import EnergyRecord, Record, TrafficRecord
from collector.store import Store, StoreLocked

TOPO = Topology(nfs=(NfSpec("ru", "ru", zone="z"),), window_seconds=15.0, max_gap_seconds=45.0)


def records() -> list[Record]:
    out: list[Record] = []
    for t in range(0, 121, 5):
        out.append(EnergyRecord(t=t, nf="ru", joules_total=2.0 * t))
        out.append(
            TrafficRecord(t=t, nf="ru", app="a", direction="uplink", packets_total=t, bytes_total=t)
        )
    return out


def test_restart_resumes_cumulative_totals(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    store = Store(path, writer=True, clock=lambda: 100.0)
    engine = Engine(TOPO)
    engine.ingest(records())
    for start in (0.0, 15.0, 30.0):
        write_snapshot(store, engine.compute(start))
    store.close()

    store = Store(path, writer=True, clock=lambda: 100.0)
    totals = load_totals(store)
    assert totals is not None and totals.windows == 3
    assert totals.nfs[0].measured_joules == pytest.approx(90.0)
    resumed = Engine(TOPO, totals=totals)
    resumed.ingest(records())
    assert resumed.next_window == 45.0
    snap = resumed.compute(45.0)
    assert snap.totals.nfs[0].measured_joules == pytest.approx(120.0)
    assert float(snap.totals.apps.static_joules.sum() + snap.totals.apps.dynamic_joules.sum()) == (
        pytest.approx(120.0)
    )
    assert snap.totals.co2_missing_joules == {"z": pytest.approx(120.0)}
    write_snapshot(store, snap)
    windows = store.query("SELECT window_start FROM windows ORDER BY window_start")
    assert [w[0] for w in windows] == [0.0, 15.0, 30.0, 45.0]
    (co2,) = store.query("SELECT co2_grams FROM app_window LIMIT 1")[0]
    assert co2 is None  # missing stays missing, never zero
    store.close()


def test_one_writer_and_read_only_readers(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    writer = Store(path, writer=True)
    with pytest.raises(StoreLocked):
        Store(path, writer=True)
    reader = Store(path)
    assert reader.query("SELECT count(*) FROM windows") == [(0,)]
    with pytest.raises(Exception, match="readonly"):
        reader.query("INSERT INTO meta VALUES ('x', 1)")
    assert writer.query("PRAGMA journal_mode") == [("wal",)]
    writer.close()
    reader.close()


def test_retention_drops_old_windows_but_keeps_totals(tmp_path: Path) -> None:
    now = [0.0]
    store = Store(tmp_path / "r.sqlite", writer=True, retention_seconds=40.0, clock=lambda: now[0])
    engine = Engine(TOPO)
    engine.ingest(records())
    for start in (0.0, 15.0, 30.0, 45.0, 60.0):
        now[0] = start + 15.0
        write_snapshot(store, engine.compute(start))
    starts = [w[0] for w in store.query("SELECT window_start FROM windows ORDER BY 1")]
    assert starts == [45.0, 60.0]
    totals = load_totals(store)
    assert totals is not None and totals.nfs[0].measured_joules == pytest.approx(150.0)
    store.close()
