"""The advisor's metrics (DESIGN.md section 6) on a three-region line along the equator, every
figure worked out here from the inputs: layer split and per-request figures of a given flow,
relocatable share, break-even per objective kind, and the frontier with its ERL and CRL."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from collector.placement.inputs import PlacementConfig
from collector.placement.metrics import (
    break_even,
    break_even_table,
    class_frontiers,
    class_summaries,
    frontier,
    relocatable_share,
)
from collector.placement.model import build_problem
from collector.placement.solve import Solution
from tests.placement.helpers import config, region

E = 3600.0  # J per request: 0.001 kWh at PUE 1
PAYLOAD = 1e6  # bytes per request
TAU = 1e-9  # J per byte and km: 1e-3 J per km per request
EGRESS, MIGRATION = 0.05, 1e-5  # per GB, per request: 6e-5 per relocated request
KM = {"home": 0.0, "near": 6371.0 * math.pi / 180, "far": 6371.0 * math.pi / 180 * 60}
PRICE = {"home": 0.30, "near": 0.20, "far": 0.10}
PUE = {"home": 1.0, "near": 1.0, "far": 1.5}
AVG = {"home": 500.0, "near": 400.0, "far": 100.0}
MARG = {"home": 600.0, "near": 300.0, "far": 50.0}
RTT = {r: 2 * (km / 200 + 20) * 1.4 for r, km in KM.items()}  # 56, 57.56, 149.4 ms


def cfg(objective: dict[str, Any] | None = None, **cls: Any) -> PlacementConfig:
    regions = [
        region(r, 0.0, lon, price_per_kwh=PRICE[r], pue=PUE[r], grams_per_kwh_average=AVG[r],
               grams_per_kwh_marginal=MARG[r])
        for r, lon in (("home", 0.0), ("near", 1.0), ("far", 60.0))
    ]  # fmt: skip
    classes = [
        {
            "name": "c",
            "latency_budget_ms": 10_000.0,
            "energy_per_request_joules": E,
            "payload_bytes": PAYLOAD,
            "demand": {"o": 10.0},
            **cls,
        }
    ]
    return config(
        classes=classes,
        origins=[{"name": "o", "lat": 0.0, "lon": 0.0}],
        regions=regions,
        frictions={
            "egress_per_gb": EGRESS,
            "migration_per_request": MIGRATION,
            "transport_joules_per_byte_km": TAU,
        },
        objective=objective or {"kind": "cost"},
    )


def per_request(r: str, signal: str = "average") -> tuple[float, float, float]:
    """(cost, grams, joules) of one request served in r, from the inputs."""
    kwh = E * PUE[r] / 3.6e6
    transport_j = PAYLOAD * TAU * KM[r]
    i = AVG if signal == "average" else MARG
    cost = kwh * PRICE[r] + (0.0 if r == "home" else EGRESS * PAYLOAD / 1e9 + MIGRATION)
    grams = kwh * i[r] + transport_j / 3.6e6 * (i["home"] + i[r]) / 2
    return cost, grams, kwh * 3.6e6 + transport_j


def test_layer_split_and_figures_of_a_given_flow() -> None:
    """2, 3 and 5 requests/s at home, near (111 km: regional) and far (6672 km: energy-oriented)."""
    problem = build_problem(cfg(objective={"kind": "cost", "signal": "average"}))
    flow = np.array([[[2.0, 3.0, 5.0]]])
    (s,) = class_summaries(Solution(problem, flow, 0.0, 0.0, 3))
    assert (s.name, s.budget_ms, s.demand_rps) == ("c", 10_000.0, 10.0)
    assert (s.local_share, s.regional_share, s.energy_oriented_share) == pytest.approx(
        (0.2, 0.3, 0.5)
    )
    assert s.relocatable_share == 1.0
    fig = {r: per_request(r) for r in KM}
    weights = {"home": 2.0, "near": 3.0, "far": 5.0}
    cost = sum(w * fig[r][0] for r, w in weights.items()) / 10 * 1e6
    grams = sum(w * fig[r][1] for r, w in weights.items()) / 10 * 1000
    kwh = sum(w * fig[r][2] for r, w in weights.items()) / 10 / 3.6e6 * 1e6
    assert s.cost_per_million == pytest.approx(cost, rel=1e-12)
    assert s.grams_per_thousand == pytest.approx(grams, rel=1e-12)
    assert s.kwh_per_million == pytest.approx(kwh, rel=1e-12)
    assert cost == pytest.approx((2 * 3e-4 + 3 * 2.6e-4 + 5 * 2.1e-4) / 10 * 1e6)


def test_a_class_without_demand_has_zero_shares() -> None:
    problem = build_problem(cfg(demand={"o": 0.0}))
    (s,) = class_summaries(Solution(problem, np.zeros((1, 1, 3)), 0.0, 0.0, 3))
    assert (s.demand_rps, s.local_share, s.cost_per_million, s.relocatable_share) == (0, 0, 0, 0)


def test_relocatable_share_needs_a_feasible_non_home_region() -> None:
    """Budget 57 ms: only home (56 ms) fits; 58 ms: near too. A state-local class never moves."""
    assert RTT["home"] < 57.0 < RTT["near"] < 58.0
    assert relocatable_share(build_problem(cfg(latency_budget_ms=57.0))) == (0.0, {"c": 0.0})
    assert relocatable_share(build_problem(cfg(latency_budget_ms=58.0))) == (1.0, {"c": 1.0})
    assert relocatable_share(build_problem(cfg(state_local=True))) == (0.0, {"c": 0.0})
    two = cfg()
    two = two.model_copy(
        update={
            "classes": [
                two.classes[0],
                two.classes[0].model_copy(
                    update={"name": "s", "state_local": True, "demand": {"o": 30.0}}
                ),
            ]
        }
    )
    overall, per_class = relocatable_share(build_problem(two))
    assert overall == pytest.approx(10 / 40) and per_class == {"c": 1.0, "s": 0.0}


@pytest.mark.parametrize("signal", ["average", "marginal"])
@pytest.mark.parametrize("kind", ["cost", "blend", "energy", "carbon"])
def test_break_even_by_objective_kind(kind: str, signal: str) -> None:
    """Moving one request from home to far: savings at the meter, frictions (none for energy
    and carbon objectives), extra transport, margin and the break-even payload, all by hand."""
    lam = 1e-4  # 100 per tonne
    problem = build_problem(cfg(objective={"kind": kind, "signal": signal}))
    be = break_even(problem, 0, 0, 2)
    i = AVG if signal == "average" else MARG
    kwh = {r: E * PUE[r] / 3.6e6 for r in KM}

    def facility(r: str) -> float:
        return {
            "energy": kwh[r] * 3.6e6,
            "carbon": kwh[r] * i[r],
            "cost": kwh[r] * PRICE[r],
            "blend": kwh[r] * (PRICE[r] + lam * i[r]),
        }[kind]

    def transport_per_byte() -> float:
        if kind == "energy":
            return TAU * KM["far"]
        grams = TAU / 3.6e6 * KM["far"] * (i["home"] + i["far"]) / 2
        return {"carbon": grams, "cost": 0.0, "blend": lam * grams}[kind]

    per_byte = 0.0 if kind in ("energy", "carbon") else EGRESS / 1e9
    fixed = 0.0 if kind in ("energy", "carbon") else MIGRATION
    meter = facility("home") - facility("far")
    extra = PAYLOAD * transport_per_byte()
    margin = meter - fixed - per_byte * PAYLOAD - extra
    assert (be.cls, be.home, be.target, be.km) == ("c", "home", "far", pytest.approx(KM["far"]))
    assert be.meter_savings == pytest.approx(meter * 1e6, rel=1e-9)
    assert be.egress_and_migration == pytest.approx((fixed + per_byte * PAYLOAD) * 1e6, rel=1e-9)
    assert be.extra_transport == pytest.approx(extra * 1e6, rel=1e-6, abs=1e-12)
    assert be.extra_transport_joules_per_request == pytest.approx(PAYLOAD * TAU * KM["far"])
    assert be.margin == pytest.approx(margin * 1e6, rel=1e-6, abs=1e-12)
    assert be.relocate == (margin > 0)
    denom = per_byte + transport_per_byte()
    expected_bytes = (meter - fixed) / denom if denom > 0 else None
    if expected_bytes is None:
        assert be.break_even_payload_bytes is None
    else:
        assert be.break_even_payload_bytes == pytest.approx(expected_bytes, rel=1e-9)


def test_break_even_without_it_energy_has_no_payload_threshold() -> None:
    be = break_even(build_problem(cfg(energy_per_request_joules=0.0)), 0, 0, 1)
    assert be.break_even_payload_bytes is None


def test_break_even_table_uses_the_origin_nearest_to_each_home() -> None:
    base = cfg()
    two = base.model_copy(
        update={
            "origins": [
                base.origins[0].model_copy(update={"name": "a", "lon": 0.5, "home": "home"}),
                base.origins[0].model_copy(update={"name": "b", "lon": 0.1, "home": "home"}),
            ],
            "classes": [base.classes[0].model_copy(update={"demand": {"a": 1.0, "b": 1.0}})],
        }
    )
    problem = build_problem(two)
    rows = break_even_table(problem)
    assert [(r.home, r.target) for r in rows] == [("home", "near"), ("home", "far")]
    # from b (0.1 degrees east of home): the distances are b's
    assert rows[1].km == pytest.approx(KM["far"] - KM["near"] * 0.1)
    masked = build_problem(cfg(latency_budget_ms=58.0))  # far is out of the budget
    assert [(r.home, r.target) for r in break_even_table(masked)] == [("home", "near")]


def test_frontier_by_hand() -> None:
    """Objective cost. 50 ms: infeasible; 56.5 ms: home only; 100 ms: near is cheapest
    (0.26e-3 vs 0.30e-3 per request); 200 ms: far (0.21e-3). ERL = saved cost per extra ms."""
    points = frontier(cfg(), [200.0, 50.0, 56.5, 100.0])
    assert [p.budget_ms for p in points] == [50.0, 56.5, 100.0, 200.0]
    assert [p.feasible for p in points] == [False, True, True, True]
    assert "no feasible region" in points[0].reason and points[0].cost_per_million is None
    fig = {r: per_request(r, "marginal") for r in KM}
    home, near, far = points[1:]
    for p, r in ((home, "home"), (near, "near"), (far, "far")):
        assert p.cost_per_million == pytest.approx(fig[r][0] * 1e6, rel=1e-9)
        assert p.objective_per_million == pytest.approx(fig[r][0] * 1e6, rel=1e-9)
        assert p.grams_per_thousand == pytest.approx(fig[r][1] * 1e3, rel=1e-9)
        assert p.kwh_per_million == pytest.approx(fig[r][2] / 3.6e6 * 1e6, rel=1e-9)
        assert p.relocated_share == (0.0 if r == "home" else 1.0)
        assert p.cost_saving_share == pytest.approx(1 - fig[r][0] / fig["home"][0])
        assert p.carbon_saving_share == pytest.approx(1 - fig[r][1] / fig["home"][1])
    assert home.erl_cost_per_million_per_ms is None  # the first feasible point
    assert near.erl_cost_per_million_per_ms == pytest.approx(
        (fig["home"][0] - fig["near"][0]) * 1e6 / (100.0 - 56.5)
    )
    assert far.erl_cost_per_million_per_ms == pytest.approx(
        (fig["near"][0] - fig["far"][0]) * 1e6 / 100.0
    )
    assert far.erl_kwh_per_million_per_ms == pytest.approx(
        (fig["near"][2] - fig["far"][2]) / 3.6e6 * 1e6 / 100.0
    )
    assert far.crl_grams_per_thousand_per_ms == pytest.approx(
        (fig["near"][1] - fig["far"][1]) * 1e3 / 100.0
    )


def test_frontier_of_one_class_keeps_the_others_budgets() -> None:
    """Class `fixed` keeps its 57 ms (home only) while `c` is swept; figures are c's alone."""
    base = cfg()
    fixed = base.classes[0].model_copy(
        update={"name": "fixed", "latency_budget_ms": 57.0, "demand": {"o": 30.0}}
    )
    two = base.model_copy(update={"classes": [base.classes[0], fixed]})
    (p,) = frontier(two, [200.0], classes=["c"])
    cost_far = per_request("far", "marginal")[0]
    assert p.cost_per_million == pytest.approx(cost_far * 1e6)
    total = (10 * cost_far + 30 * per_request("home", "marginal")[0]) / 40 * 1e6
    assert p.objective_per_million == pytest.approx(total)  # over all classes' demand
    assert p.relocated_share == 1.0


