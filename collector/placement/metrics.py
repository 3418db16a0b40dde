"""The advisor's metrics (docs/explanation/placement.md): relocatable inference demand, the
layer split, the relocation break-even per class and region pair, and the energy-latency
frontier with its energy and carbon returns on latency (ERL, CRL).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collector.placement.inputs import PlacementConfig
from collector.placement.model import InfeasibleError, Problem, build_problem
from collector.placement.solve import Solution, solve
from collector.units import JOULES_PER_KWH

PER_MILLION = 1e6


@dataclass(frozen=True, slots=True)
class ClassSummary:
    """One class in one solution. Shares are fractions of the class's demand (0..1)."""

    name: str
    budget_ms: float
    demand_rps: float
    relocatable_share: float
    local_share: float
    regional_share: float
    energy_oriented_share: float
    cost_per_million: float
    kwh_per_million: float
    grams_per_thousand: float


def relocatable_share(problem: Problem) -> tuple[float, dict[str, float]]:
    """Share of demand with at least one feasible non-home region: overall and per class."""
    other = problem.allowed & ~problem.is_home[None]
    movable: np.ndarray = np.asarray(other.any(axis=2))
    per_class = {}
    for k, name in enumerate(problem.classes):
        d = problem.demand[k].sum()
        per_class[name] = float(problem.demand[k][movable[k]].sum() / d) if d > 0 else 0.0
    total = problem.demand.sum()
    overall = float(problem.demand[movable].sum() / total) if total > 0 else 0.0
    return overall, per_class


