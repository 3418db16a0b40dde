"""Builders of small placement problems for the placement tests (plain dicts -> config)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from collector.placement.inputs import PlacementConfig, parse_config


def config(
    *,
    classes: list[dict[str, Any]],
    origins: list[dict[str, Any]],
    regions: list[dict[str, Any]],
    **extra: Any,
) -> PlacementConfig:
    return parse_config(
        {"classes": classes, "origins": origins, "regions": regions, **extra}, "test.yaml"
    )


def region(name: str, lat: float, lon: float, **kw: Any) -> dict[str, Any]:
    base = {
        "name": name,
        "lat": lat,
        "lon": lon,
        "price_per_kwh": 0.1,
        "grams_per_kwh_average": 300.0,
        "grams_per_kwh_marginal": 400.0,
        "pue": 1.2,
    }
    return {**base, **kw}


@st.composite
def problems(draw: st.DrawFn, *, capacities: bool, max_regions: int = 4) -> PlacementConfig:
    """Random small problems; a generous budget on one class keeps every origin feasible."""
    n_r = draw(st.integers(2, max_regions))
    n_o = draw(st.integers(1, 4))
    n_k = draw(st.integers(1, 3))
    coord = st.tuples(st.floats(-60, 60), st.floats(-170, 170))
    money = st.floats(0.01, 0.5)
    regions = []
    for j in range(n_r):
        lat, lon = draw(coord)
        cap = draw(st.one_of(st.none(), st.floats(0.05, 5.0))) if capacities else None
        regions.append(
            region(
                f"r{j}",
                lat,
                lon,
                price_per_kwh=draw(money),
                pue=draw(st.floats(1.0, 2.0)),
                grams_per_kwh_average=draw(st.floats(0, 900)),
                grams_per_kwh_marginal=draw(st.floats(0, 1100)),
                capacity_kw=cap,
            )
        )
    origins = [{"name": f"o{i}", "lat": draw(coord)[0], "lon": draw(coord)[1]} for i in range(n_o)]
    classes = []
    for k in range(n_k):
        demand = {f"o{i}": draw(st.just(0.0) | st.floats(0.01, 20.0)) for i in range(n_o)}
        classes.append(
            {
                "name": f"c{k}",
                "latency_budget_ms": draw(st.floats(60.0, 600.0)) if k else 10_000.0,
                "processing_ms": draw(st.floats(0.0, 50.0)),
                "energy_per_request_joules": draw(st.floats(1.0, 500.0)),
                "payload_bytes": draw(st.floats(0.0, 5e6)),
                "state_local": draw(st.booleans()) if k else False,
                "demand": demand,
            }
        )
    frictions = {
        "egress_per_gb": draw(st.floats(0.0, 0.1)),
        "migration_per_request": draw(st.floats(0.0, 1e-5)),
        "transport_joules_per_byte_km": draw(st.floats(0.0, 5e-8)),
    }
    objective = {
        "kind": draw(st.sampled_from(["blend", "cost", "energy", "carbon"])),
        "carbon_price_per_tonne": draw(st.floats(0.0, 300.0)),
        "signal": draw(st.sampled_from(["average", "marginal"])),
    }
    masks = []
    if draw(st.booleans()):
        masks.append(
            {
                "reason": "random",
                "classes": [f"c{draw(st.integers(0, n_k - 1))}"],
                "origins": [f"o{draw(st.integers(0, n_o - 1))}"],
                "regions": [f"r{draw(st.integers(0, n_r - 1))}"],
            }
        )
    return config(
        classes=classes,
        origins=origins,
        regions=regions,
        frictions=frictions,
        objective=objective,
        masks=masks,
    )
