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

With --image REF the same medians (bare, agent) are taken inside that image instead, through
podman with the flags `make images` uses (what a node runs).

Usage: python bench/agent_startup.py [--json] [--runs 7] [--image localhost/e2e-energy-agent:dev]
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


IN_IMAGE = """
import json, resource, statistics, subprocess, sys
def med(cmd):
    t = []
    for _ in range({runs}):
        b = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, capture_output=True, check=True)
        a = resource.getrusage(resource.RUSAGE_CHILDREN)
        t.append(a.ru_utime - b.ru_utime + a.ru_stime - b.ru_stime)
    return statistics.median(t)
print(json.dumps({{"bare": med([sys.executable, "-c", "pass"]),
                  "agent": med(["e2e-energy", "agent", "--help"])}}))
"""


def in_image(image: str, runs: int) -> dict[str, float]:
    """bare and agent medians measured by a Python inside the image (no network, no mounts)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from images import PODMAN, ULIMITS  # the flags podman needs on these machines

    out = subprocess.run(
        [*PODMAN, "run", "--rm", *ULIMITS, "--network=none", "--entrypoint", "python3", image,
         "-c", IN_IMAGE.format(runs=runs)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    figures: dict[str, float] = json.loads(out.stdout)
    return figures


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
    parser.add_argument("--image", help="measure inside this image (podman) instead")
    args = parser.parse_args()
    if args.image:
        got = in_image(args.image, args.runs)
        print(f"in {args.image}: bare {got['bare'] * 1000:.0f} ms, agent --help "
              f"{got['agent'] * 1000:.0f} ms ({got['agent'] / got['bare']:.1f}x bare)")  # fmt: skip
        if args.json:
            print(json.dumps({"image": args.image, "seconds": got}))
        return
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
