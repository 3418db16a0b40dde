"""The conservation check is a real check: an inconsistent split gives a non-zero
e2e_energy_conservation_error_ratio, published by the exporter, and E2EEnergyConservationError
fires on it in `promtool test rules` with the project's own rules (a consistent split stays
quiet). Without this, forcing the ratio to 0 would silently disable the alert."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.attribution.energy import NfEnergy
from collector.attribution.inputs import NfInput, WindowInputs
from collector.attribution.split import WindowSplit, conservation_error_ratio, split_window
from collector.attribution.topology import NfSpec, Topology
from collector.attribution.totals import Accumulator, make_snapshot
from collector.outputs.exporter import SnapshotCollector, make_registry
from tests.conftest import ROOT, need_binary

RULES = ROOT / "deploy" / "prometheus" / "rules.yaml"


def test_ratio_of_an_inconsistent_split_is_its_relative_error() -> None:
    """NF 0: 100 J measured, rows 30 + 20 J, unattributed 40 J -> |90 - 100| / 100 = 0.1.
    NF 1: 50 J, one row of 50 J -> 0. NF 2: nothing measured, a 2 J row -> 2 J / 1 J = 2.
    NF 3: 10 J measured, rows 4 + 4 J, unattributed 5 J -> 3 J too much: 0.3.
    NF 4: 0.5 J measured, a 0.4 J row -> 0.1 J / 0.5 J = 0.2 (relative, even below 1 J)."""
    measured = np.array([100.0, 50.0, 0.0, 10.0, 0.5])
    entry_nf = np.array([0, 0, 1, 2, 3, 3, 4], dtype=np.int64)
    joules = np.array([30.0, 20.0, 50.0, 2.0, 4.0, 4.0, 0.4])
    unattributed = np.array([40.0, 0.0, 0.0, 5.0, 0.0])
    ratio = conservation_error_ratio(measured, entry_nf, joules, unattributed)
    assert ratio.tolist() == pytest.approx([0.1, 0.0, 2.0, 0.3, 0.2], rel=1e-12)


def _window() -> tuple[Topology, WindowInputs]:
    """du1: 60 J, idle 30 J; a 4 pkt / 300 B, b 2 pkt / 100 B, total 10 pkt / 1000 B."""
    spec = NfSpec("du1", "du", idle_policy="fixed", idle_watts=2.0)
    nf = NfInput(spec, 60.0, idle_joules=30.0, total_packets=10, total_bytes=1000)
    traffic = {
        "traffic_nf": np.array([0, 0], dtype=np.int64),
        "traffic_app": np.array(["a", "b"], dtype=object),
        "traffic_dir": np.array([0, 1], dtype=np.int64),
        "traffic_packets": np.array([4.0, 2.0]),
        "traffic_bytes": np.array([300.0, 100.0]),
    }
    topo = Topology(nfs=(spec,), zones={}, window_seconds=15.0, max_gap_seconds=45.0)
    return topo, WindowInputs(0.0, 15.0, (nf,), **traffic)


def _inconsistent(s: WindowSplit) -> WindowSplit:
    """The same split with every app's dynamic energy counted twice: energy created from nothing."""
    bad = replace(s, dynamic_joules=s.dynamic_joules * 2.0)
    ratio = conservation_error_ratio(
        bad.measured_joules,
        bad.entry_nf,
        bad.static_joules + bad.dynamic_joules,
        bad.untagged_joules + bad.idle_no_traffic_joules + bad.catch_up_joules,
    )
    return replace(bad, conservation_error_ratio=ratio)


def test_a_split_that_creates_energy_has_a_non_zero_ratio() -> None:
    """a: static 30 x 4/10 = 12 J, dynamic 30 x 300/1000 = 9 J; b: 6 J and 3 J; untagged
    30 x 4/10 + 30 x 600/1000 = 30 J. Doubling the dynamic rows adds 12 J to 60 J: ratio 0.2."""
    _, inp = _window()
    s = split_window(inp)
    assert float(s.conservation_error_ratio[0]) <= 1e-12
    assert float((s.static_joules + s.dynamic_joules).sum()) == pytest.approx(30.0)
    assert float(s.untagged_joules[0]) == pytest.approx(30.0)
    assert float(_inconsistent(s).conservation_error_ratio[0]) == pytest.approx(0.2)


def _exported_ratio(s: WindowSplit) -> float:
    """The ratio as the exporter publishes it for du1, from a snapshot built of this split."""
    topo, inp = _window()
    energies = {"du1": NfEnergy(60.0, 0.0, 30.0, "counter")}
    snap = make_snapshot(Accumulator(topo), inp, s, energies, {}, ())
    collector = SnapshotCollector()
    collector.publish(snap)
    text = generate_latest(make_registry(collector)).decode()
    (value,) = (
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "e2e_energy_conservation_error_ratio" and sample.labels == {"nf": "du1"}
    )
    return float(value)


def _promtool_alerts(
    tmp_path: Path, ratio: float, expect_firing: bool
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "rules.yaml").write_text(RULES.read_text())
    description = (
        f"Attributed plus unattributed energy differs from measured energy by a relative "
        f"{ratio!r} (limit 1e-9). This is a bug in the attributor: report it."
    )
    firing = [
        {
            "exp_labels": {"severity": "critical", "nf": "du1"},
            "exp_annotations": {
                "summary": "Energy is not conserved at NF du1",
                "description": description,
            },
        }
    ]
    case = {
        "interval": "1m",
        "input_series": [
            {"series": 'e2e_energy_conservation_error_ratio{nf="du1"}', "values": f"{ratio!r}x15"}
        ],
        "alert_rule_test": [
            {
                "eval_time": "10m",
                "alertname": "E2EEnergyConservationError",
                "exp_alerts": firing if expect_firing else [],
            }
        ],
    }
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [case]}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(tests))
    return subprocess.run(
        [need_binary("promtool"), "test", "rules", "test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_alert_fires_on_an_inconsistent_split(tmp_path: Path) -> None:
    _, inp = _window()
    s = split_window(inp)
    bad = _exported_ratio(_inconsistent(s))
    assert bad == pytest.approx(0.2)
    proc = _promtool_alerts(tmp_path, bad, expect_firing=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    good = _exported_ratio(s)
    assert good <= 1e-12
    proc = _promtool_alerts(tmp_path, good, expect_firing=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and the expectation can fail: the consistent split does not fire the alert
    proc = _promtool_alerts(tmp_path, good, expect_firing=True)
    assert proc.returncode != 0
