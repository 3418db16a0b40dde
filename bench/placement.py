"""Placement LP solve time for 100, 1,000 and 10,000 origins × 50 regions × 4 classes.

Prints, per size: variables, time to build the arrays, HiGHS solve time, the time of the
uncapacitated per-class argmin (the baseline measured in the same run), and the ratios: LP over
baseline and how each stage scales against the smallest size. `--json` for machines.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.placement.inputs import PlacementConfig, parse_config
from collector.placement.model import build_problem
from collector.placement.solve import solve

CLASSES = [  # the default dataset's four latency classes
    ("interactive", 300.0, 150.0, 30.0, 5e4),
    ("standard", 1500.0, 800.0, 150.0, 2e5),
    ("weakly-real-time", 60_000.0, 5000.0, 600.0, 5e5),
    ("batch", 3_600_000.0, 60_000.0, 3000.0, 1e6),
]


def synthetic(n_origins: int, n_regions: int, seed: int = 7) -> PlacementConfig:
    """Random origins near random regions; every region is capped at twice its fair share of
    the demand's IT power, so the cheapest regions fill up and capacity binds."""
    rng = np.random.default_rng(seed)
    lat_r, lon_r = rng.uniform(-45, 65, n_regions), rng.uniform(-170, 170, n_regions)
    demand_per_origin = [float(x) for x in rng.uniform(1, 20, n_origins)]
    total_it_kw = sum(sum(demand_per_origin) * c[3] for c in CLASSES) / 1000
    regions = [
        {
            "name": f"r{j}",
            "lat": float(lat_r[j]),
            "lon": float(lon_r[j]),
            "price_per_kwh": float(rng.uniform(0.05, 0.3)),
            "pue": float(rng.uniform(1.1, 1.7)),
            "grams_per_kwh_average": float(rng.uniform(20, 800)),
            "grams_per_kwh_marginal": float(rng.uniform(300, 1000)),
            "capacity_kw": float(total_it_kw / n_regions * 2.0),
        }
        for j in range(n_regions)
    ]
    origins = [
        {
            "name": f"o{i}",
            "lat": float(lat_r[i % n_regions] + rng.normal(0, 3)),
            "lon": float(lon_r[i % n_regions] + rng.normal(0, 3)),
        }
        for i in range(n_origins)
    ]
    classes = [
        {
            "name": n,
            "latency_budget_ms": b,
            "processing_ms": p,
            "energy_per_request_joules": e,
            "payload_bytes": pb,
            "demand": {f"o{i}": d for i, d in enumerate(demand_per_origin)},
        }
        for n, b, p, e, pb in CLASSES
    ]
    frictions = {
        "egress_per_gb": 0.02,
        "migration_per_request": 1e-5,
        "transport_joules_per_byte_km": 1.35e-8,
    }
    return parse_config(
        {"classes": classes, "origins": origins, "regions": regions, "frictions": frictions},
        "bench",
    )


def measure(n_origins: int, n_regions: int) -> dict[str, Any]:
    cfg = synthetic(n_origins, n_regions)
    t0 = time.perf_counter()
    problem = build_problem(cfg)
    t1 = time.perf_counter()
    sol = solve(problem)
    t2 = time.perf_counter()
    masked = np.where(problem.allowed, problem.coef.objective, np.inf)
    greedy = float(np.sum(problem.demand * masked.min(axis=2)))
    t3 = time.perf_counter()
    return {
        "origins": n_origins,
        "regions": n_regions,
        "classes": len(cfg.classes),
        "variables": sol.variables,
        "build_seconds": t1 - t0,
        "solve_seconds": t2 - t1,
        "highs_seconds": sol.solve_seconds,
        "baseline_argmin_seconds": t3 - t2,
        "feasible_triples": int((problem.allowed & (problem.demand > 0)[:, :, None]).sum()),
        "method": "full LP" if sol.iterations == 1 else "column generation",
        "iterations": sol.iterations,
        "lp_over_argmin_objective": sol.objective_per_second / greedy,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--regions", type=int, default=50)
    args = ap.parse_args()
    rows = [measure(int(n), args.regions) for n in args.sizes.split(",")]
    base = rows[0]
    for r in rows:
        r["solve_ratio_vs_smallest"] = r["solve_seconds"] / base["solve_seconds"]
        r["size_ratio_vs_smallest"] = r["origins"] / base["origins"]
        r["lp_over_baseline_time"] = r["solve_seconds"] / max(r["baseline_argmin_seconds"], 1e-9)
    if args.json:
        print(json.dumps({"benchmark": "placement", "rows": rows}, indent=2))
        return
    for r in rows:
        print(
            f"{r['origins']:>6} origins × {r['regions']} regions × {r['classes']} classes: "
            f"{r['feasible_triples']:>8} triples ({r['method']}, {r['variables']} columns), "
            f"build {r['build_seconds']:.2f} s, "
            f"solve {r['solve_seconds']:.2f} s "
            f"(×{r['solve_ratio_vs_smallest']:.1f} for ×{r['size_ratio_vs_smallest']:.0f} origins; "
            f"{r['lp_over_baseline_time']:.0f}× the argmin baseline), "
            f"rss {r['max_rss_mib']:.0f} MiB"
        )


if __name__ == "__main__":
    main()
