"""The engine over time: window grid, interpolation, stale windows and catch-up, resets and wraps,
the coarse-counter rule, idle policies, intensity, and run-level conservation."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.attribution import Engine, NfSpec, Topology
from collector.attribution.grid import window_start, windows_between
from collector.attribution.records import (
    EnergyRecord,
    IntensityRecord,
    Record,
    RequestsRecord,
    TrafficRecord,
    TrafficTotalRecord,
)
from collector.attribution.snapshot import Snapshot
from collector.attribution.topology import ZoneSpec

W = 15.0


def run(topo: Topology, records: list[Record], starts: list[float]) -> list[Snapshot]:
    engine = Engine(topo)
    engine.ingest(records)
    return [engine.compute(s) for s in starts]


def topo(*nfs: NfSpec, zones: dict[str, ZoneSpec] | None = None) -> Topology:
    return Topology(nfs=nfs, zones=zones or {}, window_seconds=W, max_gap_seconds=45.0)


def test_grid_is_epoch_aligned() -> None:
    assert window_start(1_700_000_007.0, 15) == 1_699_999_995.0
    assert list(windows_between(7.0, 45.0, 15)) == [0.0, 15.0, 30.0]
    assert list(windows_between(7.0, 44.9, 15)) == [0.0, 15.0]


def test_counter_is_interpolated_to_window_edges() -> None:
    """Samples at 10 s (100 J) and 20 s (200 J): the edge at 15 s is 150 J."""
    recs: list[Record] = [
        EnergyRecord(t=t, nf="ru", joules_total=10.0 * t) for t in (-5, 10, 20, 31)
    ]
    snaps = run(topo(NfSpec("ru", "ru")), recs, [0.0, 15.0])
    assert snaps[0].nfs[0].measured_joules == pytest.approx(150.0)
    assert snaps[1].nfs[0].measured_joules == pytest.approx(150.0)


def test_gauge_is_integrated() -> None:
    """10 W at 0 s rising linearly to 20 W at 10 s, then held: 150 J + 100 J."""
    recs: list[Record] = [
        EnergyRecord(t=0, nf="ru", watts=10),
        EnergyRecord(t=10, nf="ru", watts=20),
    ]
    (snap,) = run(topo(NfSpec("ru", "ru")), recs, [0.0])
    assert snap.nfs[0].measured_joules == pytest.approx(250.0)
    assert snap.nfs[0].method == "gauge"


def test_gap_makes_windows_stale_and_the_counter_catches_up() -> None:
    """1 W counter sampled every 5 s, silent from 20 s to 100 s (80 s > max_gap 45 s).
    Windows [60, 75), [75, 90) and [90, 105) are stale (x - last sample > 45 s at some point);
    [15, 30) ... [45, 60): the counter is held at 20 J after 20 s. The first fresh window [105, 120)
    gets catch-up C = F(105) - F(60) = 105 - 20 = 85 J."""
    times = [0, 5, 10, 15, 20, 100, 105, 110, 115, 120]
    recs: list[Record] = [EnergyRecord(t=t, nf="ru", joules_total=float(t)) for t in times]
    starts = [0.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0, 105.0]
    snaps = run(topo(NfSpec("ru", "ru")), recs, starts)
    stale = [s.nfs[0].stale for s in snaps]
    assert stale == [False, False, False, False, True, True, True, False]
    assert [s.nfs[0].unmeasured_seconds for s in snaps][4:7] == [15.0, 15.0, 15.0]
    last = snaps[-1].nfs[0]
    assert last.catch_up_joules == pytest.approx(85.0)
    assert last.measured_joules == pytest.approx(100.0)
    total = sum(s.nfs[0].measured_joules for s in snaps)
    assert total == pytest.approx(120.0)  # nothing created or lost: F(120) - F(0)
    assert snaps[-1].totals.nfs[0].catch_up_joules == pytest.approx(85.0)
    assert snaps[-1].totals.nfs[0].unmeasured_seconds == 45.0


def test_gauge_gap_is_lost_and_counted_as_unmeasured() -> None:
    recs: list[Record] = [EnergyRecord(t=t, nf="ru", watts=2.0) for t in (0, 10, 100, 110, 120)]
    snaps = run(topo(NfSpec("ru", "ru")), recs, [0.0, 15.0, 60.0, 105.0])
    assert snaps[-1].nfs[0].catch_up_joules == 0.0
    assert snaps[-1].nfs[0].measured_joules == pytest.approx(30.0)
    assert snaps[2].nfs[0].stale


def test_reset_counts_from_zero_and_wrap_uses_width() -> None:
    recs: list[Record] = [
        EnergyRecord(t=0, nf="a", joules_total=1000.0),
        EnergyRecord(t=10, nf="a", joules_total=1100.0),
        EnergyRecord(t=20, nf="a", joules_total=50.0),  # reset: +50
        EnergyRecord(t=30, nf="a", joules_total=150.0),
        EnergyRecord(t=0, nf="b", joules_total=950.0, counter_width_joules=1000.0),
        EnergyRecord(t=15, nf="b", joules_total=980.0, counter_width_joules=1000.0),
        EnergyRecord(t=30, nf="b", joules_total=10.0, counter_width_joules=1000.0),  # wrap: +30
    ]
    snaps = run(topo(NfSpec("a", "ru"), NfSpec("b", "ru")), recs, [0.0, 15.0])
    assert sum(s.nfs[0].measured_joules for s in snaps) == pytest.approx(100 + 50 + 100)
    assert sum(s.nfs[1].measured_joules for s in snaps) == pytest.approx(60.0)


def test_coarse_counter_uses_the_power_gauge() -> None:
    """APC outlet: 360 kJ per counter step, 100 W: 1.5 kJ per window, so one step is 240x more
    than 1 % of it; the gauge is used."""
    spec = NfSpec("ru", "ru", counter_resolution_joules=360_000.0)
    recs: list[Record] = [
        EnergyRecord(t=0, nf="ru", joules_total=0.0),
        EnergyRecord(t=10, nf="ru", joules_total=360_000.0),
        EnergyRecord(t=20, nf="ru", joules_total=360_000.0),
        *(EnergyRecord(t=t, nf="ru", watts=100.0) for t in (0, 10, 20)),
    ]
    (snap,) = run(topo(spec), recs, [0.0])
    assert snap.nfs[0].method == "gauge"
    assert snap.nfs[0].measured_joules == pytest.approx(1500.0)
    fine = NfSpec("ru", "ru", counter_resolution_joules=1.0)
    (snap,) = run(topo(fine), recs, [0.0])
    assert snap.nfs[0].method == "counter"


def _traffic(t: float, app: str, n: float) -> TrafficRecord:
    return TrafficRecord(
        t=t, nf="du", app=app, direction="uplink", packets_total=n, bytes_total=100 * n
    )


def test_idle_policies() -> None:
    """source: Kepler idle counter, 1 W -> 15 J static; rolling_min: lowest mean so far."""
    recs: list[Record] = []
    for t in range(0, 61, 5):
        watts = 4.0 if t < 30 else 2.0
        recs.append(
            EnergyRecord(t=t, nf="du", joules_total=4.0 * min(t, 30) + 2.0 * max(t - 30, 0))
        )
        recs.append(EnergyRecord(t=t, nf="du", joules_total=1.0 * t, mode="idle"))
        recs.append(_traffic(t, "a", t))
        del watts
    source = run(topo(NfSpec("du", "du", idle_policy="source")), recs, [0.0])[0].nfs[0]
    assert source.static_joules == pytest.approx(15.0)
    assert source.dynamic_joules == pytest.approx(45.0)
    rolling = run(
        topo(NfSpec("du", "du", idle_policy="rolling_min")), recs, [0.0, 15.0, 30.0, 45.0]
    )
    assert [s.nfs[0].static_joules for s in rolling] == pytest.approx([60.0, 60.0, 30.0, 30.0])
    short = NfSpec("du", "du", idle_policy="rolling_min", idle_horizon_seconds=15.0)
    again = run(topo(short), recs, [0.0, 15.0, 30.0, 45.0])
    assert [s.nfs[0].static_joules for s in again] == pytest.approx([60.0, 60.0, 30.0, 30.0])


def test_traffic_total_gives_untagged_and_link_header_is_subtracted() -> None:
    """Total 20 packets, 2280 link-layer bytes -> 2280 - 14 x 20 = 2000 B IPv6; tagged 10 pkt /
    1000 B -> u = 10 packets and 1000 B: half of the energy is untagged."""
    recs: list[Record] = [
        EnergyRecord(t=0, nf="du", joules_total=0.0),
        EnergyRecord(t=15, nf="du", joules_total=30.0),
        _traffic(0, "a", 0),
        _traffic(15, "a", 10),
        TrafficTotalRecord(t=0, nf="du", packets_total=0, bytes_total=0, link_header_bytes=14),
        TrafficTotalRecord(t=15, nf="du", packets_total=20, bytes_total=2280, link_header_bytes=14),
    ]
    (snap,) = run(topo(NfSpec("du", "du")), recs, [0.0])
    assert snap.nfs[0].denominator == "all"
    assert snap.nfs[0].untagged_joules == pytest.approx(15.0)
    assert snap.nfs[0].attributed_joules == pytest.approx(15.0)


def test_intensity_is_time_weighted_and_missing_is_reported() -> None:
    zones = {
        "z": ZoneSpec("z", max_age_seconds=3600.0),
        "y": ZoneSpec("y", market_grams_per_kwh=0.0),
    }
    spec = NfSpec("du", "du", zone="z")
    recs: list[Record] = [
        EnergyRecord(t=0, nf="du", joules_total=0.0),
        EnergyRecord(t=15, nf="du", joules_total=3.6e6),
        _traffic(0, "a", 0),
        _traffic(15, "a", 1),
        IntensityRecord(t=-100, zone="z", grams_per_kwh=100.0),
        IntensityRecord(t=5, zone="z", grams_per_kwh=400.0),
    ]
    (snap,) = run(topo(spec, zones=zones), recs, [0.0])
    assert float(snap.rows.co2_grams.sum()) == pytest.approx((100 * 5 + 400 * 10) / 15)
    (snap,) = run(topo(NfSpec("du", "du", zone="y"), zones=zones), recs, [0.0])
    assert math.isnan(float(snap.rows.co2_grams[0]))
    assert float(snap.rows.co2_market_grams[0]) == 0.0
    assert snap.totals.co2_missing_joules == {"y": pytest.approx(3.6e6)}


def test_requests_per_app_prefer_the_app_level_source() -> None:
    recs: list[Record] = [
        EnergyRecord(t=0, nf="vlm", joules_total=0.0),
        EnergyRecord(t=15, nf="vlm", joules_total=30.0),
        RequestsRecord(t=0, app="a", requests_total=0, nf="vlm"),
        RequestsRecord(t=15, app="a", requests_total=3, nf="vlm"),
        RequestsRecord(t=0, app="b", requests_total=10, nf="vlm"),
        RequestsRecord(t=15, app="b", requests_total=11, nf="vlm"),
    ]
    spec = NfSpec("vlm", "inference", static_key="requests", dynamic_key="requests")
    (snap,) = run(topo(spec), recs, [0.0])
    assert dict(snap.requests) == {"a": 3.0, "b": 1.0}
    by_app = {
        a: s + d
        for a, s, d in zip(
            snap.rows.app, snap.rows.static_joules, snap.rows.dynamic_joules, strict=True
        )
    }
    assert by_app == {"a": pytest.approx(22.5), "b": pytest.approx(7.5)}


def test_windows_go_in_order_and_restart_resumes_totals() -> None:
    recs: list[Record] = [
        EnergyRecord(t=t, nf="ru", joules_total=float(t)) for t in range(0, 61, 5)
    ]
    t = topo(NfSpec("ru", "ru"))
    engine = Engine(t)
    engine.ingest(recs)
    engine.compute(0.0)
    with pytest.raises(ValueError, match="already computed"):
        engine.compute(0.0)
    with pytest.raises(ValueError, match="not a multiple"):
        engine.compute(16.0)
    resumed = Engine(t, totals=engine.totals())
    resumed.ingest(recs)
    snap = resumed.compute(15.0)
    assert snap.totals.nfs[0].measured_joules == pytest.approx(30.0)
    assert snap.totals.windows == 2


# --- run-level property: resets, gaps and stale windows never create or lose energy -------


@st.composite
def counter_runs(draw: st.DrawFn) -> list[tuple[float, float]]:
    """Sample times with random gaps (some beyond max_gap) and readings with random resets."""
    t, value, out = 0.0, draw(st.floats(0, 1e4)), []
    for _ in range(draw(st.integers(2, 40))):
        out.append((t, value))
        t += draw(st.sampled_from([1.0, 5.0, 7.5, 15.0, 30.0, 50.0, 100.0]))
        if draw(st.integers(0, 9)) == 0:
            value = draw(st.floats(0, 100))  # reset
        else:
            value += draw(st.floats(0, 1e4))
    return out


@settings(max_examples=40, deadline=None)
@given(
    counter_runs(), st.lists(st.tuples(st.sampled_from(["a", "b"]), st.floats(0, 100)), max_size=5)
)
def test_run_conserves_energy(
    samples: list[tuple[float, float]], flows: list[tuple[str, float]]
) -> None:
    recs: list[Record] = [EnergyRecord(t=t, nf="ru", joules_total=v) for t, v in samples]
    for t, _ in samples:
        for app, rate in flows:
            recs.append(
                TrafficRecord(
                    t=t,
                    nf="ru",
                    app=app,
                    direction="uplink",
                    packets_total=rate * t,
                    bytes_total=rate * t * 100,
                )
            )
    # at least one window, even for a run shorter than W (its end is held, then stale)
    starts = list(windows_between(0.0, max(samples[-1][0], W), W))
    spec = NfSpec("ru", "ru", idle_policy="fixed", idle_watts=3.0)
    snaps = run(topo(spec), recs, starts)
    # reset-adjusted counter F at window edges, computed independently of the engine
    adjusted, prev, cum = [], None, 0.0
    for t, v in samples:
        cum += 0.0 if prev is None else (v - prev if v >= prev else v)
        adjusted.append((t, cum))
        prev = v
    fresh = [s for s in snaps if not s.nfs[0].stale]
    measured = sum(s.nfs[0].measured_joules for s in snaps)
    attributed = float(sum(s.rows.static_joules.sum() + s.rows.dynamic_joules.sum() for s in snaps))
    unattributed = sum(s.nfs[0].unattributed_joules for s in snaps)
    assert measured == pytest.approx(attributed + unattributed, rel=1e-9, abs=1e-6)
    assert all(s.nfs[0].conservation_error_ratio <= 1e-9 for s in snaps)
    stale = sum(1 for s in snaps if s.nfs[0].stale)
    assert len(snaps) == len(starts) >= 1
    assert snaps[-1].totals.nfs[0].unmeasured_seconds == stale * W
    if fresh:
        first, last = fresh[0].window_start, fresh[-1].window_end

        def f(x: float) -> float:
            for (t0, c0), (t1, c1) in itertools.pairwise(adjusted):
                if t0 <= x <= t1:
                    return c0 + (c1 - c0) * (x - t0) / (t1 - t0) if t1 - t0 <= 45.0 else c0
            return adjusted[-1][1]

        assert measured == pytest.approx(f(last) - f(first), rel=1e-9, abs=1e-6)
    for s in snaps:
        for w in s.nfs:
            assert min(w.measured_joules, w.static_joules, w.dynamic_joules, w.catch_up_joules) >= 0


def test_idle_source_with_stale_idle_counter_is_all_dynamic() -> None:
    recs: list[Record] = [EnergyRecord(t=t, nf="du", joules_total=4.0 * t) for t in range(0, 61, 5)]
    recs += [_traffic(t, "a", t) for t in range(0, 61, 5)]
    recs += [EnergyRecord(t=t, nf="du", joules_total=1.0 * t, mode="idle") for t in (0, 5, 10)]
    snaps = run(topo(NfSpec("du", "du", idle_policy="source")), recs, [0.0, 45.0])
    assert snaps[0].nfs[0].static_joules == pytest.approx(10.0)  # 1 W until 10 s, then held
    last = snaps[1].nfs[0]  # the idle counter is stale in [45, 60): no static part
    assert not last.stale and last.static_joules == 0.0
    assert last.dynamic_joules == pytest.approx(60.0)


def test_app_level_requests_win_over_nf_level_for_the_app_count() -> None:
    recs: list[Record] = [
        RequestsRecord(t=0, app="a", requests_total=0, nf="vlm"),
        RequestsRecord(t=15, app="a", requests_total=3, nf="vlm"),
        RequestsRecord(t=0, app="a", requests_total=0),
        RequestsRecord(t=15, app="a", requests_total=5),
    ]
    (snap,) = run(topo(NfSpec("vlm", "inference")), recs, [0.0])
    assert dict(snap.requests) == {"a": 5.0}


def test_gpu_energy_adds_to_the_nf_and_catches_up() -> None:
    """Kepler's GPU counter (mode gpu) adds to the CPU counter: 2 W + 6 W = 120 J per window;
    a silent GPU counter adds nothing and its gap is caught up when it returns."""
    recs: list[Record] = [
        EnergyRecord(t=t, nf="vlm", joules_total=2.0 * t) for t in range(0, 121, 5)
    ]
    gpu_times = [t for t in range(0, 121, 5) if not 20 < t < 75]
    recs += [EnergyRecord(t=t, nf="vlm", joules_total=6.0 * t, mode="gpu") for t in gpu_times]
    snaps = run(topo(NfSpec("vlm", "inference")), recs, [0.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0])
    assert snaps[0].nfs[0].measured_joules == pytest.approx(120.0)
    assert sum(s.nfs[0].measured_joules for s in snaps) == pytest.approx(8.0 * 105)
    assert sum(s.nfs[0].catch_up_joules for s in snaps) > 0


def test_missing_intensity_later_does_not_erase_earlier_co2() -> None:
    zones = {"z": ZoneSpec("z", max_age_seconds=20.0)}
    recs: list[Record] = [
        EnergyRecord(t=t, nf="du", joules_total=1.0e5 * t) for t in range(0, 61, 5)
    ]
    recs += [_traffic(t, "a", t) for t in range(0, 61, 5)]
    recs.append(IntensityRecord(t=0, zone="z", grams_per_kwh=360.0))
    snaps = run(topo(NfSpec("du", "du", zone="z"), zones=zones), recs, [0.0, 15.0, 30.0])
    first = 1.5e6 / 3.6e6 * 360.0
    assert float(snaps[0].totals.apps.co2_grams.sum()) == pytest.approx(first)
    # [15, 30) is covered until 20 s only: mean over the covered part; [30, 45) has none
    assert math.isnan(float(snaps[2].rows.co2_grams[0]))
    assert float(snaps[2].totals.apps.co2_grams.sum()) == pytest.approx(2 * first)
    assert snaps[2].totals.co2_missing_joules == {"z": pytest.approx(1.5e6)}


def test_traffic_total_counts_only_where_it_has_samples() -> None:
    """A traffic-total source that starts at 30 s: the earlier windows are tagged_only."""
    recs: list[Record] = [EnergyRecord(t=t, nf="du", joules_total=2.0 * t) for t in range(0, 61, 5)]
    recs += [_traffic(t, "a", t) for t in range(0, 61, 5)]
    recs += [
        TrafficTotalRecord(t=t, nf="du", packets_total=2 * t, bytes_total=200 * t)
        for t in range(30, 61, 5)
    ]
    snaps = run(topo(NfSpec("du", "du")), recs, [0.0, 15.0, 30.0, 45.0])
    assert [s.nfs[0].denominator for s in snaps] == ["tagged_only", "tagged_only", "all", "all"]
    assert snaps[0].nfs[0].untagged_clamps == 0
    assert snaps[3].nfs[0].untagged_joules == pytest.approx(15.0)


def test_live_mapper_drops_and_counts_non_finite_or_negative_samples() -> None:
    """A source exposing NaN or a negative value must not poison the NF's counter (NaN energy
    in every later window) nor make the --record file unreplayable."""
    import json

    from collector.attribution.mapping import InputMapper
    from collector.attribution.records import record_from_dict, record_to_json
    from collector.attribution.topology import topology_from_settings
    from collector.models import EnergySample, RequestSample
    from collector.settings import load_settings
    from tests.conftest import ROOT

    settings = load_settings(ROOT / "tests" / "data" / "attribution" / "config.yaml")
    mapper = InputMapper(settings, topology_from_settings(settings))

    def energy(t: float, value: float) -> EnergySample:
        return EnergySample(source="pdu", target="1", t=t, kind="counter", value=value)

    bad = [energy(5.0, math.nan), energy(6.0, math.inf), energy(7.0, -1.0)]
    bad_req = RequestSample(source="requests", app="chat", t=5.0, requests_total=math.nan)
    good = mapper.all(energy=[energy(0.0, 10.0), energy(15.0, 40.0)])
    assert len(good) == 2 and mapper.bad_values == 0
    assert mapper.all(energy=bad, requests=[bad_req]) == []
    assert mapper.bad_values == 4
    for rec in good:
        assert record_from_dict(json.loads(record_to_json(rec))) == rec


def test_configuring_one_role_keeps_the_inference_default_of_requests() -> None:
    """DESIGN.md section 4: defaults static=packets, dynamic=bytes; inference both requests.
    Setting `shares` for the DU alone must not turn the inference server to packets/bytes."""
    from collector.attribution.topology import topology_from_settings
    from collector.settings import parse_settings

    nfs = [{"name": "du1", "role": "du"}, {"name": "vlm", "role": "inference"}]
    nfs.append({"name": "ru1", "role": "ru"})
    topo = topology_from_settings(
        parse_settings({"nfs": nfs, "shares": {"du": {"static": "equal", "dynamic": "equal"}}})
    )
    keys = {n.name: (n.static_key, n.dynamic_key) for n in topo.nfs}
    assert keys == {
        "du1": ("equal", "equal"),
        "vlm": ("requests", "requests"),
        "ru1": ("packets", "bytes"),
    }
    topo = topology_from_settings(
        parse_settings({"nfs": nfs, "shares": {"default": {"static": "equal", "dynamic": "bytes"}}})
    )
    assert {n.name: n.static_key for n in topo.nfs} == {
        "du1": "equal",
        "vlm": "equal",
        "ru1": "equal",
    }
