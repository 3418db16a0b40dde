"""Placement advice from the store: measured apps become LP classes, the LP places them, and each
app gets its recommended regions, the saving against serving at home and the break-even rows.

Each configured app becomes one class of the LP, named after the app: the dataset class it is
mapped to gives the latency budget, processing time and state locality; the store gives the
model and access energy per request, the payload bytes per request and the demand (requests per
second at the app's origin). The dataset's own classes and their assumed demand are left out.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from collector.models import IntensitySample
from collector.placement.inputs import (
    MeasuredClass,
    PlacementConfig,
    PlacementInputError,
    WorkloadClass,
    load_config,
    load_default,
)
from collector.placement.live import apply_intensities
from collector.placement.metrics import break_even, layer_masks, relocatable_share
from collector.placement.model import InfeasibleError, Problem, build_problem
from collector.placement.solve import Solution, solve
from collector.placement.store_source import AppInputs, Refusal, StoreSource
from collector.settings import PlacementSettings
from collector.store import Store

LAYERS = ("local", "regional", "energy_oriented")


def load_dataset(spec: PlacementSettings) -> PlacementConfig:
    """The placement dataset with `carbon_zones` and `signal` applied; names the settings key on
    a dangling class, origin or region."""
    cfg = load_default() if spec.config is None else load_config(spec.config)
    classes = {c.name for c in cfg.classes}
    origins = {o.name for o in cfg.origins}
    regions = {r.name for r in cfg.regions}
    for app, a in spec.apps.items():
        if a.workload_class not in classes:
            raise PlacementInputError(
                f"placement.apps.{app}.class: no class named {a.workload_class!r} in the dataset"
                f" (known: {', '.join(sorted(classes))})"
            )
        if a.origin not in origins:
            raise PlacementInputError(
                f"placement.apps.{app}.origin: no origin named {a.origin!r} in the dataset"
            )
    for region in spec.carbon_zones:
        if region not in regions:
            raise PlacementInputError(
                f"placement.carbon_zones.{region}: no region named {region!r} in the dataset"
            )
    zoned = [
        r.model_copy(update={"carbon_zone": spec.carbon_zones[r.name]})
        if r.name in spec.carbon_zones
        else r
        for r in cfg.regions
    ]
    objective = cfg.objective
    if spec.signal is not None:
        objective = objective.model_copy(update={"signal": spec.signal})
    return cfg.model_copy(update={"regions": zoned, "measured": None, "objective": objective})


def newest_window_end(store: Store) -> float | None:
    ((end,),) = store.query("SELECT max(window_start + window_seconds) FROM windows")
    return None if end is None else float(end)


def measured_config(
    dataset: PlacementConfig, spec: PlacementSettings, inputs: list[AppInputs], tau: float | None
) -> PlacementConfig:
    """The LP problem: one class per advisable app, masks carried over to the app classes."""
    by_name = {c.name: c for c in dataset.classes}
    classes: list[WorkloadClass] = []
    for a in inputs:
        s = spec.apps[a.app]
        tmpl = by_name[s.workload_class]
        classes.append(
            tmpl.model_copy(
                update={
                    "name": a.app,
                    "energy_per_request_joules": a.model_joules_per_request,
                    "access_joules_per_request": a.access_joules_per_request,
                    "payload_bytes": tmpl.payload_bytes
                    if a.bytes_per_request is None
                    else a.bytes_per_request,
                    "demand": {s.origin: a.requests_per_second},
                }
            )
        )
    masks = []
    for m in dataset.masks:
        if not m.classes:
            masks.append(m)
            continue
        names = [a.app for a in inputs if spec.apps[a.app].workload_class in m.classes]
        if names:
            masks.append(m.model_copy(update={"classes": names}))
    frictions = dataset.frictions
    if tau is not None:
        frictions = frictions.model_copy(update={"transport_joules_per_byte_km": tau})
    return dataset.model_copy(update={"classes": classes, "masks": masks, "frictions": frictions})


def compute_advice(
    store: Store,
    dataset: PlacementConfig,
    spec: PlacementSettings,
    *,
    start: float,
    end: float,
    now: float,
    intensities: Iterable[IntensitySample] = (),
    apps: list[str] | None = None,
) -> dict[str, Any]:
    """The advice document for the period [start, end) (JSON-able; see placement.md)."""
    doc, _ = advice_and_config(
        store, dataset, spec, start=start, end=end, now=now, intensities=intensities, apps=apps
    )
    return doc


def period_ending(
    store: Store, seconds: float, end: float | None, now: float
) -> tuple[float, float]:
    """[start, end) of `seconds` ending at `end`, else at the newest window's end, else `now`."""
    stop = end if end is not None else newest_window_end(store)
    stop = now if stop is None else stop
    return stop - seconds, stop


