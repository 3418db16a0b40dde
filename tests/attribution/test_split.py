"""The split of one window: worked examples with hand-computed numbers, and property tests
against the pure-Python reference (tests/attribution/reference.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.attribution.inputs import NfInput, WindowInputs
from collector.attribution.split import WindowSplit, split_window
from collector.attribution.topology import NfSpec
from tests.attribution.reference import reference_split
from tests.attribution.window_arrays import requests, traffic


def app_joules(s: WindowSplit, app: str, direction: int | None = None) -> float:
    mask = s.entry_app == app
    if direction is not None:
        mask &= s.entry_dir == direction
    return float((s.static_joules[mask] + s.dynamic_joules[mask]).sum())


def test_static_by_packets_dynamic_by_bytes() -> None:
    """RU: 60 J in a 15 s window, idle fixed 2 W -> S = 30 J, D = 30 J. Ingress total 10 packets
    / 1000 B; a: 4 pkt 300 B up + 2 pkt 200 B down, b: 2 pkt 100 B up. Untagged: 2 pkt, 400 B.
    a static = 30 x 6/10 = 18, dynamic = 30 x 500/1000 = 15 -> 33 J, split by bytes 3:2 up:down;
    b = 30 x 2/10 + 30 x 100/1000 = 9 J; untagged = 30 x 2/10 + 30 x 400/1000 = 18 J."""
    ru = NfSpec("ru1", "ru", idle_policy="fixed", idle_watts=2.0)
    nf = NfInput(ru, 60.0, idle_joules=30.0, total_packets=10, total_bytes=1000, intensity=400)
    rows = [(0, "a", 0, 4, 300), (0, "a", 1, 2, 200), (0, "b", 0, 2, 100)]
    s = split_window(WindowInputs(0.0, 15.0, (nf,), **traffic(rows)))
    assert app_joules(s, "a") == pytest.approx(33.0)
    assert app_joules(s, "a", 0) == pytest.approx(33.0 * 0.6)
    assert app_joules(s, "a", 1) == pytest.approx(33.0 * 0.4)
    assert app_joules(s, "b") == pytest.approx(9.0)
    assert s.untagged_joules[0] == pytest.approx(18.0)
    assert s.idle_no_traffic_joules[0] == 0.0
    assert s.conservation_error_ratio[0] <= 1e-12
    a_co2 = float(s.co2_grams[s.entry_app == "a"].sum())
    assert a_co2 == pytest.approx(33.0 / 3.6e6 * 400)
    assert not s.tagged_only[0]


def test_requests_key() -> None:
    """Inference: 90 J, no idle -> D = 90 J by requests a:b = 2:1 -> 60 J and 30 J, uplink."""
    spec = NfSpec("vlm", "inference", static_key="requests", dynamic_key="requests")
    nf = NfInput(spec, 90.0, has_requests_source=True, intensity=250)
    s = split_window(WindowInputs(0.0, 15.0, (nf,), **requests([(0, "a", 2), (0, "b", 1)])))
    assert app_joules(s, "a", 0) == pytest.approx(60.0)
    assert app_joules(s, "b", 0) == pytest.approx(30.0)
    assert (s.entry_dir == 0).all()


def test_requests_fall_back_to_app_level_source() -> None:
    spec = NfSpec("vlm", "inference", static_key="requests", dynamic_key="requests")
    nf = NfInput(spec, 90.0, has_requests_source=False)
    s = split_window(WindowInputs(0.0, 15.0, (nf,), **requests([(-1, "a", 1), (-1, "b", 2)])))
    assert app_joules(s, "a") == pytest.approx(30.0)
    assert app_joules(s, "b") == pytest.approx(60.0)


def test_equal_counts_untagged_as_one_more_party() -> None:
    """DU, equal/equal: 40 J with idle 15 J; a and b have traffic, untagged > 0 -> 3 parties."""
    du = NfSpec("du1", "du", static_key="equal", dynamic_key="equal")
    nf = NfInput(du, 40.0, idle_joules=15.0, total_packets=10, total_bytes=1000)
    rows = [(0, "a", 0, 1, 100), (0, "b", 1, 8, 800)]
    s = split_window(WindowInputs(0.0, 15.0, (nf,), **traffic(rows)))
    assert app_joules(s, "a") == pytest.approx(40.0 / 3)
    assert app_joules(s, "b") == pytest.approx(40.0 / 3)
    assert s.untagged_joules[0] == pytest.approx(40.0 / 3)


def test_tagged_only_without_traffic_total() -> None:
    """No traffic-total source: u = 0, shares over tagged traffic only, flagged tagged_only."""
    cu = NfSpec("cu1", "cu")
    nf = NfInput(cu, 30.0)
    rows = [(0, "a", 0, 1, 100), (0, "b", 0, 3, 300)]
    s = split_window(WindowInputs(0.0, 15.0, (nf,), **traffic(rows)))
    assert app_joules(s, "a") == pytest.approx(7.5)
    assert app_joules(s, "b") == pytest.approx(22.5)
    assert s.untagged_joules[0] == 0.0
    assert s.tagged_only[0]


def test_idle_above_measured_caps_static() -> None:
    """Idle 10 W x 15 s = 150 J > E = 60 J: S = 60 J, D = 0; packets a:b:u = 1:1:2."""
    upf = NfSpec("upf1", "upf", idle_policy="fixed", idle_watts=10.0)
    nf = NfInput(upf, 60.0, idle_joules=150.0, total_packets=4, total_bytes=400)
    rows = [(0, "a", 0, 1, 100), (0, "b", 0, 1, 100)]
    s = split_window(WindowInputs(0.0, 15.0, (nf,), **traffic(rows)))
    assert s.static_nf_joules[0] == 60.0 and s.dynamic_nf_joules[0] == 0.0
    assert app_joules(s, "a") == pytest.approx(15.0)
    assert s.untagged_joules[0] == pytest.approx(30.0)


def test_no_traffic_is_idle_no_traffic_and_catch_up_is_unattributed() -> None:
    nf = NfInput(NfSpec("ru1", "ru"), 60.0, catch_up_joules=500.0, total_packets=0, total_bytes=0)
    s = split_window(WindowInputs(0.0, 15.0, (nf,)))
    assert s.idle_no_traffic_joules[0] == 60.0
    assert s.catch_up_joules[0] == 500.0 and s.measured_joules[0] == 560.0
    assert s.attributed_joules[0] == 0.0 and s.conservation_error_ratio[0] == 0.0


def test_stale_nf_is_not_split_and_missing_intensity_is_not_zero() -> None:
    a = NfInput(NfSpec("ru1", "ru"), None)
    b = NfInput(NfSpec("du1", "du"), 15.0, intensity=None)
    rows = [(0, "a", 0, 1, 100), (1, "a", 0, 1, 100)]
    s = split_window(WindowInputs(0.0, 15.0, (a, b), **traffic(rows)))
    assert s.stale.tolist() == [True, False]
    assert (s.entry_nf == 1).all()
    assert math.isnan(float(s.co2_grams[0]))
    assert s.co2_missing_joules.tolist() == [0.0, 15.0]


def test_cross_traffic_above_total_is_clamped_and_counted() -> None:
    nf = NfInput(NfSpec("ru1", "ru"), 10.0, total_packets=1, total_bytes=50)
    s = split_window(WindowInputs(0.0, 15.0, (nf,), **traffic([(0, "a", 0, 2, 200)])))
    assert s.clamps[0] == 2 and s.untagged_joules[0] == 0.0
    assert app_joules(s, "a") == pytest.approx(10.0)


# --- properties --------------------------------------------------------------------------

KEYS = st.sampled_from(["packets", "bytes", "requests", "equal"])
AMOUNT = st.floats(0, 1e6, allow_nan=False) | st.just(0.0)
ENERGY = st.floats(0, 1e7, allow_nan=False)


@st.composite
def window_inputs(draw: st.DrawFn) -> WindowInputs:
    n_nf = draw(st.integers(1, 4))
    nfs = []
    for i in range(n_nf):
        spec = NfSpec(
            f"nf{i}",
            "du",
            static_key=draw(KEYS),
            dynamic_key=draw(KEYS),
            embodied_grams_per_hour=draw(st.floats(0, 100)),
        )
        has_total = draw(st.booleans())
        nfs.append(
            NfInput(
                spec,
                draw(st.none() | ENERGY),
                catch_up_joules=draw(st.just(0.0) | ENERGY),
                idle_joules=draw(ENERGY),
                total_packets=draw(AMOUNT) if has_total else None,
                total_bytes=draw(AMOUNT) if has_total else None,
                has_requests_source=draw(st.booleans()),
                intensity=draw(st.none() | st.floats(0, 1000)),
            )
        )
    apps = st.sampled_from(["a", "b", "c", "unknown"])
    rows = draw(
        st.lists(
            st.tuples(st.integers(0, n_nf - 1), apps, st.integers(0, 1), AMOUNT, AMOUNT),
            max_size=12,
        )
    )
    reqs = draw(st.lists(st.tuples(st.integers(-1, n_nf - 1), apps, AMOUNT), max_size=6))
    return WindowInputs(0.0, 15.0, tuple(nfs), **traffic(rows), **requests(reqs))


@settings(max_examples=150, deadline=None)
@given(window_inputs())
def test_split_matches_reference_and_conserves(inp: WindowInputs) -> None:
    s = split_window(inp)
    ref = reference_split(inp)
    for i, nf in enumerate(ref["nfs"]):
        measured = s.measured_joules[i]
        unattributed = s.untagged_joules[i] + s.idle_no_traffic_joules[i] + s.catch_up_joules[i]
        assert abs(s.attributed_joules[i] + unattributed - measured) <= 1e-9 * max(measured, 1)
        assert s.conservation_error_ratio[i] <= 1e-9
        assert s.attributed_joules[i] == pytest.approx(nf["attributed"], rel=1e-9, abs=1e-6)
        assert s.untagged_joules[i] == pytest.approx(nf["untagged"], rel=1e-9, abs=1e-6)
        assert s.idle_no_traffic_joules[i] == pytest.approx(
            nf["idle_no_traffic"], rel=1e-9, abs=1e-6
        )
        assert s.static_nf_joules[i] <= s.measured_joules[i] - s.catch_up_joules[i] + 1e-9
    for arr in (
        s.static_joules,
        s.dynamic_joules,
        s.untagged_joules,
        s.idle_no_traffic_joules,
        s.embodied_grams,
        s.dynamic_nf_joules,
        s.static_nf_joules,
    ):
        assert (arr >= 0).all()
    got = {
        (int(n), str(a), int(d)): (st_, dy)
        for n, a, d, st_, dy in zip(
            s.entry_nf, s.entry_app, s.entry_dir, s.static_joules, s.dynamic_joules, strict=True
        )
    }
    assert set(got) == set(ref["entries"])
    for key, (st_, dy) in got.items():
        r = ref["entries"][key]
        assert st_ == pytest.approx(r["static"], rel=1e-9, abs=1e-6)
        assert dy == pytest.approx(r["dynamic"], rel=1e-9, abs=1e-6)
        n = key[0]
        assert st_ <= s.static_nf_joules[n] * (1 + 1e-9) + 1e-9  # share <= 1
        assert dy <= s.dynamic_nf_joules[n] * (1 + 1e-9) + 1e-9


def test_embodied_share_is_kept_in_a_window_with_no_energy() -> None:
    """M is shared like static energy whatever the window's energy: a held counter (0 J) must
    not drop the apps' rows and with them their share of M (3.6 g/h x 15 s = 0.015 g)."""
    spec = NfSpec("ru1", "ru", embodied_grams_per_hour=3.6)
    nf = NfInput(spec, 0.0, intensity=400)
    s = split_window(WindowInputs(0.0, 15.0, (nf,), **traffic([(0, "a", 0, 3, 300)])))
    assert s.embodied_nf_grams[0] == pytest.approx(0.015)
    assert float(s.embodied_grams[s.entry_app == "a"].sum()) == pytest.approx(0.015)
    assert app_joules(s, "a") == 0.0


