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


def _store_settings(tmp_path: Path) -> tuple[Path, Path]:
    """The hand-made store of storefixture and settings whose placement section maps its apps."""
    from tests.placement.storefixture import DATASET, write_store

    (tmp_path / "d.yaml").write_text(DATASET)
    settings = {
        "carbon": {"zones": {"z": {"providers": [
            {"kind": "static", "grams_per_kwh": 100, "signal": "marginal"}]}}},
        "nfs": [{"name": n, "role": r, "zone": "z"}
                for n, r in (("ru1", "ru"), ("upf1", "upf"), ("gpu1", "inference"))],
        "placement": {
            "config": str(tmp_path / "d.yaml"),
            "apps": {"vision": {"class": "interactive", "origin": "o"},
                     "chat": {"class": "interactive", "origin": "o"}},
            "transport": {"nfs": ["upf1"], "path_km": 100},
            "carbon_zones": {"near": "z"},
            "min_requests": 10,
            "min_coverage_ratio": 0.7,
        },
    }  # fmt: skip
    path = tmp_path / "settings.yaml"
    path.write_text(json.dumps(settings))
    return write_store(tmp_path / "s.sqlite"), path


def test_solve_from_store_gives_the_advice_document(tmp_path: Path) -> None:
    store, settings = _store_settings(tmp_path)
    args = ["--from-store", str(store), "--settings", str(settings), "--period", "1m"]
    res = _run("solve", *args, "--end", "60", "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["period"] == {"start": 0.0, "end": 60.0, "seconds": 60.0}
    apps = {a["app"]: a for a in doc["apps"]}
    vision = apps["vision"]["inputs"]
    # storefixture by hand: gpu1 50 J, ru1 + upf1 20 J and 10 requests in each of 3 covered windows
    assert vision["model_joules_per_request"] == 5.0 and vision["access_joules_per_request"] == 2.0
    assert vision["coverage_ratio"] == 0.75
    assert apps["chat"]["refusal"]["reason"] == "no_requests"
    near = next(r for r in doc["regions"] if r["name"] == "near")
    assert near["intensity_source"] == "live" and near["grams_per_kwh"] == 100.0
    # the default end is the newest window's end (60 s), so the same period
    table = _run("solve", *args)
    assert table.returncode == 0, table.stderr
    assert "vision" in table.stdout and "far 100%" in table.stdout
    assert "chat: no requests in the covered windows" in table.stdout


def test_from_store_needs_the_settings_placement_section(tmp_path: Path) -> None:
    store, _ = _store_settings(tmp_path)
    res = _run("solve", "--from-store", str(store))
    assert res.returncode == 2 and "--from-store needs --settings" in res.stderr
    bare = tmp_path / "bare.yaml"
    bare.write_text("{}")
    res = _run("solve", "--from-store", str(store), "--settings", str(bare))
    assert res.returncode == 2 and "no placement section" in res.stderr
    res = _run("solve", "--from-store", str(store), "--settings", str(_store_settings(tmp_path)[1]),
               "--period", "soon")  # fmt: skip
    assert res.returncode == 2 and "'soon' is not a duration" in res.stderr


def test_simulate_writes_no_file_without_plot(tmp_path: Path) -> None:
    """No surprise files: without --plot nothing lands in the working directory."""
    store, settings = _store_settings(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    args = ["--from-store", str(store), "--settings", str(settings), "--period", "60s"]
    for fmt in ("table", "json"):
        res = subprocess.run(
            [sys.executable, "-m", "collector", "placement", "simulate", *args, "--format", fmt],
            cwd=work, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        assert list(work.iterdir()) == []
    body = json.loads(res.stdout)
    assert "plot" not in body and body["advice"]["apps"][0]["app"] == "vision"
    assert [c["name"] for c in body["classes"]] == ["vision"]  # the measured app is the class
    png = tmp_path / "f.png"
    res = _run("simulate", *args, "--plot", str(png))
    assert res.returncode == 0, res.stderr
    assert png.read_bytes()[:4] == b"\x89PNG" and f"plot written to {png}" in res.stdout
