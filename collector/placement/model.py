"""The placement model as arrays: distances, round-trip times, the feasibility mask and the
per-request coefficients (cost, carbon, energy) of serving class k from origin o in region r.

Everything the solver and the metrics need is computed here once, so the LP, the exhaustive
reference in the tests and the break-even condition all read the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from collector.placement.inputs import MaskRule, Origin, PlacementConfig, WorkloadClass
from collector.units import JOULES_PER_KWH

EARTH_RADIUS_KM = 6371.0
FIBRE_KM_PER_MS = 200.0
"""Light in fibre covers about 200 km per ms (refractive index ~1.5)."""
FIXED_ONE_WAY_MS = 20.0
ROUTE_FACTOR = 1.4
BYTES_PER_GB = 1e9

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class InfeasibleError(ValueError):
    """No placement satisfies the constraints; the message names the class and origin."""


def great_circle_km(
    lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray
) -> FloatArray:
    """Haversine distance in km, broadcasting over its arguments."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def rtt_model_ms(km: FloatArray) -> FloatArray:
    """docs/explanation/placement.md: 2 × (km / 200 + 20) × 1.4 ms."""
    return np.asarray(2.0 * (km / FIBRE_KM_PER_MS + FIXED_ONE_WAY_MS) * ROUTE_FACTOR)


@dataclass(frozen=True, slots=True)
class Coefficients:
    """Per-request figures for every (class, origin, region); shape (K, O, R)."""

    cost: FloatArray
    """Currency per request: electricity at the facility + egress + migration."""
    carbon_grams: FloatArray
    """gCO2e per request: facility electricity + wide-area transport (decision signal)."""
    energy_joules: FloatArray
    """Facility energy (IT × PUE) + transport energy per request, J."""
    objective: FloatArray
    """What the LP minimises per request (depends on the objective kind)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """The placement problem in arrays. Index order: class k, origin o, region r."""

    config: PlacementConfig
    classes: tuple[str, ...]
    origins: tuple[str, ...]
    regions: tuple[str, ...]
    km: FloatArray  # (O, R)
    rtt_ms: FloatArray  # (O, R)
    home: NDArray[np.int64]  # (O,)
    demand: FloatArray  # (K, O) requests per second
    budget_ms: FloatArray  # (K,)
    allowed: BoolArray  # (K, O, R)
    coef: Coefficients

    @property
    def is_home(self) -> BoolArray:
        """(O, R): True where r is o's home region."""
        mask = np.zeros(self.km.shape, dtype=bool)
        mask[np.arange(len(self.origins)), self.home] = True
        return mask


def _distances(cfg: PlacementConfig) -> FloatArray:
    olat = np.array([o.lat for o in cfg.origins])[:, None]
    olon = np.array([o.lon for o in cfg.origins])[:, None]
    rlat = np.array([r.lat for r in cfg.regions])[None, :]
    rlon = np.array([r.lon for r in cfg.regions])[None, :]
    return great_circle_km(olat, olon, rlat, rlon)


def _rtt(cfg: PlacementConfig, km: FloatArray) -> FloatArray:
    rtt = rtt_model_ms(km)
    oi = {o.name: i for i, o in enumerate(cfg.origins)}
    ri = {r.name: i for i, r in enumerate(cfg.regions)}
    for ov in cfg.rtt_ms:
        rtt[oi[ov.origin], ri[ov.region]] = ov.rtt_ms
    return rtt


def _homes(cfg: PlacementConfig, km: FloatArray) -> NDArray[np.int64]:
    ri = {r.name: i for i, r in enumerate(cfg.regions)}
    nearest = np.argmin(km, axis=1)
    return np.array(
        [ri[o.home] if o.home is not None else int(nearest[i]) for i, o in enumerate(cfg.origins)],
        dtype=np.int64,
    )


def _rule_matches(rule: MaskRule, cls: WorkloadClass, origin: Origin) -> bool:
    if rule.classes and cls.name not in rule.classes:
        return False
    if not rule.origins and not rule.origin_tags:
        return True
    return origin.name in rule.origins or bool(set(rule.origin_tags) & set(origin.tags))


def _region_hits(rule: MaskRule, cfg: PlacementConfig) -> BoolArray:
    hits = np.ones(len(cfg.regions), dtype=bool)
    for j, r in enumerate(cfg.regions):
        tags = set(r.tags)
        if rule.regions or rule.region_tags:
            hits[j] = r.name in rule.regions or bool(set(rule.region_tags) & tags)
        if rule.region_not_tags and set(rule.region_not_tags) & tags:
            hits[j] = False
    return hits


