"""Benchmark: the live attributor's CPU per tick with N agents and M sources, against the
pre-refactor code path measured in the same run, plus the API's latency during ticks.

Inputs are real servers on the loopback in a process of their own (bench/tick_servers.py): N
agent expositions over HTTP (4 apps x 5 nodes x 2 directions each) and M sources over TLS with a
CA made here. Each code tree runs in its own attributor process (bench/tick_worker.py): the
baseline is commit BASELINE (before the source runtime) extracted with `git archive`, the other
is this checkout. CPU is the worker's process CPU time per tick (median), not wall time; the
API client calls /v1/apps, /v1/nfs and /metrics while the worker ticks back to back, and p50/p99
are over the requests that started during a tick. Linearity in N, per code tree: the CPU per
tick per agent, cost(N)/N, the marginal CPU per agent between consecutive N,
(cost(N2) - cost(N1)) / (N2 - N1), and the ratio of each interval's marginal to the previous
interval's (1.0 = linear; above 1, each added agent costs more than the ones before did).
Prints ratios; never asserts.
Run: .venv/bin/python bench/attributor_tick.py [--json] [--agents 10,100,1000] [--sources 10]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.tls_fixture import self_signed  # noqa: E402

BASELINE = "033d160"
API_PATHS = ("/v1/apps", "/metrics", "/v1/nfs")


def settings_for(inputs: dict[str, Any], ca: Path) -> dict[str, Any]:
    """Every source and agent wired to NFs, so the engine does its real work per tick."""
    sources = []
    for j, s in enumerate(inputs["sources"]):
        entry: dict[str, Any] = {"name": f"{s['kind']}-{j}", "kind": s["kind"], "url": s["url"]}
        entry |= {"ca_file": str(ca), "timeout_seconds": 600, "interval_seconds": 1}
        if s["kind"] == "prometheus_counter":
            entry |= {"metric": "vllm:request_success_total", "label": "model_name"}
            entry["app_map"] = {"vlm": "app-100"}
        sources.append(entry)
    names = {s["kind"]: s["name"] for s in reversed(sources)}
    nfs = [
        {"name": "ru", "role": "ru", "node_id": 4113,
         "power": {"source": names["shelly"], "target": "0"}},
        {"name": "du", "role": "du", "node_id": 4114,
         "power": {"source": names["kepler"], "target": {"namespace": "ran", "pod": "du-0"}},
         "traffic_total": {"source": "agent", "interfaces": ["eth1"]}},
        {"name": "cu", "role": "cu", "node_id": 4115,
         "power": {"source": names["kepler"], "target": {"namespace": "ran", "pod": "du-1"}}},
        {"name": "upf", "role": "upf", "node_id": 4116,
         "power": {"source": names["kepler"], "target": {"namespace": "core", "pod": "upf-10"}}},
        {"name": "vlm", "role": "inference", "node_id": 4117,
         "power": {"source": names["dcgm"], "target": "gpu/0"}},
    ]  # fmt: skip
    return {
        "window_seconds": 5,
        "max_gap_seconds": 30,
        "agents": {"urls": inputs["agents"], "timeout_seconds": 600},
        "sources": sources,
        "carbon": {"zones": {"default": {"providers": [{"kind": "static", "grams_per_kwh": 300}]}}},
        "nfs": nfs,
        "apps": [
            {"name": f"app-{t}", "traces": [{"namespace_id": 1, "trace_id": t}]}
            for t in (100, 101, 102, 103)
        ],
    }


class ApiClient(threading.Thread):
    """Calls the API over one keep-alive connection until stopped; (start, latency) pairs."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.stop, self.samples = port, threading.Event(), []

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        i = 0
        while not self.stop.is_set():
            t0 = time.time()
            try:
                conn.request("GET", API_PATHS[i % len(API_PATHS)])
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                break  # the worker shut its server down
            self.samples.append((t0, time.time() - t0))
            i += 1
            time.sleep(0.005)
        conn.close()


def run_worker(tree: Path, settings: Path, work: Path, ticks: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "tick_worker.py"),
        str(settings),
        str(work),
        str(ticks),
        "8",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    client: ApiClient | None = None
    done: dict[str, Any] = {}
    for line in proc.stdout:
        msg = json.loads(line)
        if msg["event"] == "listening":
            port, code = msg["port"], msg["code"]
        elif msg["event"] == "api":
            client = ApiClient(port)
            client.start()
        elif msg["event"] == "done":
            done = msg
    proc.wait()
    assert client is not None and done, f"worker failed ({proc.returncode})"
    client.stop.set()
    client.join()
    intervals = done["intervals"]
    during = [lat for t0, lat in client.samples if any(a <= t0 <= b for a, b in intervals)]
    idle = [lat for t0, lat in client.samples if done["idle"][0] <= t0 <= done["idle"][1]]
    return {
        "code": code,
        "cpu_per_tick_s": done["median"],
        "cpu_ticks_s": done["cpu"],
        "api_requests_during_ticks": len(during),
        **percentiles("api", during),
        **percentiles("api_idle", idle),
    }