# --- edges the properties above do not pin down (found by mutation testing) ----------------


def test_a_window_without_nfs_is_empty_and_well_typed() -> None:
    s = split_window(WindowInputs(0.0, 15.0, ()))
    assert len(s.measured_joules) == 0 and len(s.entry_app) == 0
    assert s.stale.dtype == np.bool_ and s.tagged_only.dtype == np.bool_
    assert s.clamps.dtype == np.int64 and s.entry_nf.dtype == np.int64
    assert s.entry_dir.dtype == np.int64 and s.entry_app.dtype == object


def test_a_stale_nf_has_no_catch_up_even_when_given_one() -> None:
    """Catch-up belongs to the first fresh window; a stale NF's window measures nothing."""
    spec = NfSpec("ru1", "ru", embodied_grams_per_hour=3.6)
    stale = NfInput(spec, None, catch_up_joules=5.0, idle_joules=3.0, total_packets=4)
    fresh = NfInput(NfSpec("du1", "du"), 10.0, catch_up_joules=5.0, intensity=100.0)
    s = split_window(WindowInputs(0.0, 15.0, (stale, fresh), **traffic([(0, "a", 0, 1, 10)])))
    assert s.catch_up_joules.tolist() == [0.0, 5.0]
    assert s.measured_joules.tolist() == [0.0, 15.0]
    assert s.conservation_error_ratio.tolist() == [0.0, 0.0]
    for arr in (s.static_nf_joules, s.dynamic_nf_joules, s.untagged_joules, s.embodied_nf_grams):
        assert arr[0] == 0.0
    assert s.idle_no_traffic_joules.tolist() == [0.0, 10.0]
    assert s.co2_missing_joules.tolist() == [0.0, 0.0]  # fresh with an intensity: nothing missing