def test_budget_grids() -> None:
    sweeps = class_frontiers(cfg(latency_budget_ms=57.0, processing_ms=10.0), [50.0, 150.0])
    assert [p.budget_ms for p in sweeps["c"]] == [57.0, 60.0, 160.0]
    assert [p.feasible for p in sweeps["c"]] == [False, False, True]


# --- edges found by mutation testing -------------------------------------------------------


def two_classes(**fixed: Any) -> PlacementConfig:
    base = cfg()
    other = base.classes[0].model_copy(
        update={"name": "fixed", "latency_budget_ms": 57.0, "demand": {"o": 30.0}, **fixed}
    )
    return base.model_copy(update={"classes": [base.classes[0], other]})


def test_fractional_demand_and_no_demand() -> None:
    """Half a request per second is still all of the class's demand."""
    problem = build_problem(cfg(demand={"o": 0.5}))
    assert relocatable_share(problem) == (1.0, {"c": 1.0})
    (s,) = class_summaries(Solution(problem, np.array([[[0.0, 0.5, 0.0]]]), 0.0, 0.0, 3))
    assert (s.local_share, s.regional_share, s.energy_oriented_share) == (0.0, 1.0, 0.0)
    assert relocatable_share(build_problem(cfg(demand={"o": 0.0}))) == (0.0, {"c": 0.0})


