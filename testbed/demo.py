"""The demo's run: agents and attributor on a live testbed, a baseline and a what-if phase.

The attributor runs as its own process (`e2e-energy attributor --record`), exactly as it would on
a cluster; the phases' numbers come from replaying its recorded inputs through the same engine,
cut at the phase boundaries (windows are aligned, so each phase is a whole number of windows).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from collector.settings import Settings, TestbedApp, load_settings
from testbed.runner import Testbed, free_port, wait_http


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    start: float
    end: float
    apps: dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Workload:
    """Per-phase overrides of the apps' traffic (None: as in the topology)."""

    payload_factor: float = 1.0
    texts: int | None = None
    words: int | None = None

    def describe(self) -> str:
        parts = [f"payload x {self.payload_factor:g} (lower data rate)"]
        if self.texts is not None:
            parts.append(f"{self.texts} prompt(s) per request")
        if self.words is not None:
            parts.append(f"prompts of at most {self.words} words (lighter model workload)")
        return ", ".join(parts)


WHATIF = Workload(payload_factor=0.25, texts=1, words=16)


def start_agents(bed: Testbed) -> None:
    """One agent per collection node, inside that namespace, reachable over its mgmt link."""
    for node in bed.tb.agent_nodes:
        path = bed.run_dir / f"agent-{node}.yaml"
        path.write_text(yaml.safe_dump(bed.agent_settings(node), sort_keys=False), "utf-8")
        proc = bed.spawn(
            f"agent-{node}",
            [sys.executable, "-m", "collector", "agent", "--config", str(path)],
            node,
        )
        wait_http(bed.agent_url(node), 60, proc)


def start_attributor(bed: Testbed) -> Path:
    """The live attributor in the root namespace; returns the file it records its inputs to."""
    bed.api_port = free_port()
    config = bed.write_settings()
    record = bed.run_dir / "inputs.jsonl"
    proc = bed.spawn(
        "attributor",
        [
            sys.executable,
            "-m",
            "collector",
            "attributor",
            "--config",
            str(config),
            "--record",
            str(record),
        ],
    )
    wait_http(f"http://127.0.0.1:{bed.api_port}/metrics", 90, proc)
    return record


def wait_for_window_edge(bed: Testbed, tick: Callable[[], None]) -> float:
    w = bed.settings.window_seconds
    edge = math.ceil(time.time() / w) * w
    while time.time() < edge:
        tick()
        time.sleep(min(0.2, max(0.0, edge - time.time())))
    return edge


def run_phase(
    bed: Testbed, name: str, duration: float, workload: Workload, tick: Callable[[], None]
) -> Phase:
    """Apps send for `duration` seconds from a window edge; the phase ends on a window edge after
    the last answer, so no window mixes two phases."""
    start = wait_for_window_edge(bed, tick)
    procs = {}
    for app in bed.tb.apps:
        procs[app.app] = bed.start_app(
            app,
            duration,
            payload_bytes=int(app.payload_bytes * workload.payload_factor),
            texts=workload.texts,
            words=_words(app, workload),
        )
    while any(p.poll() is None for p in procs.values()):
        tick()
        time.sleep(0.2)
    end = wait_for_window_edge(bed, tick)
    return Phase(name, start, end, {a: bed.app_stats(a) for a in procs})


def _words(app: TestbedApp, workload: Workload) -> int | None:
    return None if workload.words is None else min(app.prompt_words, workload.words)


def phase_reports(config: Path, record: Path, phases: list[Phase]) -> dict[str, dict[str, Any]]:
    """Replay the recorded inputs and sum each phase's windows (collector.attribution)."""
    from collector.attribution import Engine, topology_from_settings
    from collector.attribution.grid import windows_between
    from collector.attribution.records import read_records
    from collector.attribution.report import build_report

    settings = load_settings(config)
    topology = topology_from_settings(settings)
    with record.open(encoding="utf-8") as stream:
        records = [r for _, r in read_records(stream)]
    engine = Engine(topology)
    engine.ingest(records)
    first = min(r.t for r in records)
    last = max(p.end for p in phases)
    snaps = [engine.compute(s) for s in windows_between(first, last, topology.window_seconds)]
    out = {}
    for p in phases:
        mine = [s for s in snaps if p.start <= s.window_start and s.window_end <= p.end]
        out[p.name] = build_report(mine, market=topology.market_configured)
    return out


def settings_of(bed: Testbed) -> Settings:
    return load_settings(bed.run_dir / "topology.yaml")
