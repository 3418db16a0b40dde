"""Benchmark: reading Kepler exposition with 100, 1k and 10k pods (>=0.10, four zones each).

Times collector.power.kepler (parse, zone pick, pod selection, monotonic accumulation) against
the bare prometheus_client text parse of the same text, measured in the same run, and prints
the ratio (our overhead over parsing alone). Never asserts.
Run: .venv/bin/python bench/sources.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client.parser import text_string_to_metric_families

from collector.power.kepler import KeplerReader, parse_kepler
from collector.settings import KeplerSource

ZONES = ("package", "core", "dram", "psys")


def exposition(pods: int, step: int) -> str:
    lines = ["# TYPE kepler_pod_cpu_joules_total counter"]
    for i in range(pods):
        for z, zone in enumerate(ZONES):
            lines.append(
                f'kepler_pod_cpu_joules_total{{pod_id="uid-{i}",pod_name="p-{i}",'
                f'pod_namespace="ns-{i % 10}",state="running",zone="{zone}"}} '
                f"{1000.0 * i + 10.0 * step + z}"
            )
    return "\n".join(lines) + "\n"


def best_of_interleaved(
    a: Callable[[], object], b: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Best time of each, alternating a and b so machine noise hits both alike."""
    ta, tb = [], []
    for _ in range(repeat):
        for fn, acc in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return min(ta), min(tb)


def run(pods: int) -> dict[str, float]:
    texts = [exposition(pods, k) for k in range(3)]
    reader = KeplerReader(KeplerSource(name="k", kind="kepler", url="http://unused"))
    repeat = 7 if pods <= 1000 else 3
    state = {"i": 0}

    def ours() -> object:
        state["i"] += 1
        parsed = parse_kepler(texts[state["i"] % 3])
        return reader.samples(parsed, float(state["i"]))

    def baseline() -> object:
        state["i"] += 1
        text = texts[state["i"] % 3]
        return [s for f in text_string_to_metric_families(text) for s in f.samples]

    base_s, ours_s = best_of_interleaved(baseline, ours, repeat)
    return {
        "pods": pods,
        "series": pods * len(ZONES),
        "baseline_parse_seconds": base_s,
        "kepler_read_seconds": ours_s,
        "ratio_vs_parse": ours_s / base_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args()
    results = [run(n) for n in (100, 1000, 10_000)]
    if args.json:
        print(json.dumps({"benchmark": "sources.kepler", "results": results}, indent=2))
        return
    for r in results:
        print(
            f"{r['pods']:>6} pods ({r['series']:>6} series): "
            f"parse {r['baseline_parse_seconds']:.4f}s, "
            f"kepler read {r['kepler_read_seconds']:.4f}s, ratio {r['ratio_vs_parse']:.2f}x"
        )


if __name__ == "__main__":
    main()
