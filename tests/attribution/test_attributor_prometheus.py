"""The live attributor scraped by a REAL Prometheus: PromQL returns the per-app totals that
replay computes from the same inputs.

The attributor is fed from a JSON Lines input file (`--inputs`, the replay format) so that the
expected numbers are known; its configured live sources point at closed ports and are reported
down (e2e_energy_source_up 0) while attribution carries on.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, need_binary

DATA = ROOT / "tests" / "data" / "attribution"
W = 15


def shifted_inputs(path: Path, t0: float) -> None:
    """The replay scenario moved to t0, with the DU as a counter (3 W) instead of a gauge."""
    lines = []
    for line in (DATA / "inputs.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["kind"] == "energy" and rec["nf"] == "du1":
            rec = {"t": rec["t"], "kind": "energy", "nf": "du1", "joules_total": 3.0 * rec["t"]}
        rec["t"] = rec["t"] + t0
        lines.append(json.dumps(rec))
    path.write_text("\n".join(lines) + "\n")


def wait_for_line(log: Path, prefix: str, budget: float) -> str:
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if line.startswith(prefix):
                return line
        time.sleep(0.1)
    raise AssertionError(f"{prefix!r} never appeared in {log}:\n{log.read_text()}")


@pytest.fixture
def attributor(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    t0 = math.floor(time.time() / W) * W - 120
    inputs = tmp_path / "inputs.jsonl"
    shifted_inputs(inputs, t0)
    log = tmp_path / "attributor.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "collector", "attributor", "--config", str(DATA / "config.yaml"),
             "--inputs", str(inputs), "--listen", "127.0.0.1:0", "--store",
             str(tmp_path / "store.sqlite"), "--record", str(tmp_path / "recorded.jsonl"),
             "--settle-seconds", "1"],
            cwd=ROOT, stderr=err, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            line = wait_for_line(log, "attributor listening on ", 120)
            yield line.rsplit(" ", 1)[1], inputs
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def prometheus(tmp_path: Path, attributor: tuple[str, Path]) -> Iterator[str]:
    binary = need_binary("prometheus")
    target = attributor[0].removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: e2e\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def promql(base: str, query: str) -> list[dict[str, object]]:
    r = httpx.get(f"{base}/api/v1/query", params={"query": query}, timeout=5)
    r.raise_for_status()
    return r.json()["data"]["result"]  # type: ignore[no-any-return]


def test_promql_returns_the_replayed_per_app_totals(
    attributor: tuple[str, Path], prometheus: str
) -> None:
    _, inputs = attributor
    expected = json.loads(
        subprocess.run(
            [sys.executable, "-m", "collector", "replay", "--inputs", str(inputs), "--config",
             str(DATA / "config.yaml")],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout
    )["apps"]  # fmt: skip
    query = "sum by (app) (e2e_energy_app_joules_total)"
    deadline = time.monotonic() + 120  # scrapes every second; the budget is for a loaded machine
    got: dict[str, float] = {}
    while time.monotonic() < deadline:
        try:
            got = {r["metric"]["app"]: float(r["value"][1]) for r in promql(prometheus, query)}  # type: ignore[index]
        except httpx.HTTPError:
            got = {}
        if got and all(got.get(a) == pytest.approx(v["joules"]) for a, v in expected.items()):
            break
        time.sleep(0.5)
    assert set(got) == set(expected)
    for app, v in expected.items():
        assert got[app] == pytest.approx(v["joules"], rel=1e-9), app
    requests = {r["metric"]["app"]: float(r["value"][1])  # type: ignore[index]
                for r in promql(prometheus, "e2e_energy_app_requests_total")}  # fmt: skip
    assert requests == {a: v["requests"] for a, v in expected.items()}
    co2 = promql(prometheus, 'sum(e2e_energy_app_co2_grams_total{carbon_basis="location"})')
    assert float(co2[0]["value"][1]) == pytest.approx(  # type: ignore[index]
        sum(v["co2_grams"] for v in expected.values()), rel=1e-9
    )
    down = promql(prometheus, "e2e_energy_source_up == 0")
    assert {r["metric"]["source"] for r in down} >= {"pdu", "kepler", "requests"}  # type: ignore[index]
    err = promql(prometheus, "max(e2e_energy_conservation_error_ratio)")
    assert float(err[0]["value"][1]) <= 1e-9  # type: ignore[index]
    recorded = inputs.parent / "recorded.jsonl"
    again = json.loads(
        subprocess.run(
            [sys.executable, "-m", "collector", "replay", "--inputs", str(recorded), "--config",
             str(DATA / "config.yaml")],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout
    )["apps"]  # fmt: skip
    for app, v in expected.items():  # the recording replays to the same numbers
        assert again[app]["joules"] == pytest.approx(v["joules"], rel=1e-9)
