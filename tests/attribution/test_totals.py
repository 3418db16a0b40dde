"""A window's split frozen into a Snapshot, and the running totals over windows (and after a
restart), on hand-computed numbers; the snapshot's arrays are read-only."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from collector.attribution.energy import NfEnergy
from collector.attribution.inputs import NfInput, WindowInputs
from collector.attribution.snapshot import (
    AppRows,
    AppTraffic,
    IntensityStatus,
    NfTotals,
    NfWindow,
    Snapshot,
)
from collector.attribution.split import split_window
from collector.attribution.topology import NfSpec, Topology, ZoneSpec
from collector.attribution.totals import NO_ZONE, Accumulator, make_snapshot
from tests.attribution.window_arrays import requests, traffic

RU = NfSpec("ru1", "ru", zone="site", idle_policy="fixed", idle_watts=2.0)
DU = NfSpec("du1", "du")  # no zone: its CO2 is always missing
VLM = NfSpec("vlm", "inference", zone="dc", static_key="requests", dynamic_key="requests")
TOPO = Topology(nfs=(RU, DU, VLM), window_seconds=15.0, max_gap_seconds=45.0)


def window(start: float, du_energy: float | None) -> tuple[WindowInputs, dict[str, NfEnergy]]:
    """ru1: 60 J, idle 30 J, total 10 pkt / 1000 B, 400 g/kWh; a sends 4 pkt / 300 B up and
    2 pkt / 200 B down, b 2 pkt / 100 B up. du1: `du_energy`, tagged only, a 1 pkt / 100 B down.
    vlm: 90 J by requests, a 2 and b 1, 250 g/kWh (market 0)."""
    nfs = (
        NfInput(RU, 60.0, idle_joules=30.0, total_packets=10, total_bytes=1000, intensity=400),
        NfInput(DU, du_energy, catch_up_joules=0.0),
        NfInput(VLM, 90.0, has_requests_source=True, intensity=250, market_intensity=0.0),
    )
    rows = [(0, "a", 0, 4, 300), (0, "a", 1, 2, 200), (0, "b", 0, 2, 100), (1, "a", 1, 1, 100)]
    inp = WindowInputs(start, 15.0, nfs, **traffic(rows), **requests([(2, "a", 2), (2, "b", 1)]))
    du_method = "none" if du_energy is None else "counter"
    energies = {
        "ru1": NfEnergy(60.0, 0.0, 30.0, "counter"),
        "du1": NfEnergy(du_energy, 0.0, 0.0, du_method, "modelled"),
        "vlm": NfEnergy(90.0, 0.0, 0.0, "gauge"),
    }
    return inp, energies


def snapshot(acc: Accumulator, start: float, du: float | None) -> Snapshot:
    inp, energies = window(start, du)
    return make_snapshot(acc, inp, split_window(inp), energies, {"a": 2.0, "b": 1.0}, ())


def rows_by_key(rows: AppRows) -> dict[tuple[str, str, str], tuple[float, float, str]]:
    return {
        (str(a), str(n), str(d)): (float(s + dy), float(c), str(r))
        for a, n, d, s, dy, c, r in zip(
            rows.app,
            rows.nf,
            rows.direction,
            rows.static_joules,
            rows.dynamic_joules,
            rows.co2_grams,
            rows.role,
            strict=True,
        )
    }


def test_one_window_snapshot_by_hand() -> None:
    """ru1: S = D = 30 J. a: 30 x 6/10 + 30 x 500/1000 = 33 J, by bytes 3:2 up:down (19.8 and
    13.2 J); b: 30 x 2/10 + 30 x 100/1000 = 9 J up; untagged 18 J. du1: 15 J all to a, down.
    vlm: a 60 J, b 30 J, uplink (requests have no direction)."""
    acc = Accumulator(TOPO)
    snap = snapshot(acc, 30.0, 15.0)
    assert (snap.window_start, snap.window_seconds, snap.window_end) == (30.0, 15.0, 45.0)
    got = rows_by_key(snap.rows)
    kwh = 1 / 3.6e6
    expected = {
        ("a", "ru1", "uplink"): (19.8, 19.8 * kwh * 400, "ru"),
        ("a", "ru1", "downlink"): (13.2, 13.2 * kwh * 400, "ru"),
        ("b", "ru1", "uplink"): (9.0, 9.0 * kwh * 400, "ru"),
        ("a", "vlm", "uplink"): (60.0, 60.0 * kwh * 250, "inference"),
        ("b", "vlm", "uplink"): (30.0, 30.0 * kwh * 250, "inference"),
    }
    du = got.pop(("a", "du1", "downlink"))
    assert du[0] == pytest.approx(15.0) and math.isnan(du[1]) and du[2] == "du"
    assert set(got) == set(expected)
    for key, (j, co2, role) in expected.items():
        assert got[key][0] == pytest.approx(j) and got[key][1] == pytest.approx(co2), key
        assert got[key][2] == role
    ru, du_w, vlm = snap.nfs
    assert (ru.nf, ru.role, ru.zone, ru.energy_basis, ru.method) == (
        "ru1",
        "ru",
        "site",
        "measured",
        "counter",
    )
    assert (ru.measured_joules, ru.static_joules, ru.dynamic_joules) == (60.0, 30.0, 30.0)
    assert [w.conservation_error_ratio for w in snap.nfs] == pytest.approx([0.0] * 3, abs=1e-12)
    assert [w.embodied_grams for w in snap.nfs] == [0.0, 0.0, 0.0]
    assert snap.rows.embodied_grams.tolist() == [0.0] * 6
    assert ru.attributed_joules == pytest.approx(42.0)
    assert ru.untagged_joules == pytest.approx(18.0) and ru.unattributed_joules == pytest.approx(18)
    assert (ru.denominator, ru.stale, ru.unmeasured_seconds) == ("all", False, 0.0)
    assert (du_w.denominator, du_w.energy_basis, du_w.co2_missing_joules) == (
        "tagged_only",
        "modelled",
        15.0,
    )
    assert (vlm.method, vlm.attributed_joules, vlm.co2_missing_joules) == ("gauge", 90.0, 0.0)
    assert dict(snap.requests) == {"a": 2.0, "b": 1.0}
    traffic_rows = {
        (str(a), str(n)): (float(p), float(b))
        for a, n, p, b in zip(
            snap.traffic.app, snap.traffic.nf, snap.traffic.packets, snap.traffic.bytes, strict=True
        )
    }
    assert traffic_rows == {
        ("a", "ru1"): (6.0, 500.0),
        ("b", "ru1"): (2.0, 100.0),
        ("a", "du1"): (1.0, 100.0),
    }
    assert len(snap.traffic) == 3 and len(snap.rows) == 6


def test_totals_add_up_over_windows_and_a_stale_window_counts_unmeasured_time() -> None:
    acc = Accumulator(TOPO)
    snapshot(acc, 0.0, 15.0)
    snap = snapshot(acc, 15.0, None)  # du1 stale in the second window
    du_w = snap.nfs[1]
    assert (du_w.stale, du_w.method, du_w.unmeasured_seconds, du_w.measured_joules) == (
        True,
        "none",
        15.0,
        0.0,
    )
    assert du_w.co2_missing_joules == 0.0
    t = snap.totals
    assert t.windows == 2 and t.last_window_start == 15.0
    assert [n.nf for n in t.nfs] == ["du1", "ru1", "vlm"]  # sorted by name
    assert [(n.role, n.denominator) for n in t.nfs] == [
        ("du", "tagged_only"),
        ("ru", "all"),
        ("inference", "all"),
    ]
    ru = next(n for n in t.nfs if n.nf == "ru1")
    assert (ru.measured_joules, ru.untagged_joules, ru.idle_no_traffic_joules) == pytest.approx(
        (120.0, 36.0, 0.0)
    )
    assert ru.attributed_joules == pytest.approx(84.0) and ru.unattributed_joules == pytest.approx(
        36
    )
    du = next(n for n in t.nfs if n.nf == "du1")
    assert (du.measured_joules, du.unmeasured_seconds, du.energy_basis) == (15.0, 15.0, "modelled")
    assert dict(t.requests) == {"a": 4.0, "b": 2.0}
    assert dict(t.co2_missing_joules) == {NO_ZONE: 15.0}  # du1 has no zone
    got = rows_by_key(t.apps)
    assert got[("a", "ru1", "uplink")][0] == pytest.approx(39.6)
    assert got[("a", "ru1", "uplink")][1] == pytest.approx(39.6 / 3.6e6 * 400)
    assert got[("a", "du1", "downlink")][0] == pytest.approx(15.0)
    assert got[("a", "du1", "downlink")][1] == 0.0  # missing CO2 is not summed (it is counted)
    assert got[("b", "vlm", "uplink")] == pytest.approx((60.0, 60.0 / 3.6e6 * 250, "inference"))
    assert {r for _, _, r in got.values()} == {"ru", "du", "inference"}


def test_totals_resume_after_a_restart() -> None:
    first = Accumulator(TOPO)
    snapshot(first, 0.0, 15.0)
    resumed = Accumulator(TOPO, first.totals())
    snap = snapshot(resumed, 15.0, 15.0)
    t = snap.totals
    assert t.windows == 2 and t.last_window_start == 15.0
    assert dict(t.requests) == {"a": 4.0, "b": 2.0}
    assert dict(t.co2_missing_joules) == {NO_ZONE: 30.0}
    assert next(n for n in t.nfs if n.nf == "vlm").measured_joules == 180.0
    assert rows_by_key(t.apps)[("a", "vlm", "uplink")][0] == pytest.approx(120.0)
    untouched = Accumulator(TOPO, first.totals()).totals()
    assert untouched.windows == 1 and untouched.last_window_start == 0.0


def nf_window(**kw: Any) -> NfWindow:
    base: dict[str, Any] = {
        "nf": "ru1", "role": "ru", "zone": "site", "energy_basis": "measured",
        "denominator": "all", "stale": False, "method": "counter", "measured_joules": 10.0,
        "static_joules": 0.0, "dynamic_joules": 10.0, "attributed_joules": 10.0,
        "untagged_joules": 0.0, "idle_no_traffic_joules": 0.0, "catch_up_joules": 0.0,
        "unmeasured_seconds": 0.0, "conservation_error_ratio": 0.0, "co2_missing_joules": 0.0,
        "untagged_clamps": 0, "embodied_grams": 0.0,
    }  # fmt: skip
    return NfWindow(**{**base, **kw})


def test_nf_totals_sum_every_part_and_keep_the_latest_labels() -> None:
    acc = Accumulator(TOPO)
    first = nf_window(
        measured_joules=10.0, attributed_joules=1.0, untagged_joules=2.0,
        idle_no_traffic_joules=3.0, catch_up_joules=4.0, unmeasured_seconds=0.0,
    )  # fmt: skip
    second = nf_window(
        energy_basis="modelled", denominator="tagged_only", measured_joules=100.0,
        attributed_joules=10.0, untagged_joules=20.0, idle_no_traffic_joules=30.0,
        catch_up_joules=40.0, unmeasured_seconds=15.0,
    )  # fmt: skip
    acc.add(AppRows.empty(), (first,), {})
    acc.add(AppRows.empty(), (second,), {})
    (n,) = acc.totals().nfs
    assert (n.nf, n.role, n.energy_basis, n.denominator) == ("ru1", "ru", "modelled", "tagged_only")
    assert (
        n.measured_joules, n.attributed_joules, n.untagged_joules, n.idle_no_traffic_joules,
        n.catch_up_joules, n.unmeasured_seconds,
    ) == (110.0, 11.0, 22.0, 33.0, 44.0, 15.0)  # fmt: skip


def test_missing_co2_of_a_zone_is_booked_under_the_zone() -> None:
    acc = Accumulator(TOPO)
    w = nf_window(co2_missing_joules=10.0)
    acc.add(AppRows.empty(), (w,), {})
    acc.add(AppRows.empty(), (w,), {"a": 1.0})
    acc.add(AppRows.empty(), (nf_window(co2_missing_joules=0.5),), {})  # below 1 J counts too
    acc.add(AppRows.empty(), (nf_window(zone=None, co2_missing_joules=2.0),), {})
    t = acc.totals()
    assert dict(t.co2_missing_joules) == {"site": 20.5, NO_ZONE: 2.0}
    assert dict(t.requests) == {"a": 1.0} and t.windows == 4
    assert len(t.apps) == 0


def test_rows_of_an_nf_no_longer_configured_keep_an_empty_role() -> None:
    """Totals resumed from a store can name an NF the topology dropped."""
    rows = AppRows.build(
        app=["a"], nf=["gone"], role=["ru"], direction=["uplink"], static_joules=[1.0],
        dynamic_joules=[2.0], co2_grams=[0.0], co2_market_grams=[0.0], embodied_grams=[0.0],
    )  # fmt: skip
    acc = Accumulator(TOPO)
    acc.add(rows, (), {})
    t = acc.totals()
    assert t.apps.role.tolist() == [""] and t.apps.nf.tolist() == ["gone"]


def test_unattributed_is_the_sum_of_its_reasons() -> None:
    w = NfWindow(
        "ru1", "ru", None, "measured", "all", False, "counter", 10.0, 4.0, 6.0, 3.0,
        1.0, 2.0, 4.0, 0.0, 0.0, 0.0, 0, 0.0,
    )  # fmt: skip
    assert w.unattributed_joules == 7.0
    n = NfTotals("ru1", "ru", "measured", "all", 10.0, 3.0, 1.0, 2.0, 4.0)
    assert n.unattributed_joules == 7.0
    assert NfTotals("x", "ru", "measured", "all").unattributed_joules == 0.0


def test_snapshot_arrays_are_read_only() -> None:
    rows = AppRows.build(
        app=["a"],
        nf=["ru1"],
        role=["ru"],
        direction=["uplink"],
        static_joules=[1.0],
        dynamic_joules=[2],
        co2_grams=[0.5],
        co2_market_grams=[0.0],
        embodied_grams=[0.0],
    )
    assert rows.dynamic_joules.dtype == np.float64 and rows.app.dtype == object
    with pytest.raises(ValueError, match="read-only"):
        rows.static_joules[0] = 5.0
    traffic_ = AppTraffic.build(app=["a"], nf=["ru1"], packets=[3], bytes=[300])
    assert traffic_.packets.dtype == np.float64 and traffic_.bytes.dtype == np.float64
    assert traffic_.app.dtype == object and traffic_.nf.dtype == object and len(traffic_) == 1
    with pytest.raises(ValueError, match="read-only"):
        traffic_.bytes[0] = 1.0
    assert len(AppRows.empty()) == 0 and len(AppTraffic.empty()) == 0
    empty = AppTraffic.empty()
    assert [getattr(empty, f).shape for f in ("app", "nf", "packets", "bytes")] == [(0,)] * 4
    rows_ = AppRows.empty()
    assert all(getattr(rows_, f).shape == (0,) for f in ("app", "nf", "role", "direction"))


def test_unattributed_parts_under_their_design_reason_names() -> None:
    """DESIGN section 5's `reason` label values, in that order, each with its own part."""
    n = NfTotals("ru1", "ru", "measured", "all", 10.0, 3.0, 1.0, 2.0, 4.0)
    assert list(n.unattributed_by_reason().items()) == [
        ("untagged", 1.0),
        ("idle_no_traffic", 2.0),
        ("catch_up", 4.0),
    ]


def test_snapshot_carries_the_intensities_and_whether_a_market_factor_is_configured() -> None:
    status = (IntensityStatus("site", "static", "average", 400.0, 5.0),)
    zones = {"dc": ZoneSpec("dc", market_grams_per_kwh=0.0)}
    for topo, market in ((TOPO, False), (replace(TOPO, zones=zones), True)):
        inp, energies = window(0.0, 30.0)
        snap = make_snapshot(Accumulator(topo), inp, split_window(inp), energies, {}, status)
        assert snap.intensity == status
        assert snap.market_configured is market
