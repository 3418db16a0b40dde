"""The break-even condition, computed here from the raw inputs, predicts the solver's choice."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from collector.placement.metrics import break_even
from collector.placement.model import build_problem
from collector.placement.solve import solve
from tests.placement.helpers import config, region


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(a))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_break_even_predicts_relocation_in_two_region_cases(data: st.DataObject) -> None:
    d = data.draw
    coord = st.tuples(st.floats(-60, 60), st.floats(-170, 170))
    (la, loa), (lb, lob), (lo, loo) = d(coord), d(coord), d(coord)
    raw = {
        "A": {
            "price": d(st.floats(0.01, 0.5)),
            "pue": d(st.floats(1.0, 2.0)),
            "g": d(st.floats(0, 1000)),
        },
        "B": {
            "price": d(st.floats(0.01, 0.5)),
            "pue": d(st.floats(1.0, 2.0)),
            "g": d(st.floats(0, 1000)),
        },
    }
    e, payload = d(st.floats(1, 5000)), d(st.floats(0, 1e7))
    egress, migration, tau = d(st.floats(0, 0.1)), d(st.floats(0, 1e-4)), d(st.floats(0, 1e-7))
    lam = d(st.floats(0, 500))
    cfg = config(
        classes=[
            {
                "name": "c",
                "latency_budget_ms": 10_000,
                "energy_per_request_joules": e,
                "payload_bytes": payload,
                "demand": {"o": 1.0},
            }
        ],
        origins=[{"name": "o", "lat": lo, "lon": loo, "home": "A"}],
        regions=[
            region(
                "A",
                la,
                loa,
                price_per_kwh=raw["A"]["price"],
                pue=raw["A"]["pue"],
                grams_per_kwh_marginal=raw["A"]["g"],
            ),
            region(
                "B",
                lb,
                lob,
                price_per_kwh=raw["B"]["price"],
                pue=raw["B"]["pue"],
                grams_per_kwh_marginal=raw["B"]["g"],
            ),
        ],
        frictions={
            "egress_per_gb": egress,
            "migration_per_request": migration,
            "transport_joules_per_byte_km": tau,
        },
        objective={"kind": "blend", "carbon_price_per_tonne": lam, "signal": "marginal"},
    )
    # independent arithmetic: savings at the meter vs frictions + extra transport
    usd_per_gram = lam / 1e6

    def meter(r: str) -> float:
        kwh = e * raw[r]["pue"] / 3.6e6
        return kwh * (raw[r]["price"] + usd_per_gram * raw[r]["g"])

    def transport(r: str, km: float) -> float:
        grams = payload * tau * km / 3.6e6 * (raw["A"]["g"] + raw[r]["g"]) / 2
        return usd_per_gram * grams

    km_a, km_b = haversine_km(lo, loo, la, loa), haversine_km(lo, loo, lb, lob)
    savings = meter("A") - meter("B")
    frictions = egress * payload / 1e9 + migration
    extra = transport("B", km_b) - transport("A", km_a)
    margin = savings - (frictions + extra)
    assume(abs(margin) > 1e-9 * max(abs(savings), frictions, abs(extra), 1e-12))

    problem = build_problem(cfg)
    sol = solve(problem)
    moved = sol.flow[0, 0, 1] > 0.5
    assert moved == (margin > 0)
    be = break_even(problem, 0, 0, 1)
    assert be.relocate == (margin > 0)
    assert np.isclose(be.meter_savings, savings * 1e6, rtol=1e-9, atol=1e-12)
    assert np.isclose(be.egress_and_migration, frictions * 1e6, rtol=1e-9, atol=1e-12)
    assert np.isclose(be.extra_transport, extra * 1e6, rtol=1e-6, atol=1e-9)


def test_break_even_payload_is_where_the_margin_crosses_zero() -> None:
    """At the reported break-even payload, relocation neither gains nor loses."""
    regions = [
        region("A", 50, 8, price_per_kwh=0.3, pue=1.6),
        region("B", 60, 18, price_per_kwh=0.05, pue=1.1),
    ]
    base = {
        "name": "c",
        "latency_budget_ms": 10_000,
        "energy_per_request_joules": 3000,
        "demand": {"o": 1},
    }
    frictions = {
        "egress_per_gb": 0.09,
        "migration_per_request": 1e-5,
        "transport_joules_per_byte_km": 1.35e-8,
    }
    origins = [{"name": "o", "lat": 50, "lon": 8, "home": "A"}]
    cfg = config(
        classes=[{**base, "payload_bytes": 1e6}],
        origins=origins,
        regions=regions,
        frictions=frictions,
    )
    be = break_even(build_problem(cfg), 0, 0, 1)
    assert be.relocate and be.break_even_payload_bytes is not None
    at = config(
        classes=[{**base, "payload_bytes": be.break_even_payload_bytes}],
        origins=origins,
        regions=regions,
        frictions=frictions,
    )
    assert abs(break_even(build_problem(at), 0, 0, 1).margin) < 1e-9


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_energy_break_even_is_pue_savings_against_extra_transport(data: st.DataObject) -> None:
    """Objective `energy`: relocate iff E × (PUE_home − PUE_target) > bytes × τ × Δkm."""
    d = data.draw
    coord = st.tuples(st.floats(-60, 60), st.floats(-170, 170))
    (la, loa), (lb, lob), (lo, loo) = d(coord), d(coord), d(coord)
    pue_a, pue_b = d(st.floats(1.0, 2.0)), d(st.floats(1.0, 2.0))
    e, payload, tau = d(st.floats(1, 5000)), d(st.floats(0, 1e7)), d(st.floats(0, 1e-7))
    cfg = config(
        classes=[
            {
                "name": "c",
                "latency_budget_ms": 10_000,
                "energy_per_request_joules": e,
                "payload_bytes": payload,
                "demand": {"o": 1.0},
            }
        ],
        origins=[{"name": "o", "lat": lo, "lon": loo, "home": "A"}],
        regions=[region("A", la, loa, pue=pue_a), region("B", lb, lob, pue=pue_b)],
        frictions={
            "egress_per_gb": 0.05,
            "migration_per_request": 1e-5,
            "transport_joules_per_byte_km": tau,
        },
        objective={"kind": "energy"},
    )
    saved = e * (pue_a - pue_b)
    extra = payload * tau * (haversine_km(lo, loo, lb, lob) - haversine_km(lo, loo, la, loa))
    margin = saved - extra
    assume(abs(margin) > 1e-9 * max(abs(saved), abs(extra), 1e-12))
    problem = build_problem(cfg)
    assert (solve(problem).flow[0, 0, 1] > 0.5) == (margin > 0)
    be = break_even(problem, 0, 0, 1)
    assert be.relocate == (margin > 0)
    assert np.isclose(be.extra_transport_joules_per_request, extra, rtol=1e-6, atol=1e-9)
