"""The live attributor scraped by a REAL Prometheus: PromQL returns the per-app totals computed
by hand from the inputs, and attributed + unattributed = measured per NF summed in PromQL.

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


# Hand-computed from tests/data/attribution (make_inputs.py): 60 s = four 15 s windows.
# ru1, 4 W counter, idle fixed 2 W: 60 J a window = 30 J static by packets + 30 J dynamic by
#   bytes, tagged only. factory-vision 30 pkt / 3000 B, chat 15 pkt / 4500 B a window:
#   factory-vision 30 x 2/3 + 30 x 0.4 = 32 J, chat 30 x 1/3 + 30 x 0.6 = 28 J.
# du1, here a 3 W counter, idle none: 45 J a window, all dynamic by bytes over 3000 + 4500 B
#   tagged and 9000 B total: factory-vision 15 J, chat 22.5 J, untagged 7.5 J.
# vlm, 10 W counter: 150 J a window by requests, 3 : 1 -> 112.5 J and 37.5 J.
# CO2: ran-site (ru1, du1) 400 g/kWh, datacentre (vlm) 250 g/kWh.
EXPECTED_JOULES = {"factory-vision": 4 * (32 + 15 + 112.5), "chat": 4 * (28 + 22.5 + 37.5)}
EXPECTED_REQUESTS = {"factory-vision": 12.0, "chat": 4.0}
EXPECTED_CO2 = (4 * (32 + 15 + 28 + 22.5) * 400 + 4 * 150 * 250) / 3.6e6
EXPECTED_NF = {"ru1": (240.0, 0.0), "du1": (180.0, 30.0), "vlm": (600.0, 0.0)}  # measured, unattr.


def by_label(rows: list[dict[str, object]], label: str) -> dict[str, float]:
    return {r["metric"][label]: float(r["value"][1]) for r in rows}  # type: ignore[index]


def test_promql_returns_the_hand_computed_per_app_totals(
    attributor: tuple[str, Path], prometheus: str
) -> None:
    _, inputs = attributor
    query = "sum by (app) (e2e_energy_app_joules_total)"
    deadline = time.monotonic() + 120  # scrapes every second; the budget is for a loaded machine
    got: dict[str, float] = {}
    while time.monotonic() < deadline:
        try:
            got = by_label(promql(prometheus, query), "app")
        except httpx.HTTPError:
            got = {}
        if got and all(got.get(a) == pytest.approx(v) for a, v in EXPECTED_JOULES.items()):
            break
        time.sleep(0.5)
    assert got == pytest.approx(EXPECTED_JOULES, rel=1e-9)
    requests = by_label(promql(prometheus, "e2e_energy_app_requests_total"), "app")
    assert requests == EXPECTED_REQUESTS
    co2 = promql(prometheus, 'sum(e2e_energy_app_co2_grams_total{carbon_basis="location"})')
    assert float(co2[0]["value"][1]) == pytest.approx(EXPECTED_CO2, rel=1e-9)  # type: ignore[index]
    down = promql(prometheus, "e2e_energy_source_up == 0")
    assert {r["metric"]["source"] for r in down} >= {"pdu", "kepler", "requests"}  # type: ignore[index]
    # conservation summed independently of the attributor's own ratio, per NF:
    # attributed (the app series) + unattributed (its reasons) = measured
    attributed = by_label(promql(prometheus, "sum by (nf) (e2e_energy_app_joules_total)"), "nf")
    unattributed = by_label(
        promql(prometheus, "sum by (nf) (e2e_energy_nf_unattributed_joules_total)"), "nf"
    )
    measured = by_label(promql(prometheus, "sum by (nf) (e2e_energy_nf_joules_total)"), "nf")
    assert measured == pytest.approx({nf: m for nf, (m, _) in EXPECTED_NF.items()}, rel=1e-9)
    assert unattributed == pytest.approx({nf: u for nf, (_, u) in EXPECTED_NF.items()}, abs=1e-9)
    for nf, m in measured.items():
        assert attributed.get(nf, 0.0) + unattributed[nf] == pytest.approx(m, rel=1e-9), nf
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
    assert {a: v["joules"] for a, v in again.items()} == pytest.approx(EXPECTED_JOULES, rel=1e-9)
