"""An independent, scalar reading of the placement model (DESIGN.md section 6) for the LP tests:
distances, round trips, feasibility and per-request objective of (class, origin, region) from
the config alone, with the math module, sharing nothing with collector/placement/model.py.

Rules: RTT = 2 × (km / 200 + 20) × 1.4 ms unless overridden; a region is feasible when RTT +
processing fits the budget, no mask rule forbids it and a state-local class stays home; a request
costs its facility electricity (E × PUE) at the region's price, plus egress and migration when it
leaves home, and emits that electricity at the region's intensity plus its wide-area transport
energy (bytes × τ × km) at the mean intensity of the path's two ends.
"""

from __future__ import annotations

import math

from collector.placement.inputs import MaskRule, PlacementConfig


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))


def distance(cfg: PlacementConfig, o: int, r: int) -> float:
    origin, reg = cfg.origins[o], cfg.regions[r]
    return km(origin.lat, origin.lon, reg.lat, reg.lon)


def home(cfg: PlacementConfig, o: int) -> int:
    origin = cfg.origins[o]
    if origin.home is not None:
        return [r.name for r in cfg.regions].index(origin.home)
    dists = [distance(cfg, o, r) for r in range(len(cfg.regions))]
    return dists.index(min(dists))


def rtt_ms(cfg: PlacementConfig, o: int, r: int) -> float:
    for ov in cfg.rtt_ms:
        if (ov.origin, ov.region) == (cfg.origins[o].name, cfg.regions[r].name):
            return ov.rtt_ms
    return 2 * (distance(cfg, o, r) / 200 + 20) * 1.4


def _forbids(rule: MaskRule, cfg: PlacementConfig, k: int, o: int, r: int) -> bool:
    cls, origin, reg = cfg.classes[k], cfg.origins[o], cfg.regions[r]
    if rule.classes and cls.name not in rule.classes:
        return False
    if (rule.origins or rule.origin_tags) and not (
        origin.name in rule.origins or set(rule.origin_tags) & set(origin.tags)
    ):
        return False
    if (rule.regions or rule.region_tags) and not (
        reg.name in rule.regions or set(rule.region_tags) & set(reg.tags)
    ):
        return False
    return not set(rule.region_not_tags) & set(reg.tags)


def allowed(cfg: PlacementConfig, k: int, o: int, r: int, budget_ms: float | None = None) -> bool:
    cls = cfg.classes[k]
    budget = cls.latency_budget_ms if budget_ms is None else budget_ms
    if rtt_ms(cfg, o, r) + cls.processing_ms > budget + 1e-9:
        return False
    if any(_forbids(rule, cfg, k, o, r) for rule in cfg.masks):
        return False
    return not cls.state_local or r == home(cfg, o)


def objective(cfg: PlacementConfig, k: int, o: int, r: int) -> float:
    """What one class-k request from origin o served in region r adds to the objective."""
    cls, reg, fr, obj = cfg.classes[k], cfg.regions[r], cfg.frictions, cfg.objective
    h = cfg.regions[home(cfg, o)]

    def intensity(region: object) -> float:
        name = "grams_per_kwh_marginal" if obj.signal == "marginal" else "grams_per_kwh_average"
        return float(getattr(region, name))

    kwh = cls.energy_per_request_joules * reg.pue / 3.6e6
    transport_j = cls.payload_bytes * fr.transport_joules_per_byte_km * distance(cfg, o, r)
    leaves = reg.name != h.name
    cost = kwh * reg.price_per_kwh
    if leaves:
        cost += cls.payload_bytes / 1e9 * fr.egress_per_gb + fr.migration_per_request
    grams = kwh * intensity(reg) + transport_j / 3.6e6 * (intensity(h) + intensity(reg)) / 2
    if obj.kind == "energy":
        return kwh * 3.6e6 + transport_j
    if obj.kind == "carbon":
        return grams
    if obj.kind == "cost":
        return cost
    return cost + obj.carbon_price_per_tonne / 1e6 * grams


def demand(cfg: PlacementConfig, k: int, o: int) -> float:
    return float(cfg.classes[k].demand.get(cfg.origins[o].name, 0.0))
