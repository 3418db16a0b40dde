"""`e2e-energy replay` end to end through the CLI, with numbers checked by hand (see
tests/data/attribution/make_inputs.py for the scenario and docs/explanation/attribution.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "attribution"


def replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", "replay", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_replay_json_matches_hand_computed_numbers() -> None:
    out = replay("--inputs", str(DATA / "inputs.jsonl"), "--config", str(DATA / "config.yaml"))
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    fv, chat = r["apps"]["factory-vision"], r["apps"]["chat"]
    # RU 60 J/window: static 30 J by packets 2:1, dynamic 30 J by bytes 3000:4500; 4 windows
    assert fv["nfs"]["ru1"] == {
        "static_joules": 80.0,
        "dynamic_joules": 48.0,
        "joules": 128.0,
        "co2_grams": pytest.approx(128 / 3.6e6 * 400),
        "packets": 120.0,  # 2 pkt/s × 60 s; tests/attribution/test_replay_traffic.py checks more
        "bytes": 12000.0,
    }
    # DU 45 J/window by bytes 3000:4500 with 1500 B untagged; VLM 150 J/window by requests 3:1
    assert fv["nfs"]["du1"]["joules"] == 60.0 and chat["nfs"]["du1"]["joules"] == 90.0
    assert fv["nfs"]["vlm"]["joules"] == 450.0 and chat["nfs"]["vlm"]["joules"] == 150.0
    assert fv["joules"] == 638.0 and fv["requests"] == 12.0
    assert fv["joules_per_request"] == pytest.approx(638 / 12)
    assert fv["co2_grams_market"] == pytest.approx((128 + 60) / 3.6e6 * 400)
    assert fv["embodied_grams"] == pytest.approx(0.04)
    du = r["nfs"]["du1"]
    assert du["measured_joules"] == 180.0 and du["unattributed_joules"] == 30.0
    assert du["unattributed_by_reason"] == {
        "untagged": 30.0,
        "idle_no_traffic": 0.0,
        "catch_up": 0.0,
    }
    assert du["energy_basis"] == "modelled" and du["denominator"] == "all"
    assert r["nfs"]["ru1"]["denominator"] == "tagged_only"
    assert r["nfs"]["vlm"]["denominator"] == "all"  # requests cover every request
    t = r["totals"]
    assert t["measured_joules"] == pytest.approx(t["attributed_joules"] + t["unattributed_joules"])
    assert t["windows"] == 4 and t["unmeasured_seconds"] == 0.0


def test_per_window_and_table(tmp_path: Path) -> None:
    args = ["--inputs", str(DATA / "inputs.jsonl"), "--config", str(DATA / "config.yaml")]
    out = replay(*args, "--per-window")
    windows = json.loads(out.stdout)["windows"]
    assert [w["start"] for w in windows] == [0.0, 15.0, 30.0, 45.0]
    assert windows[0]["apps"]["chat"]["nfs"]["ru1"]["joules"] == 28.0
    table = replay(*args, "--format", "table")
    assert table.returncode == 0
    assert "factory-vision" in table.stdout and "638.000" in table.stdout


def test_no_requests_means_undefined_per_request_energy(tmp_path: Path) -> None:
    lines = [
        line
        for line in (DATA / "inputs.jsonl").read_text().splitlines()
        if '"requests"' not in line
    ]
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("\n".join(lines) + "\n")
    out = replay("--inputs", str(inputs), "--config", str(DATA / "config.yaml"))
    app = json.loads(out.stdout)["apps"]["chat"]
    assert app["requests"] == 0.0
    assert app["joules_per_request"] is None and app["sci_grams_per_request"] is None


def test_malformed_line_is_reported_with_its_number(tmp_path: Path) -> None:
    inputs = tmp_path / "in.jsonl"
    good = '{"t": 0, "kind": "energy", "nf": "ru1", "joules_total": 1}\n'
    inputs.write_text(good + "\n" + '{"t": 1, "kind": "energy", "nf": "ru1"\n')
    out = replay("--inputs", str(inputs), "--config", str(DATA / "config.yaml"))
    assert out.returncode != 0
    assert "line 3" in out.stderr and "not valid JSON" in out.stderr
    inputs.write_text(good + '{"t": 1, "kind": "energy", "nf": "nope", "watts": 1}\n')
    out = replay("--inputs", str(inputs), "--config", str(DATA / "config.yaml"))
    assert "line 2" in out.stderr and "unknown nf 'nope'" in out.stderr
    inputs.write_text('{"t": 1, "kind": "traffic", "nf": "ru1", "app": "a"}\n')
    out = replay("--inputs", str(inputs), "--config", str(DATA / "config.yaml"))
    assert "line 1" in out.stderr and "missing" in out.stderr


def test_unreadable_inputs_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.jsonl"
    out = replay("--inputs", str(missing), "--config", str(DATA / "config.yaml"))
    assert out.returncode != 0 and f"{missing}: cannot read" in out.stderr
    assert "Traceback" not in out.stderr


def test_bad_config_names_key_and_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("window_seconds: 15\nnfs:\n  - {name: ru1, role: ru, colour: blue}\n")
    out = replay("--inputs", str(DATA / "inputs.jsonl"), "--config", str(config))
    assert out.returncode != 0
    assert str(config) in out.stderr and "nfs.0.colour" in out.stderr


def test_unknown_trace_ids_go_to_unknown_app() -> None:
    from collector.attribution import topology_from_settings
    from collector.settings import load_settings

    topo = topology_from_settings(load_settings(DATA / "config.yaml"))
    assert topo.app_for(100, 100) == "factory-vision"
    assert topo.app_for(100, "999") == "unknown"
    assert topo.app_for(7, "other") == "unknown"


GOOD_LINE = '{"t": 0, "kind": "energy", "nf": "ru1", "joules_total": 1}\n'


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('{"t": 5, "kind": "energy", "nf": "du1", "watts": -3}', "watts"),
        ('{"t": 5, "kind": "energy", "nf": "ru1", "joules_total": -1}', "joules_total"),
        (
            '{"t": 5, "kind": "traffic", "nf": "du1", "app": "chat", "direction": "uplink",'
            ' "packets_total": -1, "bytes_total": 10}',
            "packets_total",
        ),
        (
            '{"t": 5, "kind": "traffic_total", "nf": "du1", "packets_total": 1,'
            ' "bytes_total": 100, "link_header_bytes": -14}',
            "link_header_bytes",
        ),
        ('{"t": 5, "kind": "requests", "app": "chat", "requests_total": -2}', "requests_total"),
    ],
)
def test_negative_amounts_are_reported_with_the_line_number(
    tmp_path: Path, line: str, field: str
) -> None:
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(GOOD_LINE + line + "\n")
    out = replay("--inputs", str(inputs), "--config", str(DATA / "config.yaml"))
    assert out.returncode != 0
    assert "line 2" in out.stderr and field in out.stderr and "negative" in out.stderr


def test_invalid_utf8_is_reported_with_the_line_number(tmp_path: Path) -> None:
    inputs = tmp_path / "in.jsonl"
    inputs.write_bytes(GOOD_LINE.encode() + GOOD_LINE.encode() + b'{"t": 1, "nf": "\xff"}\n')
    out = replay("--inputs", str(inputs), "--config", str(DATA / "config.yaml"))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "line 3" in out.stderr and "UTF-8" in out.stderr


def test_absurd_time_span_is_an_error_not_a_hang(tmp_path: Path) -> None:
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(GOOD_LINE + GOOD_LINE.replace('"t": 0', '"t": 1e300'))
    config = str(DATA / "config.yaml")
    out = subprocess.run(
        [sys.executable, "-m", "collector", "replay", "--inputs", str(inputs), "--config", config],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "line 1" in out.stderr and "line 2" in out.stderr and "windows" in out.stderr


def test_missing_co2_is_never_reported_as_zero(tmp_path: Path) -> None:
    lines = (DATA / "inputs.jsonl").read_text().splitlines()
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("\n".join(x for x in lines if '"datacentre"' not in x) + "\n")
    out = replay("--inputs", str(inputs), "--config", str(DATA / "config.yaml"))
    fv = json.loads(out.stdout)["apps"]["factory-vision"]
    assert fv["co2_missing_joules"] == pytest.approx(450.0)
    assert fv["nfs"]["vlm"]["co2_grams"] is None
    assert fv["co2_grams"] == pytest.approx((128 + 60) / 3.6e6 * 400)
    assert fv["sci_grams_per_request"] is None and fv["requests"] == 12.0
    inputs.write_text("\n".join(x for x in lines if '"intensity"' not in x) + "\n")
    out = replay(
        "--inputs", str(inputs), "--config", str(DATA / "config.yaml"), "--format", "table"
    )
    assert out.returncode == 0, out.stderr
    out = replay("--inputs", str(inputs), "--config", str(DATA / "config.yaml"))
    fv = json.loads(out.stdout)["apps"]["factory-vision"]
    assert fv["co2_grams"] is None and fv["co2_missing_joules"] == pytest.approx(638.0)


def test_idle_or_gpu_mode_on_a_power_gauge_is_an_error(tmp_path: Path) -> None:
    """`mode` applies to counters only; a gauge marked idle was silently taken as total power."""
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(
        GOOD_LINE + '{"t": 1, "kind": "energy", "nf": "du1", "watts": 5, "mode": "idle"}\n'
    )
    out = replay("--inputs", str(inputs), "--config", str(DATA / "config.yaml"))
    assert out.returncode == 1 and "line 2" in out.stderr and "mode" in out.stderr


def test_a_window_that_is_not_a_binary_fraction_replays(tmp_path: Path) -> None:
    """k × 7.3 and floor(t / 7.3) × 7.3 differ in the last bit for some k; that must not crash
    replay with "already computed" or "not a multiple"."""
    config = tmp_path / "config.yaml"
    text = (DATA / "config.yaml").read_text()
    config.write_text(text.replace("window_seconds: 15", "window_seconds: 7.3"))
    inputs = tmp_path / "in.jsonl"
    lines = [json.loads(x) for x in (DATA / "inputs.jsonl").read_text().splitlines()]
    inputs.write_text("".join(json.dumps({**x, "t": x["t"] * 30}) + "\n" for x in lines))
    out = replay("--inputs", str(inputs), "--config", str(config))
    assert out.returncode == 0, out.stderr
    totals = json.loads(out.stdout)["totals"]
    assert totals["windows"] == 246
    assert totals["measured_joules"] == pytest.approx(
        totals["attributed_joules"] + totals["unattributed_joules"], rel=1e-9
    )


def test_record_order_in_the_file_does_not_matter(tmp_path: Path) -> None:
    """The engine takes records in any order; energy samples older than an NF's latest one
    were silently dropped, so a file not sorted by time gave other numbers."""
    import random

    lines = (DATA / "inputs.jsonl").read_text().splitlines(keepends=True)
    random.Random(7).shuffle(lines)
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(lines))
    config = str(DATA / "config.yaml")
    shuffled = json.loads(replay("--inputs", str(inputs), "--config", config).stdout)
    ordered = json.loads(replay("--inputs", str(DATA / "inputs.jsonl"), "--config", config).stdout)
    assert shuffled == ordered
