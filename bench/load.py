"""Load: the attributor's API and /metrics under sustained concurrent load while windows close.

Starts the real `e2e-energy attributor` on the loopback (1 s windows, a Kepler-format source
served from this process, per-app traffic from an input file), waits until it is ready, then runs
`hey` (a real HTTP load generator, Debian package `hey`) with half the clients on /metrics and
half on /v1/apps for the duration. Reports latency percentiles per endpoint, status codes (no
5xx is the goal), and every window that fell due during the load: computed or not, and how late
after its due moment (end + settle), a window counted late past one poll interval plus 1 s.
Lateness is taken when the attributor's "window N computed" line arrives (the tick process writes
it straight to stderr once the window is in the store, which the API reads); a sampler thread
also reads /metrics every 0.25 s during the load and reports when each window's end first showed
in `e2e_energy_attributor_last_window_end_timestamp_seconds` (what a scraper sees, the sampler's
own wait under the load included), against the same budget.
Prints figures, never asserts; tests/outputs/test_load.py runs a short bounded version.

Run: .venv/bin/python bench/load.py [--json] [--clients 200] [--seconds 60]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.http_fixture import serve  # noqa: E402

SETTLE = 0.5
POLL = 1.0
WATTS = 50.0


class KeplerServer:
    """Kepler >= 0.10 pod counters growing at WATTS per pod in real time."""

    def __init__(self, pods: int) -> None:
        self.t0 = time.time()
        self.pods = pods
        self.served = contextlib.ExitStack()
        base = self.served.enter_context(serve(self.respond))
        self.url = f"{base}/metrics"

    def respond(self, _req: BaseHTTPRequestHandler) -> tuple[int, bytes, dict[str, str]]:
        return 200, self.text().encode(), {"Content-Type": "text/plain; version=0.0.4"}

    def text(self) -> str:
        joules = WATTS * (time.time() - self.t0)
        lines = ["# TYPE kepler_pod_cpu_joules_total counter"]
        for i in range(self.pods):
            lines.append(
                f'kepler_pod_cpu_joules_total{{pod_id="u{i}",pod_name="nf{i}-0",'
                f'pod_namespace="ran",state="running",zone="package"}} {joules:.3f}'
            )
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        self.served.close()


def write_config(tmp: Path, kepler_url: str, nfs: int, apps: int) -> Path:
    import yaml

    config = {
        "window_seconds": 1,
        "max_gap_seconds": 3,
        "sources": [{"name": "kepler", "kind": "kepler", "url": kepler_url,
                     "interval_seconds": POLL, "timeout_seconds": 2}],
        "nfs": [{"name": f"nf{i}", "role": "du", "node_id": 100 + i,
                 "power": {"source": "kepler", "target": f"ran/nf{i}-0"}} for i in range(nfs)],
        "apps": [{"name": f"app{a}", "traces": []} for a in range(apps)],
    }  # fmt: skip
    path = tmp / "attributor.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def write_inputs(tmp: Path, t0: float, seconds: float, nfs: int, apps: int) -> Path:
    """Per-app traffic at every NF every 0.5 s, from t0 for `seconds`."""
    path = tmp / "traffic.jsonl"
    with path.open("w") as f:
        for k in range(int(2 * seconds)):
            t = t0 + k / 2
            for i in range(nfs):
                for a in range(apps):
                    n = (a + 1) * k
                    counts = {"packets_total": n, "bytes_total": 500 * n}
                    rec = {"t": t, "kind": "traffic", "nf": f"nf{i}", "app": f"app{a}",
                           "direction": "uplink", **counts}  # fmt: skip
                    f.write(json.dumps(rec) + "\n")
    return path


class Attributor:
    """The real attributor process; its stderr is read by a thread that notes when each
    `window START computed` line arrived."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "collector", "attributor", *args],
            cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.url = ""
        self.windows: list[tuple[float, float]] = []  # (window start, arrival unix time)
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            now = time.time()
            self.lines.append(line)
            if m := re.match(r"attributor listening on (\S+)", line):
                self.url = m.group(1)
                self.ready.set()
            elif m := re.match(r"window (\d+) computed", line):
                self.windows.append((float(m.group(1)), now))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)  # it ends at EOF, once the process is gone
        if self.proc.stderr is not None:
            self.proc.stderr.close()