def test_a_region_exactly_at_the_regional_distance_is_regional() -> None:
    near_km = float(build_problem(cfg()).km[0, 1])  # where the boundary is put, not a result
    at = cfg()
    at = at.model_copy(
        update={"frictions": at.frictions.model_copy(update={"regional_km": near_km})}
    )
    (s,) = class_summaries(Solution(build_problem(at), np.array([[[0.0, 10.0, 0.0]]]), 0.0, 0.0, 3))
    assert (s.regional_share, s.energy_oriented_share) == (1.0, 0.0)


@pytest.mark.parametrize("kind", ["energy", "carbon", "blend"])
def test_break_even_from_an_origin_away_from_its_home(kind: str) -> None:
    """Origin 0.5 degrees east of home: the home path is not 0 km, so extra transport is the
    target's path minus the home path, charged at the path's mean intensity minus home's."""
    lam = 1e-4
    base = cfg(objective={"kind": kind, "signal": "average"})
    moved = base.model_copy(
        update={"origins": [base.origins[0].model_copy(update={"lon": 0.5, "home": "home"})]}
    )
    be = break_even(build_problem(moved), 0, 0, 2)
    km_h, km_r = KM["near"] * 0.5, KM["far"] - KM["near"] * 0.5
    grams_per_byte = TAU / 3.6e6 * (km_r * (AVG["home"] + AVG["far"]) / 2 - km_h * AVG["home"])
    per_byte = {
        "energy": TAU * (km_r - km_h),
        "carbon": grams_per_byte,
        "blend": lam * grams_per_byte,
    }[kind]
    assert be.extra_transport == pytest.approx(PAYLOAD * per_byte * 1e6, rel=1e-6)
    assert be.extra_transport_joules_per_request == pytest.approx(PAYLOAD * TAU * (km_r - km_h))


