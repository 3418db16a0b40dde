"""Measured inputs from a replay JSON output (the issue 5 shape) replace assumed energies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.placement.inputs import PlacementInputError, load_config
from collector.placement.measured import apply_measured

REPLAY = {
    "apps": {
        "factory-vision": {
            "joules": 900.0,
            "co2_grams": 0.1,
            "requests": 10,
            "joules_per_request": 90.0,
            "bytes": 2e6,
            "nfs": {
                "ru1": {
                    "static_joules": 100.0,
                    "dynamic_joules": 100.0,
                    "joules": 200.0,
                    "co2_grams": 0.0,
                },
                "upf1": {
                    "static_joules": 50.0,
                    "dynamic_joules": 50.0,
                    "joules": 100.0,
                    "co2_grams": 0.0,
                },
                "inference1": {
                    "static_joules": 300.0,
                    "dynamic_joules": 300.0,
                    "joules": 600.0,
                    "co2_grams": 0.0,
                },
            },
        }
    },
    "nfs": {},
}

YAML = """
classes:
  - {name: vision, latency_budget_ms: 1500, energy_per_request_joules: 1, demand: {o: 1}}
origins: [{name: o, lat: 0, lon: 0}]
regions:
  - {name: r, lat: 0, lon: 0, price_per_kwh: 0.1, grams_per_kwh_average: 1,
     grams_per_kwh_marginal: 1}
measured:
  replay: replay.json
  classes: {vision: {app: factory-vision, inference_nfs: [inference1]}}
  transport: {app: factory-vision, nfs: [upf1], path_km: 50}
"""


def _write(tmp_path: Path, replay: dict[str, object], yaml_text: str = YAML) -> Path:
    (tmp_path / "replay.json").write_text(json.dumps(replay))
    f = tmp_path / "p.yaml"
    f.write_text(yaml_text)
    return f


def test_replay_output_sets_model_access_and_transport_energy(tmp_path: Path) -> None:
    cfg = apply_measured(load_config(_write(tmp_path, REPLAY)))
    c = cfg.classes[0]
    assert c.energy_per_request_joules == pytest.approx(60.0)  # 600 J / 10 requests
    assert c.access_joules_per_request == pytest.approx(30.0)  # (200 + 100) J / 10
    assert cfg.frictions.transport_joules_per_byte_km == pytest.approx(100.0 / (2e6 * 50))


def test_app_without_requests_is_an_error(tmp_path: Path) -> None:
    replay = json.loads(json.dumps(REPLAY))
    replay["apps"]["factory-vision"]["requests"] = 0
    with pytest.raises(PlacementInputError, match="requests: no requests"):
        apply_measured(load_config(_write(tmp_path, replay)))


def test_missing_app_and_missing_inference_nf_are_named(tmp_path: Path) -> None:
    f = _write(
        tmp_path, REPLAY, YAML.replace("app: factory-vision, inference", "app: nope, inference")
    )
    with pytest.raises(PlacementInputError, match=r"apps\.nope: no such app"):
        apply_measured(load_config(f))
    f = _write(
        tmp_path, REPLAY, YAML.replace("inference_nfs: [inference1]", "inference_nfs: [gpu9]")
    )
    with pytest.raises(PlacementInputError, match="no inference NF"):
        apply_measured(load_config(f))


def test_not_a_replay_output(tmp_path: Path) -> None:
    with pytest.raises(PlacementInputError, match="apps: missing"):
        apply_measured(load_config(_write(tmp_path, {"windows": []})))


def test_real_replay_output_feeds_the_advisor(tmp_path: Path) -> None:
    """`e2e-energy replay` on the attribution branch's hand-checked scenario, then placement."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    data = ROOT / "tests" / "data" / "attribution"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "collector",
            "replay",
            "--inputs",
            str(data / "inputs.jsonl"),
            "--config",
            str(data / "config.yaml"),
            "--format",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    (tmp_path / "replay.json").write_text(out.stdout)
    f = tmp_path / "p.yaml"
    f.write_text(
        "classes: [{name: vision, latency_budget_ms: 1500, energy_per_request_joules: 1,"
        " demand: {o: 1}}]\n"
        "origins: [{name: o, lat: 0, lon: 0}]\n"
        "regions: [{name: r, lat: 0, lon: 0, price_per_kwh: 0.1, grams_per_kwh_average: 1,"
        " grams_per_kwh_marginal: 1}]\n"
        "measured: {replay: replay.json, classes: {vision: {app: factory-vision}}}\n"
    )
    c = apply_measured(load_config(f)).classes[0]
    # hand-checked in tests/attribution/test_replay.py: 638 J over 12 requests, 450 J at the VLM
    assert c.energy_per_request_joules == pytest.approx(450 / 12)
    assert c.access_joules_per_request == pytest.approx((638 - 450) / 12)