def layer_masks(problem: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(O, R) masks for the local, regional and energy-oriented layers."""
    home = problem.is_home
    near = problem.km <= problem.config.frictions.regional_km
    return home, ~home & near, ~home & ~near


def class_summaries(solution: Solution) -> list[ClassSummary]:
    """Layer split and per-request figures of each class in `solution`."""
    p = solution.problem
    local, regional, far = layer_masks(p)
    _, movable = relocatable_share(p)
    out = []
    for k, name in enumerate(p.classes):
        f = solution.flow[k]
        d = float(p.demand[k].sum())
        div = d if d > 0 else 1.0
        out.append(
            ClassSummary(
                name=name,
                budget_ms=float(p.budget_ms[k]),
                demand_rps=d,
                relocatable_share=movable[name],
                local_share=float(f[local].sum() / div),
                regional_share=float(f[regional].sum() / div),
                energy_oriented_share=float(f[far].sum() / div),
                cost_per_million=float(np.sum(f * p.coef.cost[k]) / div * PER_MILLION),
                kwh_per_million=float(
                    np.sum(f * p.coef.energy_joules[k]) / div / JOULES_PER_KWH * PER_MILLION
                ),
                grams_per_thousand=float(np.sum(f * p.coef.carbon_grams[k]) / div * 1000.0),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class BreakEven:
    """Moving one request of `cls` from its home `home` to `target`, per million requests.

    Relocation pays when meter savings >= frictions + extra transport (all in objective units).
    """

    cls: str
    home: str
    target: str
    km: float
    meter_savings: float
    egress_and_migration: float
    extra_transport_joules_per_request: float
    extra_transport: float
    margin: float
    relocate: bool
    break_even_payload_bytes: float | None


def break_even(problem: Problem, k: int, o: int, r: int) -> BreakEven:
    """The break-even of serving origin o's class-k request in r instead of its home region."""
    cfg = problem.config
    h = int(problem.home[o])
    c = problem.coef
    kind = cfg.objective.kind
    e_it = cfg.classes[k].energy_per_request_joules
    payload = cfg.classes[k].payload_bytes
    fr = cfg.frictions
    facility = _facility_value(cfg, k)
    meter = facility[h] - facility[r]
    fixed = 0.0 if kind in ("energy", "carbon") or r == h else fr.migration_per_request
    per_byte = 0.0 if kind in ("energy", "carbon") or r == h else fr.egress_per_gb / 1e9
    total_delta = c.objective[k, o, r] - c.objective[k, o, h]
    transport = total_delta + meter - (fixed + per_byte * payload)
    extra_j = payload * fr.transport_joules_per_byte_km * (problem.km[o, r] - problem.km[o, h])
    margin = -total_delta
    denom = per_byte + _transport_value_per_byte(problem, o, h, r)
    bytes_at = None
    if denom > 0 and e_it > 0:
        with np.errstate(over="ignore"):
            value = float(np.float64(meter - fixed) / np.float64(denom))
        bytes_at = value if np.isfinite(value) else None  # a vanishing per-byte friction
    return BreakEven(
        cls=problem.classes[k],
        home=problem.regions[h],
        target=problem.regions[r],
        km=float(problem.km[o, r]),
        meter_savings=float(meter) * 1e6,
        egress_and_migration=float(fixed + per_byte * payload) * 1e6,
        extra_transport_joules_per_request=float(extra_j),
        extra_transport=float(transport) * 1e6,
        margin=float(margin) * 1e6,
        relocate=bool(margin > 0),
        break_even_payload_bytes=None if bytes_at is None else float(bytes_at),
    )


def _transport_value_per_byte(problem: Problem, o: int, h: int, r: int) -> float:
    """Objective value of the extra transport of one byte served in r instead of home h."""
    cfg = problem.config
    tau = cfg.frictions.transport_joules_per_byte_km
    km_h, km_r = float(problem.km[o, h]), float(problem.km[o, r])
    kind = cfg.objective.kind
    if kind == "energy":
        return tau * (km_r - km_h)
    sig = cfg.objective.signal
    i_h, i_r = (
        (reg.grams_per_kwh_marginal if sig == "marginal" else reg.grams_per_kwh_average)
        for reg in (cfg.regions[h], cfg.regions[r])
    )
    grams = tau / JOULES_PER_KWH * (km_r * (i_h + i_r) / 2.0 - km_h * i_h)
    return grams if kind == "carbon" else _lambda(cfg) * grams


def _lambda(cfg: PlacementConfig) -> float:
    return 0.0 if cfg.objective.kind == "cost" else cfg.objective.carbon_price_per_tonne / 1e6


def _facility_value(cfg: PlacementConfig, k: int) -> np.ndarray:
    """(R,) objective value of the facility electricity of one class-k request in each region."""
    e = cfg.classes[k].energy_per_request_joules
    kwh = np.array([e * r.pue / JOULES_PER_KWH for r in cfg.regions])
    sig = cfg.objective.signal
    grams = kwh * np.array(
        [
            r.grams_per_kwh_marginal if sig == "marginal" else r.grams_per_kwh_average
            for r in cfg.regions
        ]
    )
    kind = cfg.objective.kind
    if kind == "energy":
        return np.asarray(kwh * JOULES_PER_KWH)
    if kind == "carbon":
        return np.asarray(grams)
    price = np.array([r.price_per_kwh for r in cfg.regions])
    return np.asarray(kwh * price + _lambda(cfg) * grams)


def break_even_table(problem: Problem) -> list[BreakEven]:
    """Every class and (home, target) region pair, for an origin sitting at its home region.

    Uses the first origin homed in each region (nearest to it when several) as the stand-in.
    """
    rows = []
    for h in range(len(problem.regions)):
        homed = np.flatnonzero(problem.home == h)
        if len(homed) == 0:
            continue
        o = int(homed[np.argmin(problem.km[homed, h])])
        for k in range(len(problem.classes)):
            for r in range(len(problem.regions)):
                if r != h and problem.allowed[k, o, r]:
                    rows.append(break_even(problem, k, o, r))
    return rows


@dataclass(frozen=True, slots=True)
class FrontierPoint:
    """One latency budget of the sweep; per-request figures over the swept classes' demand.

    Savings shares compare with serving every request in its home region (0..1, may be < 0).
    """

    budget_ms: float
    feasible: bool
    objective_per_million: float | None = None
    """The LP's objective per million requests of all classes (never rises with the budget)."""
    cost_per_million: float | None = None
    kwh_per_million: float | None = None
    grams_per_thousand: float | None = None
    cost_saving_share: float | None = None
    carbon_saving_share: float | None = None
    relocated_share: float | None = None
    erl_cost_per_million_per_ms: float | None = None
    erl_kwh_per_million_per_ms: float | None = None
    crl_grams_per_thousand_per_ms: float | None = None
    reason: str = ""


def frontier(
    cfg: PlacementConfig, budgets_ms: list[float], *, classes: list[str] | None = None
) -> list[FrontierPoint]:
    """Solve with the budget of `classes` (default all) set to each value of `budgets_ms`.

    The other classes keep their own budgets (they share capacity). ERL and CRL at a point are
    the savings per additional ms since the previous feasible point (currency and kWh per
    million requests per ms; gCO2e per thousand requests per ms).
    """
    names = classes or [c.name for c in cfg.classes]
    points: list[FrontierPoint] = []
    prev: FrontierPoint | None = None
    for b in sorted(budgets_ms):
        problem = build_problem(cfg, budgets_ms=dict.fromkeys(names, b))
        try:
            sol = solve(problem)
        except (InfeasibleError, RuntimeError) as exc:  # a solver failure is reported too
            points.append(FrontierPoint(budget_ms=b, feasible=False, reason=str(exc)))
            continue
        point = _point(sol, b, prev, [problem.classes.index(n) for n in names])
        points.append(point)
        prev = point
    return points


def _home_totals(p: Problem, ks: list[int]) -> tuple[float, float]:
    """Cost and carbon per second if every request of classes `ks` ran in its home region."""
    o = np.arange(len(p.origins))
    cost = sum(float(np.sum(p.demand[k] * p.coef.cost[k, o, p.home])) for k in ks)
    grams = sum(float(np.sum(p.demand[k] * p.coef.carbon_grams[k, o, p.home])) for k in ks)
    return cost, grams


def _point(
    sol: Solution, budget: float, prev: FrontierPoint | None, ks: list[int]
) -> FrontierPoint:
    p = sol.problem
    f = sol.flow[ks]
    d = float(p.demand[ks].sum()) or 1.0
    cost_s = float(np.sum(f * p.coef.cost[ks]))
    grams_s = float(np.sum(f * p.coef.carbon_grams[ks]))
    home_cost, home_grams = _home_totals(p, ks)
    cost = cost_s / d * PER_MILLION
    kwh = float(np.sum(f * p.coef.energy_joules[ks])) / d / JOULES_PER_KWH * PER_MILLION
    grams = grams_s / d * 1000.0
    erl_c = erl_k = crl = None
    if prev is not None and prev.cost_per_million is not None and budget > prev.budget_ms:
        span = budget - prev.budget_ms
        erl_c = (prev.cost_per_million - cost) / span
        erl_k = ((prev.kwh_per_million or 0.0) - kwh) / span
        crl = ((prev.grams_per_thousand or 0.0) - grams) / span
    return FrontierPoint(
        budget_ms=budget,
        feasible=True,
        objective_per_million=sol.objective_per_second
        / (float(p.demand.sum()) or 1.0)
        * PER_MILLION,
        cost_per_million=cost,
        kwh_per_million=kwh,
        grams_per_thousand=grams,
        cost_saving_share=1.0 - cost_s / home_cost if home_cost > 0 else 0.0,
        carbon_saving_share=1.0 - grams_s / home_grams if home_grams > 0 else 0.0,
        relocated_share=float(f[:, ~p.is_home].sum() / d),
        erl_cost_per_million_per_ms=erl_c,
        erl_kwh_per_million_per_ms=erl_k,
        crl_grams_per_thousand_per_ms=crl,
    )


DEFAULT_ALLOWANCES_MS = [float(x) for x in range(50, 401, 25)]
"""Network allowances swept by default: the RTT model spans 56 ms (0 km) to ~336 ms (antipode)."""


def class_frontiers(
    cfg: PlacementConfig, allowances_ms: list[float] | None = None
) -> dict[str, list[FrontierPoint]]:
    """Per class, the frontier over budgets = processing time + each network allowance.

    Sweeping the allowance rather than the raw budget puts classes with very different
    processing times on one axis; each class's own budget is added to its sweep.
    """
    grid = allowances_ms or DEFAULT_ALLOWANCES_MS
    out = {}
    for c in cfg.classes:
        budgets = sorted({c.processing_ms + a for a in grid} | {c.latency_budget_ms})
        out[c.name] = frontier(cfg, budgets, classes=[c.name])
    return out
