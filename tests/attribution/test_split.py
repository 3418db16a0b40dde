"""The split of one window: worked examples with hand-computed numbers, and property tests
against the pure-Python reference (tests/attribution/reference.py)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.attribution.inputs import NfInput, WindowInputs
from collector.attribution.split import WindowSplit, split_window
from collector.attribution.topology import NfSpec
from tests.attribution.reference import reference_split


def traffic(rows: list[tuple[int, str, int, float, float]]) -> dict[str, Any]:
    return {
        "traffic_nf": np.array([r[0] for r in rows], dtype=np.int64),
        "traffic_app": np.array([r[1] for r in rows], dtype=object),
        "traffic_dir": np.array([r[2] for r in rows], dtype=np.int64),
        "traffic_packets": np.array([r[3] for r in rows], dtype=float),
        "traffic_bytes": np.array([r[4] for r in rows], dtype=float),
    }


def requests(rows: list[tuple[int, str, float]]) -> dict[str, Any]:
    return {
        "req_nf": np.array([r[0] for r in rows], dtype=np.int64),
        "req_app": np.array([r[1] for r in rows], dtype=object),
        "req_count": np.array([r[2] for r in rows], dtype=float),
    }


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