def test_break_even_payload_needs_it_energy_and_a_finite_threshold() -> None:
    half = break_even(build_problem(cfg(energy_per_request_joules=0.5)), 0, 0, 2)
    kwh = {r: 0.5 * PUE[r] / 3.6e6 for r in KM}
    meter = kwh["home"] * PRICE["home"] - kwh["far"] * PRICE["far"]
    assert half.break_even_payload_bytes == pytest.approx((meter - MIGRATION) / (EGRESS / 1e9))
    tiny = cfg(objective={"kind": "cost"})
    tiny = tiny.model_copy(
        update={
            "frictions": tiny.frictions.model_copy(
                update={"egress_per_gb": 1e-305, "transport_joules_per_byte_km": 0.0}
            )
        }
    )
    # a per-byte friction of 1e-314 makes the threshold overflow: no payload threshold
    assert break_even(build_problem(tiny), 0, 0, 2).break_even_payload_bytes is None


def test_no_margin_is_no_relocation() -> None:
    """Two identical regions, no frictions and no transport energy: nothing to gain."""
    twins = config(
        classes=[
            {"name": "c", "latency_budget_ms": 10_000.0, "energy_per_request_joules": E,
             "demand": {"o": 1.0}},
        ],
        origins=[{"name": "o", "lat": 0.0, "lon": 0.0, "home": "a"}],
        regions=[region("a", 0.0, 0.0), region("b", 0.0, 10.0)],
        objective={"kind": "cost"},
    )  # fmt: skip
    be = break_even(build_problem(twins), 0, 0, 1)
    assert be.margin == 0.0 and not be.relocate


