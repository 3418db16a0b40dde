"""How long `e2e-energy agent --help` takes, and what it would take if the agent imported the
attributor's packages (numpy, pandas, scipy, FastAPI, pysnmp, the Kubernetes client).

Each figure is the median CPU time (user + system, which a loaded shared machine distorts less
than wall time) of N fresh interpreter starts in this venv:
  bare        `python -c pass`: the interpreter alone
  agent       `e2e-energy agent --help` (what the DaemonSet's image runs through)
  +heavy      the same after importing the packages the agent image leaves out
  attributor  `e2e-energy attributor --help`
and the agent's own imports by `python -X importtime` (cumulative microseconds of the top
modules). Prints ratios against `bare`; never asserts timings.

Usage: python bench/agent_startup.py [--json] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "pandas", "scipy", "fastapi", "pysnmp", "kubernetes")
CLI = "from collector.cli import main; main({args!r})"


def median_seconds(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times)


def importtime(code: str) -> list[tuple[str, int]]:
    """(module, cumulative µs) of the slowest imports of `code`, at any depth."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    rows = []
    for line in out.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((parts[2].strip(), int(parts[1])))
    return sorted(rows, key=lambda r: -r[1])[:8]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    agent = CLI.format(args=["agent", "--help"])
    figures = {
        "bare": median_seconds("pass", args.runs),
        "agent": median_seconds(agent, args.runs),
        "+heavy": median_seconds(f"import {', '.join(HEAVY)}; {agent}", args.runs),
        "attributor": median_seconds(CLI.format(args=["attributor", "--help"]), args.runs),
    }
    for name, seconds in figures.items():
        print(f"{name:<11} {seconds * 1000:8.0f} ms  ({seconds / figures['bare']:.1f}x bare)")
    print(f"agent --help would take {figures['+heavy'] / figures['agent']:.1f}x as long with the "
          f"attributor's packages imported")  # fmt: skip
    top = importtime("import collector.services.agent_cmd")
    for module, micros in top:
        print(f"    {micros / 1000:8.1f} ms  {module}")
    if args.json:
        print(json.dumps({"seconds": figures, "agent_imports_us": dict(top)}))


if __name__ == "__main__":
    main()