def percentiles(prefix: str, latencies: list[float]) -> dict[str, float | None]:
    """p50 and p99 in ms (nearest rank); None without samples."""
    s = sorted(latencies)
    if not s:
        return {f"{prefix}_p50_ms": None, f"{prefix}_p99_ms": None}
    return {
        f"{prefix}_p50_ms": 1000 * s[len(s) // 2],
        f"{prefix}_p99_ms": 1000 * s[min(len(s) - 1, int(0.99 * len(s)))],
    }


def run(n: int, m: int, ticks: int, base_tree: Path, tmp: Path) -> dict[str, Any]:
    cert, key = self_signed(tmp)
    servers = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "tick_servers.py"), str(n), str(m), cert, key],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert servers.stdout is not None
        inputs = json.loads(servers.stdout.readline())
        path = tmp / f"settings-{n}.yaml"
        path.write_text(yaml.safe_dump(settings_for(inputs, cert)))
        out: dict[str, Any] = {"agents": n, "sources": m}
        for label, tree in (("baseline", base_tree), ("new", ROOT)):
            work = tmp / f"{label}-{n}"
            work.mkdir()
            out[label] = run_worker(tree, path, work, ticks)
        out["cpu_ratio"] = out["baseline"]["cpu_per_tick_s"] / out["new"]["cpu_per_tick_s"]
        return out
    finally:
        servers.stdin.close()  # type: ignore[union-attr]
        servers.wait(timeout=30)


def extract_baseline(tmp: Path) -> Path:
    tree = tmp / "baseline"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", BASELINE], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    ap.add_argument("--agents", default="10,100,1000", help="comma-separated N")
    ap.add_argument("--sources", type=int, default=10, help="M sources over TLS")
    ap.add_argument("--ticks", type=int, default=5, help="measured ticks per run (at most)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="attributor-tick-") as d:
        tmp = Path(d)
        base = extract_baseline(tmp)
        results = []
        for n in (int(x) for x in args.agents.split(",")):
            (tmp / str(n)).mkdir()
            results.append(run(n, args.sources, args.ticks, base, tmp / str(n)))
            if not args.json:
                print_row(results[-1])
    load = os.getloadavg()
    lin = {label: linearity(results, label) for label in ("baseline", "new")}
    if args.json:
        doc = {
            "benchmark": "attributor.tick",
            "baseline": BASELINE,
            "load_avg": load,
            "results": results,
            "linearity": lin,
        }
        print(json.dumps(doc, indent=2))
    else:
        print_linearity(lin)
        print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs")


def linearity(results: list[dict[str, Any]], label: str) -> dict[str, Any]:
    """CPU per tick per agent at each N, the marginal CPU per agent between consecutive N and
    the ratio of consecutive marginals (1.0 = linear)."""
    points = sorted((r["agents"], r[label]["cpu_per_tick_s"]) for r in results)
    marginal = [
        {"from_agents": n1, "to_agents": n2, "cpu_per_agent_s": (c2 - c1) / (n2 - n1)}
        for (n1, c1), (n2, c2) in itertools.pairwise(points)
        if n2 > n1
    ]
    for prev, m in itertools.pairwise(marginal):
        p = prev["cpu_per_agent_s"]
        m["ratio_to_previous"] = m["cpu_per_agent_s"] / p if p > 0 else None
    return {
        "cpu_per_tick_per_agent_s": {str(n): c / n for n, c in points},
        "marginal": marginal,
    }


def print_linearity(lin: dict[str, dict[str, Any]]) -> None:
    for label, x in lin.items():
        per = ", ".join(f"N={n} {1000 * c:.2f}" for n, c in x["cpu_per_tick_per_agent_s"].items())
        print(f"{label}: CPU per tick per agent (ms): {per}", flush=True)
        for m in x["marginal"]:
            ratio = m.get("ratio_to_previous")
            print(
                f"    marginal N={m['from_agents']}->{m['to_agents']}: "
                f"{1000 * m['cpu_per_agent_s']:.2f} ms per agent"
                + (f", x{ratio:.2f} the previous interval's (1.0 = linear)" if ratio else ""),
                flush=True,
            )


def print_row(r: dict[str, Any]) -> None:
    b, n = r["baseline"], r["new"]
    print(
        f"N={r['agents']:>5} M={r['sources']}: CPU/tick baseline {b['cpu_per_tick_s']:.3f}s, "
        f"new {n['cpu_per_tick_s']:.3f}s, ratio {r['cpu_ratio']:.1f}x",
        flush=True,
    )
    for label, x in (("baseline", b), ("new", n)):
        print(
            f"    API p50/p99 ms {label}: during ticks {x['api_p50_ms']:.1f}/{x['api_p99_ms']:.1f}"
            f" ({x['api_requests_during_ticks']} requests), idle "
            f"{x['api_idle_p50_ms']:.1f}/{x['api_idle_p99_ms']:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