def feasibility(
    cfg: PlacementConfig, rtt: FloatArray, home: NDArray[np.int64], budget_ms: FloatArray
) -> BoolArray:
    """(K, O, R) mask: latency within budget, no mask rule hit, state-local classes at home."""
    proc = np.array([c.processing_ms for c in cfg.classes])
    allowed = rtt[None, :, :] + proc[:, None, None] <= budget_ms[:, None, None] + 1e-9
    n_o, n_r = rtt.shape
    for rule in cfg.masks:
        regions_hit = _region_hits(rule, cfg)
        for k, cls in enumerate(cfg.classes):
            rows = np.array(
                [i for i, o in enumerate(cfg.origins) if _rule_matches(rule, cls, o)],
                dtype=np.int64,
            )
            if rows.size:
                allowed[k][np.ix_(rows, np.flatnonzero(regions_hit))] = False
    home_mask = np.zeros((n_o, n_r), dtype=bool)
    home_mask[np.arange(n_o), home] = True
    for k, cls in enumerate(cfg.classes):
        if cls.state_local:
            allowed[k] &= home_mask
    return np.asarray(allowed)


def coefficients(cfg: PlacementConfig, km: FloatArray, home: NDArray[np.int64]) -> Coefficients:
    """Per-request cost, carbon and energy of every (k, o, r), and the objective."""
    e_it = np.array([c.energy_per_request_joules for c in cfg.classes])[:, None, None]
    payload = np.array([c.payload_bytes for c in cfg.classes])[:, None, None]
    pue = np.array([r.pue for r in cfg.regions])[None, None, :]
    price = np.array([r.price_per_kwh for r in cfg.regions])[None, None, :]
    signal = cfg.objective.signal
    intensity = np.array(
        [
            r.grams_per_kwh_marginal if signal == "marginal" else r.grams_per_kwh_average
            for r in cfg.regions
        ]
    )
    n_o, n_r = km.shape
    remote = np.ones((n_o, n_r))
    remote[np.arange(n_o), home] = 0.0
    fr = cfg.frictions
    facility_kwh = e_it * pue / JOULES_PER_KWH
    transport_j = payload * fr.transport_joules_per_byte_km * km[None, :, :]
    # transport is charged at the mean intensity of the two ends of the path
    transport_intensity = (intensity[home][:, None] + intensity[None, :]) / 2.0
    cost = facility_kwh * price + remote[None] * (
        payload / BYTES_PER_GB * fr.egress_per_gb + fr.migration_per_request
    )
    carbon = (
        facility_kwh * intensity[None, None, :]
        + transport_j / JOULES_PER_KWH * transport_intensity[None]
    )
    energy = facility_kwh * JOULES_PER_KWH + transport_j
    kind = cfg.objective.kind
    if kind == "energy":
        objective = energy
    elif kind == "carbon":
        objective = carbon
    else:
        lam = 0.0 if kind == "cost" else cfg.objective.carbon_price_per_tonne / 1e6
        objective = cost + lam * carbon
    shape = (len(cfg.classes), n_o, n_r)
    return Coefficients(
        cost=np.broadcast_to(cost, shape).copy(),
        carbon_grams=np.broadcast_to(carbon, shape).copy(),
        energy_joules=np.broadcast_to(energy, shape).copy(),
        objective=np.broadcast_to(objective, shape).copy(),
    )


def build_problem(cfg: PlacementConfig, *, budgets_ms: dict[str, float] | None = None) -> Problem:
    """Arrays for `cfg`; `budgets_ms` overrides latency budgets by class name (for sweeps)."""
    km = _distances(cfg)
    rtt = _rtt(cfg, km)
    home = _homes(cfg, km)
    overrides = budgets_ms or {}
    budget = np.array([overrides.get(c.name, c.latency_budget_ms) for c in cfg.classes])
    oi = {o.name: i for i, o in enumerate(cfg.origins)}
    demand = np.zeros((len(cfg.classes), len(cfg.origins)))
    for k, c in enumerate(cfg.classes):
        for name, rps in c.demand.items():
            demand[k, oi[name]] = rps
    return Problem(
        config=cfg,
        classes=tuple(c.name for c in cfg.classes),
        origins=tuple(o.name for o in cfg.origins),
        regions=tuple(r.name for r in cfg.regions),
        km=km,
        rtt_ms=rtt,
        home=home,
        demand=demand,
        budget_ms=budget,
        allowed=feasibility(cfg, rtt, home, budget),
        coef=coefficients(cfg, km, home),
    )


def check_feasible(problem: Problem) -> None:
    """Raise InfeasibleError naming every (class, origin) with demand and no feasible region."""
    stuck = (problem.demand > 0) & ~problem.allowed.any(axis=2)
    if not stuck.any():
        return
    pairs = [
        f"class {problem.classes[k]!r} from origin {problem.origins[o]!r}"
        for k, o in zip(*np.nonzero(stuck), strict=True)
    ]
    shown = "; ".join(pairs[:10]) + (f"; and {len(pairs) - 10} more" if len(pairs) > 10 else "")
    raise InfeasibleError(
        f"no feasible region (latency budget, masks or state locality) for {shown}"
    )