def advice_and_config(
    store: Store,
    dataset: PlacementConfig,
    spec: PlacementSettings,
    *,
    start: float,
    end: float,
    now: float,
    intensities: Iterable[IntensitySample] = (),
    apps: list[str] | None = None,
) -> tuple[dict[str, Any], PlacementConfig | None]:
    """The advice document and the LP problem it solved (None when no app was advisable)."""
    started = time.perf_counter()
    if not end > start:
        raise PlacementInputError(f"the period [{start}, {end}) is empty")
    src = StoreSource(store, start, end)
    names = list(spec.apps) if apps is None else apps
    unknown = [n for n in names if n not in spec.apps]
    if unknown:
        raise PlacementInputError(
            f"apps: {unknown[0]!r} is not in placement.apps (known: {', '.join(spec.apps)})"
        )
    inputs = [
        src.measure(n, MeasuredClass(app=n, inference_nfs=spec.apps[n].inference_nfs), spec)
        for n in names
    ]
    transport = _transport(src, spec, dataset.frictions.transport_joules_per_byte_km)
    tau = transport["joules_per_byte_km"] if transport["source"] == "measured" else None
    samples = list(intensities)
    cfg = apply_intensities(dataset, samples)
    ok = [a for a in inputs if a.refusal is None]
    doc: dict[str, Any] = {
        "computed_at": now,
        "period": {"start": start, "end": end, "seconds": end - start},
        "currency": cfg.currency,
        "objective": cfg.objective.model_dump(),
        "transport": transport,
        "regions": _regions(cfg, samples),
        "error": None,
    }
    results: dict[str, dict[str, Any]] = {}
    lp = measured_config(cfg, spec, ok, tau) if ok else None
    if lp is not None:
        problem = build_problem(lp)
        try:
            sol = solve(problem)
        except (InfeasibleError, RuntimeError) as exc:
            doc["error"] = str(exc)
            refusal = Refusal("no_solution", f"the placement LP has no solution: {exc}")
            inputs = [a if a.refusal else replace(a, refusal=refusal) for a in inputs]
        else:
            results = {a.app: _app_result(sol, spec, a.app) for a in ok}
    doc["apps"] = [_app_entry(a, spec, results.get(a.app)) for a in inputs]
    doc["solve_seconds"] = time.perf_counter() - started
    return doc, lp


def _transport(src: StoreSource, spec: PlacementSettings, dataset_tau: float) -> dict[str, Any]:
    """The J per byte and km the LP uses: measured at the segment, else the dataset's (why)."""
    fallback = {"source": "dataset", "joules_per_byte_km": dataset_tau}
    if spec.transport is None:
        return fallback | {"reason": "placement.transport is not configured"}
    t = src.transport(spec.transport.nfs, spec.transport.path_km)
    out: dict[str, Any] = asdict(t) | {"nfs": list(t.nfs)}
    if t.joules_per_byte_km is None:
        reason = f"no tagged bytes at {', '.join(t.nfs)} in covered windows"
        return out | fallback | {"reason": reason}
    return out | {"source": "measured", "reason": None}


def _regions(cfg: PlacementConfig, samples: list[IntensitySample]) -> list[dict[str, Any]]:
    signal = cfg.objective.signal
    live = {(s.zone, s.signal) for s in samples}
    return [
        {
            "name": r.name,
            "carbon_zone": r.carbon_zone,
            "signal": signal,
            "grams_per_kwh": r.grams_per_kwh_marginal
            if signal == "marginal"
            else r.grams_per_kwh_average,
            "intensity_source": "live" if (r.carbon_zone, signal) in live else "dataset",
            "price_per_kwh": r.price_per_kwh,
        }
        for r in cfg.regions
    ]


def _per_request(p: Problem, k: int, o: int, weights: np.ndarray) -> dict[str, float]:
    c = p.coef
    return {
        "cost": float(np.dot(weights, c.cost[k, o])),
        "co2_grams": float(np.dot(weights, c.carbon_grams[k, o])),
        "joules": float(np.dot(weights, c.energy_joules[k, o])),
    }


def _app_result(sol: Solution, spec: PlacementSettings, app: str) -> dict[str, Any]:
    p = sol.problem
    k, o = p.classes.index(app), p.origins.index(spec.apps[app].origin)
    h = int(p.home[o])
    demand = float(p.demand[k, o])
    shares = sol.flow[k, o] / demand
    local, regional, _ = layer_masks(p)
    layer = ["local" if local[o, r] else "regional" if regional[o, r] else "energy_oriented"
             for r in range(len(p.regions))]  # fmt: skip
    home = np.zeros(len(p.regions))
    home[h] = 1.0
    at_home, chosen = _per_request(p, k, o, home), _per_request(p, k, o, shares)
    rows = [
        asdict(break_even(p, k, o, r))
        for r in range(len(p.regions))
        if r != h and p.allowed[k, o, r]
    ]
    return {
        "home": p.regions[h],
        "relocatable_ratio": relocatable_share(p)[1][app],
        "placement": [
            {
                "region": p.regions[r],
                "share": float(shares[r]),
                "requests_per_second": float(sol.flow[k, o, r]),
                "layer": layer[r],
            }
            for r in np.flatnonzero(shares > 1e-9)
        ],
        "layers": {name: float(shares[[x == name for x in layer]].sum()) for name in LAYERS},
        "home_per_request": at_home,
        "recommended_per_request": chosen,
        "saving_per_request": {key: at_home[key] - chosen[key] for key in at_home},
        "break_even": sorted(rows, key=lambda r: -r["margin"]),
    }


def _app_entry(
    a: AppInputs, spec: PlacementSettings, result: dict[str, Any] | None
) -> dict[str, Any]:
    s = spec.apps[a.app]
    inputs = {k: v for k, v in asdict(a).items() if k not in ("app", "refusal")}
    entry: dict[str, Any] = {
        "app": a.app,
        "class": s.workload_class,
        "origin": s.origin,
        "status": "refused" if a.refusal else "advice",
        "refusal": None if a.refusal is None else asdict(a.refusal),
        "inputs": inputs,
    }
    return entry | (result or {})