def test_break_even_table_goes_on_past_a_region_nobody_calls_home() -> None:
    base = cfg()
    far_home = base.model_copy(
        update={"origins": [base.origins[0].model_copy(update={"lon": 60.0, "home": "far"})]}
    )
    rows = break_even_table(build_problem(far_home))
    assert [(r.home, r.target) for r in rows] == [("far", "home"), ("far", "near")]


def test_frontier_with_repeated_budgets_and_without_energy() -> None:
    """No IT energy and no payload: every figure is 0 and so are ERL and CRL (not 1/span), the
    saving shares are 0 (nothing to save from), and a repeated budget has no return."""
    points = frontier(cfg(energy_per_request_joules=0.0, payload_bytes=0.0), [60.0, 100.0, 100.0])
    a, b, c = points
    assert (a.kwh_per_million, a.grams_per_thousand, a.cost_per_million) == (0.0, 0.0, 0.0)
    assert (b.erl_kwh_per_million_per_ms, b.crl_grams_per_thousand_per_ms) == (0.0, 0.0)
    assert (b.cost_saving_share, b.carbon_saving_share) == (0.0, 0.0)
    assert c.erl_cost_per_million_per_ms is None and c.crl_grams_per_thousand_per_ms is None


def test_saving_shares_with_little_home_carbon() -> None:
    """One request per second: 0.6 g/s at home, below 1 g, still gives a carbon saving share."""
    (p,) = frontier(cfg(demand={"o": 1.0}), [200.0])
    fig = {r: per_request(r, "marginal") for r in KM}
    assert fig["home"][1] < 1.0
    assert p.carbon_saving_share == pytest.approx(1 - fig["far"][1] / fig["home"][1])
    assert p.cost_saving_share == pytest.approx(1 - fig["far"][0] / fig["home"][0])


def test_class_frontiers_sweep_one_class_at_a_time() -> None:
    """c swept to 200 ms moves to far; `fixed` keeps its 57 ms and stays home."""
    sweeps = class_frontiers(two_classes(), [150.0])
    far = next(p for p in sweeps["c"] if p.budget_ms == 150.0)
    total = 10 * per_request("far", "marginal")[0] + 30 * per_request("home", "marginal")[0]
    assert far.objective_per_million == pytest.approx(total / 40 * 1e6)
