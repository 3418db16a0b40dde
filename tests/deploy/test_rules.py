"""The Prometheus rules load in promtool and pass their unit tests; they use only the project's
metric names."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.conftest import need_binary
from tests.metric_names import KNOWN_METRICS, RECORDED_PREFIXES


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    promtool = need_binary("promtool")
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_rules_load(repo_root: Path) -> None:
    proc = _promtool("check", "rules", "rules.yaml", cwd=repo_root / "deploy" / "prometheus")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rule_unit_tests_pass(repo_root: Path) -> None:
    proc = _promtool("test", "rules", "rules_test.yaml", cwd=repo_root / "deploy" / "prometheus")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_a_wrong_expectation_fails(repo_root: Path, tmp_path: Path) -> None:
    """The unit tests can fail: the same file with one expected value changed does."""
    src = repo_root / "deploy" / "prometheus"
    (tmp_path / "rules.yaml").write_text((src / "rules.yaml").read_text())
    tests = (src / "rules_test.yaml").read_text().replace("value: 20", "value: 21")
    (tmp_path / "rules_test.yaml").write_text(tests)
    proc = _promtool("test", "rules", "rules_test.yaml", cwd=tmp_path)
    assert proc.returncode != 0
    assert "FAILED" in proc.stdout + proc.stderr


def test_every_alert_has_a_unit_test(repo_root: Path) -> None:
    rules = yaml.safe_load((repo_root / "deploy" / "prometheus" / "rules.yaml").read_text())
    tests = yaml.safe_load((repo_root / "deploy" / "prometheus" / "rules_test.yaml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tested = {
        t["alertname"]
        for case in tests["tests"]
        for t in case.get("alert_rule_test", [])
        if t.get("exp_alerts")
    }
    assert alerts == tested
    assert alerts >= {
        "E2EEnergySourceDown",
        "E2EEnergyConservationError",
        "E2EEnergyKernelDrops",
        "E2EEnergyGridIntensityStale",
        "E2EEnergyCO2Missing",
        "E2EEnergyUnmeasuredTime",
    }


def test_rules_use_only_known_metrics(repo_root: Path) -> None:
    text = (repo_root / "deploy" / "prometheus" / "rules.yaml").read_text()
    rules = yaml.safe_load(text)
    for group in rules["groups"]:
        for rule in group["rules"]:
            for name in re.findall(r"\b(e2e_energy_\w+|\w+:e2e_energy_\w+:\w+)\b", rule["expr"]):
                assert name in KNOWN_METRICS or name.startswith(RECORDED_PREFIXES), name
