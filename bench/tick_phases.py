"""Benchmark: the phases of one live-attributor tick, in-process and without HTTP, for growing N
agents, to see which phase's cost per agent grows with N (bench/attributor_tick.py measures
the whole tick over real sockets; this one says where the time goes).

Inputs are the bodies bench/tick_servers.py serves (N agent expositions of 4 apps x 5 nodes x
2 directions, M sources), rendered at simulated times 5 s apart, and the settings
bench/attributor_tick.py gives the attributor. Each tick runs what `LiveAttributor.tick` runs
after its reads, timed phase by phase (process CPU time):
  parse    every agent's `AgentSource.parse` and every source's `parse` (the runtime's parse);
  map      `InputMapper.all` over the tick's readings, as `LiveAttributor._ingest` calls it;
  ingest   `Engine.ingest` of those records;
  compute  `Engine.compute` of the window that ended with the tick;
  state    `Engine.state()` as JSON, which the live attributor stores with its last window.
`gc` is the time the garbage collector ran during the tick (inside the phases above).
Warm-up ticks first fill the engine's history (samples are kept for 2 x max_gap), then the
medians over --repeats ticks are reported, with each phase's cost per agent, its growth
against the previous N (1.0 = linear) and the marginal cost per agent between consecutive N.
Prints figures and ratios; never asserts. `--tree DIR` measures the collector package of
another checkout (e.g. a `git worktree` of main) with this bench; `--profile N` prints the
cProfile of the measured ticks at N instead. `--gc-freeze` freezes what start-up built, as the
attributor's tick process does (compare a run with and one without it).

Run: .venv/bin/python bench/tick_phases.py [--json] [--agents 10,100,1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.attributor_tick import settings_for  # noqa: E402
from bench.tick_servers import KINDS, RENDER, agent_text  # noqa: E402

PHASES = ("parse", "map", "ingest", "compute", "state")
T0 = 1_700_000_000.0
"""Simulated start (a multiple of the 5 s window)."""
WINDOW = 5.0
WARMUP_TICKS = 14
"""Enough 5 s ticks to fill the 2 x max_gap (60 s) of history the engine keeps."""


class GcTimer:
    """Time the garbage collector ran in each phase (gc.callbacks), and its full collections."""

    def __init__(self) -> None:
        self.phase = PHASES[0]
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.full = 0
        self._began = 0.0

    def __call__(self, event: str, info: dict[str, int]) -> None:
        if event == "start":
            self._began = time.process_time()
        else:
            self.seconds[self.phase] += time.process_time() - self._began
            self.full += info["generation"] == 2


class Tick:
    """One attributor's inputs and state at N agents, M sources; `run` is one timed tick."""

    def __init__(self, n: int, m: int, tmp: Path) -> None:
        from collector.agent.scrape import AgentSource
        from collector.attribution.engine import Engine
        from collector.attribution.mapping import InputMapper
        from collector.attribution.topology import topology_from_settings
        from collector.power.registry import build_poller
        from collector.settings import parse_settings

        ca = tmp / "ca.pem"
        ca.write_text("")
        inputs = {
            "agents": [f"http://127.0.0.1:{10_000 + i}/metrics" for i in range(n)],
            "sources": [
                {"kind": KINDS[j % len(KINDS)], "url": f"https://127.0.0.1:{20_000 + j}"}
                for j in range(m)
            ],
        }
        settings = parse_settings(settings_for(inputs, ca))
        topology = topology_from_settings(settings)
        self.mapper = InputMapper(settings, topology)
        self.engine = Engine(topology)
        self.agents = [AgentSource(u, 600) for u in inputs["agents"]]
        self.sources = [
            (s["kind"], r.source)
            for s, r in zip(inputs["sources"], build_poller(settings).runners, strict=True)
        ]
        self.k = 0

    def bodies(self, elapsed: float) -> tuple[list[str], list[Any]]:
        """What the tick's reads return: agent texts, and each source's fetch result."""
        agents = [agent_text(i, elapsed).decode() for i in range(len(self.agents))]
        raws: list[Any] = []
        for kind, _ in self.sources:
            body = RENDER[kind](elapsed)
            if kind == "kepler":
                raws.append((body.decode(), None))
            elif kind == "shelly":
                raws.append(json.loads(body))
            else:
                raws.append(body.decode())
        return agents, raws

    def run(self) -> dict[str, float]:
        """One tick: sample time 2.5 s into window k, then window k-1 is computed."""
        self.k += 1
        t = T0 + WINDOW * self.k + 2.5
        agents, raws = self.bodies(10.0 + WINDOW * self.k)
        out: dict[str, float] = {}
        timer = GcTimer()
        gc.callbacks.append(timer)
        try:
            c = time.process_time()
            lap = _Lap(out, timer)
            reads = [a.parse(text, t) for a, text in zip(self.agents, agents, strict=True)]
            reads += [src.parse(raw, t) for (_, src), raw in zip(self.sources, raws, strict=True)]
            c = lap("parse", "map", c)
            records = self.mapper.all(
                energy=[e for r in reads for e in r.energy],
                traffic=[x for r in reads for x in r.traffic],
                totals=[(r.host, x) for r in reads for x in r.traffic_totals],
                requests=[q for r in reads for q in r.requests],
                intensity=[i for r in reads for i in r.intensity],
            )
            c = lap("map", "ingest", c)
            self.engine.ingest(records)
            c = lap("ingest", "compute", c)
            self.engine.compute(T0 + WINDOW * (self.k - 1))
            c = lap("compute", "state", c)
            json.dumps(self.engine.state())
            lap("state", "", c)
        finally:
            gc.callbacks.remove(timer)
        out["total"] = sum(out[p] for p in PHASES)
        out |= {f"{p}_gc": timer.seconds[p] for p in PHASES}
        out["gc"] = sum(timer.seconds.values())
        out["gc_full_collections"] = timer.full
        out["records"] = len(records)
        return out


