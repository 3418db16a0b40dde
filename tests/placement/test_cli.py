"""`e2e-energy placement ...` as a real subprocess: simulate on the default dataset, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", "placement", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_simulate_prints_layer_split_and_writes_plot(tmp_path: Path) -> None:
    png = tmp_path / "frontier.png"
    res = _run("simulate", "--plot", str(png))
    assert res.returncode == 0, res.stderr
    for cls in ("interactive", "standard", "weakly-real-time", "batch"):
        assert cls in res.stdout
    assert "energy-oriented" in res.stdout and "relocatable demand" in res.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_solve_json_layer_shares_add_up() -> None:
    res = _run("solve", "--format", "json")
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    for c in body["classes"]:
        assert abs(c["local_share"] + c["regional_share"] + c["energy_oriented_share"] - 1.0) < 1e-6


def test_infeasible_config_exits_nonzero_naming_class_and_origin(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(
        "classes: [{name: live, latency_budget_ms: 50, energy_per_request_joules: 1,"
        " demand: {lagos: 1}}]\n"
        "origins: [{name: lagos, lat: 6.5, lon: 3.4}]\n"
        "regions: [{name: r, lat: 50, lon: 8, price_per_kwh: 0.1, grams_per_kwh_average: 1,"
        " grams_per_kwh_marginal: 1}]\n"
    )
    res = _run("solve", "--config", str(f))
    assert res.returncode != 0
    assert "class 'live' from origin 'lagos'" in res.stderr


def test_frontier_budgets_for_one_class() -> None:
    res = _run(
        "frontier", "--class", "batch", "--budgets", "60000,60400,3600000", "--format", "json"
    )
    assert res.returncode == 0, res.stderr
    points = json.loads(res.stdout)["batch"]
    objectives = [p["objective_per_million"] for p in points if p["feasible"]]
    assert objectives == sorted(objectives, reverse=True)


def test_frontier_budget_sweep_plot_for_several_classes(tmp_path: Path) -> None:
    png = tmp_path / "sweep.png"
    res = _run(
        "frontier",
        "--class",
        "batch",
        "--class",
        "weakly-real-time",
        "--budgets",
        "60100,60300,3600000",
        "--plot",
        str(png),
    )
    assert res.returncode == 0, res.stderr
    assert "batch+weakly-real-time" in res.stdout
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_unknown_class_is_a_usage_error() -> None:
    res = _run("frontier", "--class", "nope")
    assert res.returncode == 2
    assert "no class named 'nope'" in res.stderr