def test_clamps_count_only_a_total_below_the_tagged_amount() -> None:
    """Tagged 2 pkt / 200 B. Total exactly 2 / 200: no clamp; 1 / 200: one (packets); no total
    at all: tagged only, nothing to clamp."""
    rows = traffic([(0, "a", 0, 2, 200)])
    exact = NfInput(NfSpec("ru1", "ru"), 10.0, total_packets=2, total_bytes=200)
    short = NfInput(NfSpec("ru1", "ru"), 10.0, total_packets=1, total_bytes=200)
    short_bytes = NfInput(NfSpec("ru1", "ru"), 10.0, total_packets=2, total_bytes=150)
    none = NfInput(NfSpec("ru1", "ru"), 10.0)
    got = [
        split_window(WindowInputs(0.0, 15.0, (nf,), **rows)).clamps[0]
        for nf in (exact, short, short_bytes, none)
    ]
    assert got == [0, 1, 1, 0]
    s = split_window(WindowInputs(0.0, 15.0, (exact,), **rows))
    assert s.untagged_joules[0] == 0.0 and app_joules(s, "a") == pytest.approx(10.0)


def test_equal_key_counts_an_app_with_any_packets_bytes_or_requests() -> None:
    """equal/equal, 30 J, no total: a has 1 packet and no bytes, b 0.5 packets, c only requests
    (as an app-level request count), d nothing: a, b and c get 10 J each."""
    spec = NfSpec("du1", "du", static_key="equal", dynamic_key="equal")
    nf = NfInput(spec, 30.0, idle_joules=12.0)
    rows = traffic([(0, "a", 0, 1, 0), (0, "b", 1, 0.5, 0), (0, "d", 0, 0, 0)])
    s = split_window(WindowInputs(0.0, 15.0, (nf,), **rows, **requests([(-1, "c", 2)])))
    assert {a: app_joules(s, a) for a in "abcd"} == pytest.approx(
        {"a": 10.0, "b": 10.0, "c": 10.0, "d": 0.0}
    )


