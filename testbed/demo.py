"""The demo's run: agents and attributor on a live testbed, a baseline and one phase per lever.

The paper's levers are the choice of model and the data rate. The baseline runs the large model
at the full data rate; then the small model alone, the lower data rate alone, and both (the
what-if). The attributor runs as its own process (`e2e-energy attributor --record`), exactly as
it would on a cluster; the phases' numbers come from replaying its recorded inputs through the
same engine, cut at the phase boundaries (windows are aligned, so each phase is a whole number
of windows). The server's own counters give each model's measured CPU time per request.
"""

from __future__ import annotations

import json
import math
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from collector.settings import load_settings
from testbed.runner import Testbed, free_port, wait_http
from testbed.settings import TestbedFile, load_topology


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    start: float
    end: float
    apps: dict[str, dict[str, Any]]
    model: str
    model_usage: dict[str, tuple[float, float]]
    """task -> (requests, model CPU seconds) in the phase, from the server's own counters."""

    @property
    def unanswered(self) -> int:
        """Requests the apps gave up waiting for: the server fell behind (a busy machine)."""
        return sum(int(a.get("unanswered", 0)) for a in self.apps.values())


@dataclass(frozen=True, slots=True)
class Workload:
    """A phase's levers: which model ("large" or "small" of testbed.models) and the data rate
    (payload x factor: the image sent with each request, scaled down)."""

    name: str
    model: str = "large"
    payload_factor: float = 1.0

    def describe(self, models: dict[str, str]) -> str:
        rate = (
            "full data rate"
            if self.payload_factor == 1
            else (f"payload x {self.payload_factor:g} (lower data rate)")
        )
        return f"{models[self.model]} ({self.model} model), {rate}"

    def short(self, models: dict[str, str]) -> str:
        return f"{self.name}: {models[self.model]}, payload x{self.payload_factor:g}"


LOW_RATE = 0.25
BASELINE = Workload("baseline")
LEVERS = (
    Workload("model", model="small"),
    Workload("data_rate", payload_factor=LOW_RATE),
    Workload("whatif", model="small", payload_factor=LOW_RATE),
)
"""One phase per lever, and both together (the what-if), each against the baseline."""
PHASES = (BASELINE, *LEVERS)


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
    config = bed.write_settings()  # collector.yaml: the topology without its testbed section
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


def fetch_advice(bed: Testbed, phase: Phase) -> dict[str, Any]:
    """The live attributor's placement advice over the phase's windows, asked through its API
    (`POST /v1/placement/advice`): the document whether it advised (200) or refused every app
    (409, the document under `advice`). Other answers raise, naming the status and detail."""
    body = json.dumps({"period_seconds": phase.end - phase.start, "end": phase.end}).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{bed.api_port}/v1/placement/advice",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            doc: dict[str, Any] = json.loads(resp.read())
            return doc
    except urllib.error.HTTPError as exc:
        answer = json.loads(exc.read() or b"{}")
        if exc.code == 409 and isinstance(answer.get("advice"), dict):
            refused: dict[str, Any] = answer["advice"]
            return refused
        raise RuntimeError(f"placement advice: HTTP {exc.code}: {answer.get('detail')}") from None


def wait_for_window_edge(bed: Testbed, tick: Callable[[], None]) -> float:
    w = bed.settings.window_seconds
    edge = math.ceil(time.time() / w) * w
    while time.time() < edge:
        tick()
        time.sleep(min(0.2, max(0.0, edge - time.time())))
    return edge


def server_usage(bed: Testbed) -> dict[tuple[str, str], tuple[float, float]]:
    """(task, model) -> (answered requests, model CPU seconds) so far, from the server."""
    text = wait_http(bed.server_metrics_url, 10)
    out: dict[tuple[str, str], list[float]] = {}
    for line in text.splitlines():
        for index, name in enumerate(
            ("testbed_inference_requests_total", "testbed_inference_model_cpu_seconds_total")
        ):
            if line.startswith(name + "{"):
                labels_text, value = line.rsplit(" ", 1)
                labels = dict(
                    part.split("=", 1) for part in labels_text[len(name) + 1 : -1].split(",")
                )
                key = (labels["task"].strip('"'), labels["model"].strip('"'))
                out.setdefault(key, [0.0, 0.0])[index] = float(value)
    return {k: (v[0], v[1]) for k, v in out.items()}


LEAD_SECONDS = 2.0
"""Quiet time after a phase's first edge before the first request: the counters (polled about
once a second) get a sample inside the phase before anything happens, so no request or packet
of a phase is interpolated into the one before."""
TAIL_SECONDS = 2.5
"""Time left after the last request for its answer before the phase's last edge."""


def phase_seconds(duration: float, window_seconds: float) -> float:
    """Every phase lasts the same whole number of windows (`duration` rounded up). Equal lengths
    give every phase the same static energy per request, so the levers' changes are theirs,
    not the clock's."""
    return max(2, math.ceil(duration / window_seconds - 1e-9)) * window_seconds


def sending_seconds(phase: float) -> float:
    """The apps send from the lead to just before the end, so every window of the phase carries
    traffic (a window without any leaves its static energy unattributed, `idle_no_traffic`,
    which would make phases differ by whether a late answer fell into their last window)."""
    return phase - LEAD_SECONDS - TAIL_SECONDS


def run_phase(
    bed: Testbed,
    duration: float,
    workload: Workload,
    tick: Callable[[], None],
    start: float | None = None,
) -> Phase:
    """A phase of phase_seconds(duration) from a window edge (`start`: the previous phase's end,
    just reached; else the next edge), so no window mixes two phases; the apps send from
    LEAD_SECONDS in until TAIL_SECONDS before its end. Answers still missing then count as
    unanswered."""
    model = getattr(bed.tb.models, workload.model)
    if start is None:
        start = wait_for_window_edge(bed, tick)
    length = phase_seconds(duration, bed.settings.window_seconds)
    end = start + length
    before = server_usage(bed)
    procs = {}
    for app in bed.tb.apps:
        procs[app.app] = bed.start_app(
            app,
            sending_seconds(length),
            payload_bytes=int(app.payload_bytes * workload.payload_factor),
            model=model,
            start_at=start + LEAD_SECONDS,
            stop_at=end - 0.5,
        )
    while any(p.poll() is None for p in procs.values()):
        tick()
        time.sleep(0.2)
    after = server_usage(bed)
    while time.time() < end:
        tick()
        time.sleep(min(0.2, max(0.0, end - time.time())))
    usage = {}
    for (task, name), (n, cpu) in after.items():
        if name == model:
            n0, cpu0 = before.get((task, name), (0.0, 0.0))
            usage[task] = (n - n0, cpu - cpu0)
    return Phase(workload.name, start, end, {a: bed.app_stats(a) for a in procs}, model, usage)


def phase_reports(config: Path, record: Path, phases: list[Phase]) -> dict[str, dict[str, Any]]:
    """Replay the recorded inputs and sum each phase's windows (collector.attribution)."""
    from collector.attribution import Engine, topology_from_settings
    from collector.attribution.grid import windows_between
    from collector.attribution.records import RestartMarker, read_records
    from collector.attribution.report import build_report

    topology = topology_from_settings(load_settings(config))
    with record.open(encoding="utf-8") as stream:
        records = [r for _, r in read_records(stream) if not isinstance(r, RestartMarker)]
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


def settings_of(bed: Testbed) -> TestbedFile:
    """The run's topology (addresses and ports filled in), testbed section included."""
    return load_topology(bed.run_dir / "topology.yaml")
