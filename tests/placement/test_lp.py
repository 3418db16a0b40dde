"""The LP against independent solutions (exhaustive assignment, networkx min-cost flow) whose
coefficients come from the config through tests/placement/reference.py, not from the problem's
own arrays; and the invariants every solution must keep."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from collector.placement.inputs import PlacementConfig
from collector.placement.model import InfeasibleError, build_problem
from collector.placement.solve import Solution, solve
from tests.conftest import need_module
from tests.placement import reference as ref
from tests.placement.helpers import config, problems, region

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _solve_or_reject(cfg: PlacementConfig, **kw: object) -> Solution:
    try:
        return solve(build_problem(cfg, **kw))  # type: ignore[arg-type]
    except InfeasibleError:
        assume(False)
        raise


def exhaustive_optimum(cfg: PlacementConfig) -> tuple[float, float]:
    """Uncapacitated optimum: each (class, origin) takes its cheapest feasible region alone,
    with feasibility and per-request objective from tests/placement/reference.py; and the
    problem's scale (Σ demand × its dearest option), for the solver's absolute tolerance."""
    total = scale = 0.0
    for k in range(len(cfg.classes)):
        for o in range(len(cfg.origins)):
            d = ref.demand(cfg, k, o)
            if d == 0:
                continue
            options = [
                ref.objective(cfg, k, o, r)
                for r in range(len(cfg.regions))
                if ref.allowed(cfg, k, o, r)
            ]
            total += d * min(options)
            scale += d * max(abs(x) for x in options)
    return total, scale


@SETTINGS
@given(problems(capacities=False))
def test_uncapacitated_optimum_equals_exhaustive_assignment(cfg: PlacementConfig) -> None:
    sol = _solve_or_reject(cfg)
    expected, scale = exhaustive_optimum(cfg)
    # HiGHS's feasibility tolerance leaves ~1e-9 of the problem's scale where the optimum is 0
    assert sol.objective_per_second == pytest.approx(expected, rel=1e-7, abs=1e-9 * scale + 1e-15)


def _min_cost_flow_optimum(cfg: PlacementConfig) -> float:
    """Independent solve with networkx: source -> (class, origin) -> region -> sink, with
    feasibility and per-request objective from tests/placement/reference.py.

    Valid when every class has the same energy per request, so capacity is a request count.
    Demands and capacities are integers; costs scaled to integers (networkx needs them).
    """
    nx = need_module("networkx")
    n_k, n_o, n_r = len(cfg.classes), len(cfg.origins), len(cfg.regions)
    cost = {
        (k, o, r): ref.objective(cfg, k, o, r)
        for k in range(n_k)
        for o in range(n_o)
        for r in range(n_r)
        if ref.allowed(cfg, k, o, r)
    }
    scale = 1e12 / max(max((abs(c) for c in cost.values()), default=0.0), 1e-30)
    e = cfg.classes[0].energy_per_request_joules
    g = nx.DiGraph()
    total = int(sum(ref.demand(cfg, k, o) for k in range(n_k) for o in range(n_o)))
    g.add_node("s", demand=-total)
    g.add_node("t", demand=total)
    for (k, o, r), c in cost.items():
        d = int(ref.demand(cfg, k, o))
        if d:
            g.add_edge("s", ("d", k, o), capacity=d, weight=0)
            g.add_edge(("d", k, o), ("r", r), weight=round(c * scale))
    for r, reg in enumerate(cfg.regions):
        cap = None if reg.capacity_kw is None else int(reg.capacity_kw * 1000 / e + 1e-9)
        g.add_edge(("r", r), "t", **({} if cap is None else {"capacity": cap}), weight=0)
    flow = nx.min_cost_flow(g)
    return sum(
        f * cost[(n[1], n[2], node[1])]
        for n in g.nodes
        if isinstance(n, tuple) and n[0] == "d"
        for node, f in flow[n].items()
    )


@st.composite
def capacitated_integer_problems(draw: st.DrawFn) -> PlacementConfig:
    n_r = draw(st.integers(2, 4))
    n_o = draw(st.integers(1, 4))
    regions = [
        region(
            f"r{j}",
            draw(st.floats(-60, 60)),
            draw(st.floats(-170, 170)),
            price_per_kwh=draw(st.floats(0.01, 0.5)),
            pue=draw(st.floats(1.0, 2.0)),
            grams_per_kwh_marginal=draw(st.floats(0, 1000)),
            capacity_kw=draw(st.integers(1, 30)) * 0.1,
        )  # 100 J/request: cap in whole requests
        for j in range(n_r)
    ]
    origins = [
        {"name": f"o{i}", "lat": draw(st.floats(-60, 60)), "lon": draw(st.floats(-170, 170))}
        for i in range(n_o)
    ]
    classes = [
        {
            "name": f"c{k}",
            "latency_budget_ms": draw(st.sampled_from([200.0, 300.0, 10_000.0])),
            "energy_per_request_joules": 100.0,
            "payload_bytes": draw(st.floats(0, 1e6)),
            "demand": {f"o{i}": float(draw(st.integers(0, 12))) for i in range(n_o)},
        }
        for k in range(draw(st.integers(1, 3)))
    ]
    frictions = {
        "egress_per_gb": 0.05,
        "migration_per_request": 1e-6,
        "transport_joules_per_byte_km": 1e-8,
    }
    return config(classes=classes, origins=origins, regions=regions, frictions=frictions)


@SETTINGS
@given(capacitated_integer_problems())
def test_capacitated_optimum_equals_min_cost_flow(cfg: PlacementConfig) -> None:
    sol = _solve_or_reject(cfg)
    reference = _min_cost_flow_optimum(cfg)
    assert sol.objective_per_second == pytest.approx(reference, rel=1e-6, abs=1e-12)


def test_capacity_binds_in_a_known_case() -> None:
    """Two regions, the cheap one holds only 2 of 5 requests/s: the rest goes to the dear one."""
    cfg = config(
        classes=[
            {
                "name": "c",
                "latency_budget_ms": 10_000,
                "energy_per_request_joules": 1000,
                "demand": {"o": 5},
            }
        ],
        origins=[{"name": "o", "lat": 0, "lon": 0, "home": "dear"}],
        regions=[
            region("cheap", 0, 1, price_per_kwh=0.05, capacity_kw=2.0),
            region("dear", 0, 0, price_per_kwh=0.30),
        ],
        objective={"kind": "cost"},
    )
    sol = solve(build_problem(cfg))
    assert sol.flow[0, 0].tolist() == pytest.approx([2.0, 3.0])
    kwh = 1000 * 1.2 / 3.6e6
    assert sol.objective_per_second == pytest.approx(2 * kwh * 0.05 + 3 * kwh * 0.30)


@SETTINGS
@given(problems(capacities=True), st.data())
def test_relaxing_a_latency_budget_never_raises_the_optimum(
    cfg: PlacementConfig, data: st.DataObject
) -> None:
    base = _solve_or_reject(cfg)
    cls = data.draw(st.sampled_from(cfg.classes))
    extra = data.draw(st.floats(0.0, 500.0))
    relaxed = solve(build_problem(cfg, budgets_ms={cls.name: cls.latency_budget_ms + extra}))
    assert relaxed.objective_per_second <= base.objective_per_second * (1 + 1e-9) + 1e-12


@SETTINGS
@given(problems(capacities=True))
def test_solutions_meet_demand_respect_capacity_and_masks(cfg: PlacementConfig) -> None:
    sol = _solve_or_reject(cfg)
    p = sol.problem
    assert np.all(sol.flow >= 0)
    assert np.all(sol.flow[~p.allowed] == 0)
    np.testing.assert_allclose(sol.flow.sum(axis=2), p.demand, rtol=1e-7, atol=1e-7)
    watts = sol.it_power_watts()
    for j, reg in enumerate(cfg.regions):
        if reg.capacity_kw is not None:
            assert watts[j] <= reg.capacity_kw * 1000 * (1 + 1e-7) + 1e-7


@SETTINGS
@given(problems(capacities=True))
def test_column_generation_reaches_the_full_lp_optimum(cfg: PlacementConfig) -> None:
    full = _solve_or_reject(cfg)
    generated = solve(full.problem, full_lp_max_variables=0)
    assert generated.objective_per_second == pytest.approx(
        full.objective_per_second, rel=1e-7, abs=1e-12
    )
    demand = full.problem.demand
    np.testing.assert_allclose(generated.flow.sum(axis=2), demand, rtol=1e-7, atol=1e-7)


def test_column_generation_reports_short_capacity() -> None:
    cfg = config(
        classes=[
            {
                "name": "c",
                "latency_budget_ms": 10_000,
                "energy_per_request_joules": 1000,
                "demand": {"o": 5},
            }
        ],
        origins=[{"name": "o", "lat": 0, "lon": 0}],
        regions=[region("a", 0, 1, capacity_kw=1.0), region("b", 0, 0, capacity_kw=1.0)],
    )
    with pytest.raises(InfeasibleError, match="capacity is short"):
        solve(build_problem(cfg), full_lp_max_variables=0)


def test_column_generation_with_sampled_capacity_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sampled price guess only chooses the first columns: the optimum stays the full LP's."""
    import collector.placement.solve as solve_module

    rng = np.random.default_rng(3)
    n_o, n_r = 80, 12
    regions = [
        region(
            f"r{j}",
            float(rng.uniform(-50, 60)),
            float(rng.uniform(-170, 170)),
            price_per_kwh=float(rng.uniform(0.05, 0.3)),
            capacity_kw=3.0,
        )
        for j in range(n_r)
    ]
    origins = [
        {"name": f"o{i}", "lat": float(rng.uniform(-50, 60)), "lon": float(rng.uniform(-170, 170))}
        for i in range(n_o)
    ]
    classes = [
        {
            "name": "batch",
            "latency_budget_ms": 10_000,
            "energy_per_request_joules": 500,
            "payload_bytes": 1e5,
            "demand": {f"o{i}": float(rng.uniform(0, 1)) for i in range(n_o)},
        }
    ]
    problem = build_problem(config(classes=classes, origins=origins, regions=regions))
    full = solve(problem)
    monkeypatch.setattr(solve_module, "SAMPLE_ORIGINS", 10)
    generated = solve(problem, full_lp_max_variables=0)
    assert generated.objective_per_second == pytest.approx(full.objective_per_second, rel=1e-7)
    assert np.all(generated.it_power_watts() <= 3000.0 * (1 + 1e-7))
