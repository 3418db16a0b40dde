"""Benchmark: one attribution window with 1k, 10k and 100k (app, NF) entries.

Times the vectorised split (collector.attribution.split) against the pure-Python reference of the
same formulas (tests/attribution/reference.py) measured in the same run, the whole window (split
+ snapshot + running totals), and the /metrics render of 50k series. Prints ratios; never asserts.
Run: .venv/bin/python bench/attribution.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.attribution.inputs import NfInput, WindowInputs
from collector.attribution.snapshot import AppRows, Snapshot, Totals
from collector.attribution.split import split_window
from collector.attribution.topology import NfSpec, Topology
from collector.attribution.totals import Accumulator, make_snapshot
from collector.models import ROLES
from collector.outputs.exporter import SnapshotCollector, make_registry
from tests.attribution.reference import reference_split

N_NF = 50


def window(entries: int, seed: int = 1) -> WindowInputs:
    """`entries` (app, NF) pairs over 50 NFs; every pair has traffic in both directions, and the
    inference NFs split by requests."""
    rng = np.random.default_rng(seed)
    apps_per_nf = entries // N_NF
    nfs = []
    for i in range(N_NF):
        role = ROLES[i % len(ROLES)]
        keys = ("requests", "requests") if role == "inference" else ("packets", "bytes")
        spec = NfSpec(f"nf{i}", role, zone="z", static_key=keys[0], dynamic_key=keys[1],  # type: ignore[arg-type]
                      embodied_grams_per_hour=1.0)  # fmt: skip
        total = float(apps_per_nf * 2000) if i % 2 == 0 else None
        nfs.append(NfInput(spec, 1500.0, idle_joules=600.0, total_packets=total,
                           total_bytes=None if total is None else total * 100,
                           has_requests_source=True, intensity=300.0,
                           market_intensity=0.0))  # fmt: skip
    nf_idx = np.repeat(np.arange(N_NF), apps_per_nf)
    app = np.array([f"app{j}" for j in range(apps_per_nf)], dtype=object)[
        np.tile(np.arange(apps_per_nf), N_NF)
    ]
    n = len(nf_idx)
    packets = rng.integers(1, 1000, 2 * n).astype(float)
    return WindowInputs(
        start=0.0, seconds=15.0, nfs=tuple(nfs),
        traffic_nf=np.concatenate([nf_idx, nf_idx]), traffic_app=np.concatenate([app, app]),
        traffic_dir=np.repeat(np.array([0, 1]), n), traffic_packets=packets,
        traffic_bytes=packets * rng.integers(60, 1500, 2 * n),
        req_nf=nf_idx, req_app=app, req_count=rng.integers(0, 20, n).astype(float),
    )  # fmt: skip


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def full_window(inp: WindowInputs) -> Callable[[], Snapshot]:
    topo = Topology(nfs=tuple(nf.spec for nf in inp.nfs))
    energies = {nf.spec.name: _Energy() for nf in inp.nfs}

    def run() -> Snapshot:
        acc = Accumulator(topo)
        return make_snapshot(acc, inp, split_window(inp), energies, {}, ())  # type: ignore[arg-type]

    return run


class _Energy:
    method = "counter"
    energy_basis = "measured"


def render_snapshot(series: int) -> Snapshot:
    """Totals with `series` samples across app_joules (x2 components) and app_co2 (x2 bases)."""
    rows = series // 4
    apps = np.array([f"app{i % 1000}" for i in range(rows)], dtype=object)
    nfs = np.array([f"nf{i // 1000}" for i in range(rows)], dtype=object)
    values = np.linspace(1.0, 2.0, rows)
    table = AppRows.build(app=apps, nf=nfs, role=np.full(rows, "du", dtype=object),
                          direction=np.full(rows, "uplink", dtype=object), static_joules=values,
                          dynamic_joules=values, co2_grams=values, co2_market_grams=values,
                          embodied_grams=values)  # fmt: skip
    totals = Totals(apps=table)
    return Snapshot(0.0, 15.0, AppRows.empty(), (), {}, totals, market_configured=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    results: dict[str, object] = {"nfs": N_NF, "sizes": {}}
    sizes: dict[str, object] = {}
    for entries in (1_000, 10_000, 100_000):
        inp = window(entries)
        repeat = 3 if entries < 100_000 else 2
        vec = best_of(lambda inp=inp: split_window(inp), repeat)  # type: ignore[misc]
        ref = best_of(lambda inp=inp: reference_split(inp), 1 if entries == 100_000 else repeat)  # type: ignore[misc]
        whole = best_of(full_window(inp), repeat)
        sizes[str(entries)] = {
            "vectorised_split_seconds": round(vec, 6),
            "reference_split_seconds": round(ref, 6),
            "speedup": round(ref / vec, 2),
            "vectorised_window_seconds": round(whole, 6),
            "vectorised_microseconds_per_entry": round(whole / entries * 1e6, 3),
        }
    results["sizes"] = sizes
    collector = SnapshotCollector()
    collector.publish(render_snapshot(50_000))
    registry = make_registry(collector)
    from prometheus_client import generate_latest

    text = generate_latest(registry)
    render = best_of(lambda: generate_latest(registry), 3)
    results["metrics_render"] = {
        "series": sum(1 for line in text.splitlines() if line and not line.startswith(b"#")),
        "seconds": round(render, 4),
        "bytes": len(text),
    }
    s1k, s100k = sizes["1000"], sizes["100000"]
    results["growth_100k_over_1k"] = round(
        s100k["vectorised_window_seconds"] / s1k["vectorised_window_seconds"],
        1,  # type: ignore[index]
    )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for n, r in sizes.items():
        print(f"{n:>7} entries: vectorised {r['vectorised_split_seconds']:.4f}s, "  # type: ignore[index]
              f"reference {r['reference_split_seconds']:.4f}s, x{r['speedup']}, "  # type: ignore[index]
              f"whole window {r['vectorised_window_seconds']:.4f}s")  # type: ignore[index]  # fmt: skip
    print(f"/metrics render: {results['metrics_render']}")


if __name__ == "__main__":
    main()