def test_direction_falls_back_to_packets_when_a_byte_key_has_no_bytes() -> None:
    """40 J, all static (idle 40 J) by packets; the dynamic key is bytes, but the app's bytes
    are all 0: its packets (1 up, 3 down) give the direction split, 1:3."""
    spec = NfSpec("du1", "du", static_key="packets", dynamic_key="bytes")
    nf = NfInput(spec, 40.0, idle_joules=40.0)
    rows = traffic([(0, "a", 0, 1, 0), (0, "a", 1, 3, 0)])
    s = split_window(WindowInputs(0.0, 15.0, (nf,), **rows))
    assert app_joules(s, "a", 0) == pytest.approx(10.0)
    assert app_joules(s, "a", 1) == pytest.approx(30.0)


def test_untagged_is_a_party_under_equal_with_either_amount_untagged() -> None:
    """equal/equal, 20 J, a tagged 1 pkt / 100 B. Total 2 pkt / 100 B: one untagged packet and no
    untagged byte; total 1 pkt / 101 B: one untagged byte. Either way untagged is a second
    party: a gets 10 J, untagged 10 J. Total 1 pkt / 100 B: a alone."""
    spec = NfSpec("du1", "du", static_key="equal", dynamic_key="equal")
    rows = traffic([(0, "a", 0, 1, 100)])
    for total, a_joules in (((2, 100), 10.0), ((1, 101), 10.0), ((1, 100), 20.0)):
        nf = NfInput(spec, 20.0, idle_joules=5.0, total_packets=total[0], total_bytes=total[1])
        s = split_window(WindowInputs(0.0, 15.0, (nf,), **rows))
        assert app_joules(s, "a") == pytest.approx(a_joules), total
        assert s.untagged_joules[0] == pytest.approx(20.0 - a_joules), total