def test_transport_uses_the_bytes_at_the_segments_nfs(tmp_path: Path) -> None:
    replay = json.loads(json.dumps(REPLAY))
    replay["apps"]["factory-vision"]["nfs"]["upf1"]["bytes"] = 5e5
    cfg = apply_measured(load_config(_write(tmp_path, replay)))
    assert cfg.frictions.transport_joules_per_byte_km == pytest.approx(100.0 / (5e5 * 50))
    del replay["apps"]["factory-vision"]["nfs"]["upf1"]["bytes"]
    del replay["apps"]["factory-vision"]["bytes"]
    with pytest.raises(PlacementInputError, match=r"apps\.factory-vision\.bytes: needed"):
        apply_measured(load_config(_write(tmp_path, replay)))


def test_real_replay_bytes_give_the_transport_energy(tmp_path: Path) -> None:
    """A real `e2e-energy replay --format json` output through the measured transport path."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    data = ROOT / "tests" / "data" / "attribution"
    out = subprocess.run(
        [sys.executable, "-m", "collector", "replay", "--inputs", str(data / "inputs.jsonl"),
         "--config", str(data / "config.yaml"), "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    head = (
        "classes: [{name: vision, latency_budget_ms: 1500, energy_per_request_joules: 1,"
        " demand: {o: 1}}]\n"
        "origins: [{name: o, lat: 0, lon: 0}]\n"
        "regions: [{name: r, lat: 0, lon: 0, price_per_kwh: 0.1, grams_per_kwh_average: 1,"
        " grams_per_kwh_marginal: 1}]\n"
        "measured: {replay: replay.json, classes: {vision: {app: factory-vision}},"
    )
    (tmp_path / "replay.json").write_text(out.stdout)
    f = tmp_path / "p.yaml"
    # factory-vision at du1: 60 J (45 J/window by bytes 3000 of 4500+1500, 4 windows) over
    # 12 000 B (2 pkt/s × 100 B × 60 s) and 50 km
    f.write_text(head + " transport: {app: factory-vision, nfs: [du1], path_km: 50}}\n")
    cfg = apply_measured(load_config(f))
    assert cfg.frictions.transport_joules_per_byte_km == pytest.approx(60.0 / (12000 * 50))
    # RU and DU together: 128 J + 60 J over the same 12 000 B (both NFs see every byte)
    f.write_text(head + " transport: {app: factory-vision, nfs: [ru1, du1], path_km: 50}}\n")
    cfg = apply_measured(load_config(f))
    assert cfg.frictions.transport_joules_per_byte_km == pytest.approx(188.0 / (12000 * 50))
    # the VLM saw none of the app's bytes: the app-level figure (the busiest NF's) is used
    f.write_text(head + " transport: {app: factory-vision, nfs: [vlm], path_km: 50}}\n")
    cfg = apply_measured(load_config(f))
    assert cfg.frictions.transport_joules_per_byte_km == pytest.approx(450.0 / (12000 * 50))