class _Lap:
    """Ends one phase (its CPU time into `out`) and starts the next for the gc timer."""

    def __init__(self, out: dict[str, float], timer: GcTimer) -> None:
        self.out, self.timer = out, timer

    def __call__(self, phase: str, following: str, began: float) -> float:
        now = time.process_time()
        self.out[phase] = now - began
        self.timer.phase = following or phase
        return now


def measure(n: int, m: int, repeats: int, tmp: Path, freeze: bool = False) -> dict[str, Any]:
    tick = Tick(n, m, tmp)
    if freeze:  # what the attributor's tick process does after start-up
        gc.collect()
        gc.freeze()
    for _ in range(WARMUP_TICKS):
        tick.run()
    runs = [tick.run() for _ in range(repeats)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    gc.unfreeze()
    return {"agents": n, "sources": m, "ticks": repeats, "gc_freeze": freeze, **med}


def growth(results: list[dict[str, Any]]) -> None:
    """Per phase: cost per agent, its growth against the previous N (1.0 = linear) and the
    marginal cost per agent from the previous N."""
    prev: dict[str, Any] | None = None
    for r in results:
        n = r["agents"]
        for p in (*PHASES, "total"):
            r[f"{p}_per_agent_ms"] = 1000 * r[p] / n
            if prev is not None:
                r[f"{p}_per_agent_growth"] = _ratio(r[p] / n, prev[p] / prev["agents"])
                r[f"{p}_marginal_per_agent_ms"] = 1000 * (r[p] - prev[p]) / (n - prev["agents"])
        prev = r


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def profile(n: int, m: int, repeats: int, tmp: Path, top: int) -> None:
    import cProfile
    import pstats

    tick = Tick(n, m, tmp)
    for _ in range(WARMUP_TICKS):
        tick.run()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(repeats):
        tick.run()
    prof.disable()
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(top)


def print_row(r: dict[str, Any]) -> None:
    print(f"N={r['agents']:>5}, {r['records']:g} records per tick:", flush=True)
    for p in (*PHASES, "total"):
        g = r.get(f"{p}_per_agent_growth")
        gc_ms = 1000 * r["gc" if p == "total" else f"{p}_gc"]
        print(
            f"    {p:<8} {1000 * r[p]:8.1f} ms (gc {gc_ms:6.1f}), {r[f'{p}_per_agent_ms']:.3f} ms"
            " per agent" + (f", x{g:.2f} per agent vs the previous N" if g else ""),
            flush=True,
        )
    print(f"    full gc collections per tick {r['gc_full_collections']:g}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    ap.add_argument("--agents", default="10,100,1000", help="comma-separated N (ascending)")
    ap.add_argument("--sources", type=int, default=10, help="M sources")
    ap.add_argument("--repeats", type=int, default=5, help="measured ticks per N (median)")
    ap.add_argument("--tree", type=Path, help="a checkout whose collector package to measure")
    ap.add_argument("--profile", type=int, metavar="N", help="print the cProfile at N agents")
    ap.add_argument("--top", type=int, default=40, help="functions the profile lists")
    ap.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after building, as the attributor's tick process does after start-up",
    )
    args = ap.parse_args()
    if args.tree is not None:
        sys.path.insert(0, str(args.tree.resolve()))
    import collector

    code = str(Path(collector.__file__).parent)
    with tempfile.TemporaryDirectory(prefix="tick-phases-") as d:
        if args.profile is not None:
            profile(args.profile, args.sources, args.repeats, Path(d), args.top)
            return
        results = []
        for n in (int(x) for x in args.agents.split(",")):
            results.append(measure(n, args.sources, args.repeats, Path(d), args.gc_freeze))
            growth(results)
            if not args.json:
                print_row(results[-1])
    load = os.getloadavg()
    if args.json:
        doc = {"benchmark": "attributor.tick_phases", "code": code, "load_avg": load}
        print(json.dumps(doc | {"results": results}, indent=2))
    else:
        print(f"code {code}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