@pytest.mark.parametrize("key", ["packets", "bytes", "equal"])
def test_tagged_only_when_a_traffic_key_has_no_total(key: str) -> None:
    """Without a traffic-total source an NF is tagged_only when either key counts traffic;
    requests need no total."""
    flags = [
        split_window(
            WindowInputs(0.0, 15.0, (NfInput(NfSpec("x", "du", **keys), 1.0),))
        ).tagged_only[0]
        for keys in (
            {"static_key": key, "dynamic_key": "requests"},
            {"static_key": "requests", "dynamic_key": key},
            {"static_key": "requests", "dynamic_key": "requests"},
        )
    ]
    assert flags == [True, True, False]


def test_traffic_rows_are_the_tagged_amounts_of_apps_with_traffic() -> None:
    """a: 3 packets and no bytes; b: bytes only; c: requests only (no traffic row)."""
    nf = NfInput(NfSpec("du1", "du", dynamic_key="requests"), 10.0, has_requests_source=True)
    rows = traffic([(0, "a", 0, 3, 0), (0, "b", 1, 0, 250)])
    s = split_window(WindowInputs(0.0, 15.0, (nf,), **rows, **requests([(0, "c", 4)])))
    got = {
        str(a): (float(p), float(b))
        for a, p, b in zip(s.traffic_app, s.traffic_packets, s.traffic_bytes, strict=True)
    }
    assert got == {"a": (3.0, 0.0), "b": (0.0, 250.0)}
    assert s.traffic_nf.tolist() == [0, 0]


def test_small_energies_market_co2_and_embodied_split_by_direction() -> None:
    """0.8 J by bytes, a 100 B up and 300 B down: 0.2 J up, 0.6 J down (rows below 1 J are
    kept). Market 100 g/kWh; embodied 7.2 g/h x 15 s = 0.03 g, all a's, split over directions
    like the energy, by the dynamic key (bytes 1:3): 0.0075 g up, 0.0225 g down."""
    spec = NfSpec("du1", "du", embodied_grams_per_hour=7.2)
    nf = NfInput(spec, 0.8, intensity=400.0, market_intensity=100.0)
    s = split_window(
        WindowInputs(0.0, 15.0, (nf,), **traffic([(0, "a", 0, 1, 100), (0, "a", 1, 1, 300)]))
    )
    assert s.entry_dir.tolist() == [0, 1]
    joules = s.static_joules + s.dynamic_joules
    assert joules.tolist() == pytest.approx([0.2, 0.6])
    assert s.co2_grams.tolist() == pytest.approx([0.2 / 3.6e6 * 400, 0.6 / 3.6e6 * 400])
    assert s.co2_market_grams.tolist() == pytest.approx([0.2 / 3.6e6 * 100, 0.6 / 3.6e6 * 100])
    assert s.embodied_grams.tolist() == pytest.approx([0.0075, 0.0225])


def test_traffic_rows_keep_a_single_packet_or_a_single_byte() -> None:
    """a: 1 packet and no bytes; b: no packets and 1 byte (amounts at or below 1 are traffic
    too); c: nothing, so no row."""
    nf = NfInput(NfSpec("du1", "du"), 10.0)
    rows = traffic([(0, "a", 0, 1, 0), (0, "b", 1, 0, 1), (0, "c", 0, 0, 0)])
    s = split_window(WindowInputs(0.0, 15.0, (nf,), **rows))
    got = {
        str(a): (float(p), float(b))
        for a, p, b in zip(s.traffic_app, s.traffic_packets, s.traffic_bytes, strict=True)
    }
    assert got == {"a": (1.0, 0.0), "b": (0.0, 1.0)}


def test_rows_below_one_joule_without_embodied_emissions_are_kept() -> None:
    """0.8 J by bytes (no embodied emissions), a 100 B up and 300 B down: rows of 0.2 J up and
    0.6 J down, both published."""
    nf = NfInput(NfSpec("du1", "du"), 0.8, intensity=400.0)
    s = split_window(
        WindowInputs(0.0, 15.0, (nf,), **traffic([(0, "a", 0, 1, 100), (0, "a", 1, 1, 300)]))
    )
    assert s.entry_dir.tolist() == [0, 1]
    assert (s.static_joules + s.dynamic_joules).tolist() == pytest.approx([0.2, 0.6])
    assert s.embodied_grams.tolist() == [0.0, 0.0]