class MetricsSampler(threading.Thread):
    """Reads /metrics every 0.25 s until stopped: (newest window end shown, arrival time)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = url, threading.Event()
        self.seen: list[tuple[float, float]] = []

    def run(self) -> None:
        import urllib.request

        name = "e2e_energy_attributor_last_window_end_timestamp_seconds "
        while not self.stop.wait(0.25):
            try:
                with urllib.request.urlopen(self.url + "/metrics", timeout=30) as r:
                    text = r.read().decode()
            except OSError:
                continue
            now = time.time()
            for line in text.splitlines():
                if line.startswith(name):
                    self.seen.append((float(line.split()[1]), now))


def metrics_report(seen: list[tuple[float, float]], start: float, end: float) -> dict[str, Any]:
    """For each window due in [start, end]: when /metrics first showed its end (or a later one)."""
    due = [s for s in range(math.ceil(start - 1 - SETTLE), math.floor(end - 1 - SETTLE) + 1)]
    lateness = []
    for s in due:
        shown = [t for w_end, t in seen if w_end >= s + 1]
        if shown:
            lateness.append(min(shown) - (s + 1 + SETTLE))
    budget = POLL + 1.0
    return {
        "metrics_windows_seen": len(lateness),
        "metrics_late_windows": sum(1 for x in lateness if x > budget),
        "metrics_lateness_p50_s": round(percentile(sorted(lateness), 0.5), 3),
        "metrics_lateness_max_s": round(max(lateness), 3) if lateness else math.nan,
    }


def hey(url: str, clients: int, seconds: float) -> subprocess.Popen[str]:
    binary = shutil.which("hey")
    if binary is None:
        raise SystemExit("`hey` is not installed (make deps installs it)")
    return subprocess.Popen(
        [binary, "-z", f"{seconds}s", "-c", str(clients), "-t", "30", "-o", "csv", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    i = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[i]


def summarize(csv_text: str) -> dict[str, Any]:
    """hey's per-request CSV (response-time in s, status-code) into figures."""
    times: list[float] = []
    codes: dict[str, int] = {}
    for row in csv.DictReader(io.StringIO(csv_text)):
        times.append(float(row["response-time"]))
        code = row["status-code"]
        codes[code] = codes.get(code, 0) + 1
    times.sort()
    return {
        "requests": len(times),
        "p50_ms": round(1000 * percentile(times, 0.50), 2),
        "p99_ms": round(1000 * percentile(times, 0.99), 2),
        "max_ms": round(1000 * times[-1], 2) if times else math.nan,
        "status": dict(sorted(codes.items())),
        "five_xx": sum(n for c, n in codes.items() if c.startswith("5")),
    }


def windows_report(computed: list[tuple[float, float]], start: float, end: float) -> dict[str, Any]:
    """Windows due (end + settle) inside [start, end]: each computed once, and how late."""
    due = [s for s in range(math.ceil(start - 1 - SETTLE), math.floor(end - 1 - SETTLE) + 1)]
    seen: dict[float, list[float]] = {}
    for s, arrived in computed:
        seen.setdefault(s, []).append(arrived)
    lateness = [seen[s][0] - (s + 1 + SETTLE) for s in due if s in seen]
    budget = POLL + 1.0
    return {
        "windows_due": len(due),
        "windows_missing": [s for s in due if s not in seen],
        "windows_twice": sorted(s for s, v in seen.items() if len(v) > 1),
        "late_windows": sum(1 for x in lateness if x > budget),
        "late_budget_s": budget,
        "lateness_p50_s": round(percentile(sorted(lateness), 0.5), 3),
        "lateness_max_s": round(max(lateness), 3) if lateness else math.nan,
    }


def run(clients: int = 200, seconds: float = 60.0, nfs: int = 6, apps: int = 20) -> dict[str, Any]:
    load_before = os.getloadavg()
    kepler = KeplerServer(nfs)
    tmp = Path(tempfile.mkdtemp(prefix="e2e-load-"))
    att: Attributor | None = None
    try:
        config = write_config(tmp, kepler.url, nfs, apps)
        inputs = write_inputs(tmp, math.floor(time.time()) - 2, seconds + 60, nfs, apps)
        att = Attributor(["--config", str(config), "--store", str(tmp / "store.sqlite"),
                          "--inputs", str(inputs), "--listen", "127.0.0.1:0",
                          "--settle-seconds", str(SETTLE)])  # fmt: skip
        if not att.ready.wait(60):
            raise SystemExit("attributor did not start:\n" + "".join(att.lines))
        deadline = time.time() + 60
        while not att.windows and time.time() < deadline:
            time.sleep(0.1)
        half = max(1, clients // 2)
        sampler = MetricsSampler(att.url)
        sampler.start()
        started = time.time()
        gens = {
            "metrics": hey(att.url + "/metrics", half, seconds),
            "api": hey(att.url + "/v1/apps", clients - half, seconds),
        }
        outputs = {k: p.communicate()[0] for k, p in gens.items()}
        ended = time.time()
        time.sleep(POLL + SETTLE + 1)  # let the last due window arrive
        sampler.stop.set()
        sampler.join(35)
        per = {k: summarize(v) for k, v in outputs.items()}
        every = summarize("".join(
            v if i == 0 else v.split("\n", 1)[1] for i, v in enumerate(outputs.values())
        ))  # fmt: skip
        result = {
            "clients": clients,
            "seconds": seconds,
            "nfs": nfs,
            "apps": apps,
            "rps": round(every["requests"] / (ended - started), 1),
            "all": every,
            "metrics": per["metrics"],
            "api": per["api"],
            **windows_report(att.windows, started, ended),
            **metrics_report(sampler.seen, started, ended),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
        }
        return result
    finally:
        if att is not None:
            att.stop()
        kepler.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    result = run(args.clients, args.seconds)
    if args.json:
        print(json.dumps(result))
        return
    for k, v in result.items():
        print(f"{k:>22}: {v}")


if __name__ == "__main__":
    main()
