"""Structural checks of the Grafana dashboards (no Grafana server runs here) and every query,
variables substituted, loaded by `promtool check rules` (this promtool has no offline PromQL
parser, so each query becomes a recording rule)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import need_binary
from tests.dashboards import (
    VARIABLE,
    boards,
    panels,
    queries,
    substitute,
    variable_metric,
    variables,
)
from tests.metric_names import KNOWN_METRICS

BOARDS = boards()
DS_UID = "${datasource}"


def test_three_dashboards_with_unique_uids() -> None:
    uids = [b["uid"] for b in BOARDS.values()]
    assert len(BOARDS) == 3 and len(set(uids)) == 3
    assert all(uid.startswith("e2e-energy-") and len(uid) <= 40 for uid in uids)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_dashboard_structure(name: str) -> None:
    board = BOARDS[name]
    for key in ("title", "uid", "schemaVersion", "panels", "templating", "time"):
        assert key in board, key
    assert "e2e-energy" in board["tags"]
    vars_ = variables(board)
    assert vars_["datasource"]["type"] == "datasource"
    assert vars_["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for p in panels(board):
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not (mine & cells), f"{p['title']} overlaps another panel"
        cells |= mine
        if p["type"] == "row":  # a header: full width, one unit high, no queries
            assert g == {"h": 1, "w": 24, "x": 0, "y": g["y"]} and p["title"]
            assert "targets" not in p and p["collapsed"] is False
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": DS_UID}
        refs = [t["refId"] for t in p["targets"]]
        assert refs and len(refs) == len(set(refs))
        for t in p["targets"]:
            assert t["datasource"]["uid"] == DS_UID and t["expr"].strip()
        assert p["fieldConfig"]["defaults"].get("unit"), f"{p['title']} has no unit"


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_variables_are_defined_and_templated(name: str) -> None:
    board = BOARDS[name]
    defined = set(variables(board)) | {"__rate_interval", "__interval", "__range"}
    for p in panels(board):
        for t in p.get("targets", []):
            used = {m.group(1) or m.group(2) for m in VARIABLE.finditer(t["expr"])}
            assert used <= defined, (p["title"], used - defined)
    for var in variables(board).values():
        if var["type"] == "query":
            assert var["datasource"]["uid"] == DS_UID
            assert var["name"] in ("app", "nf", "k8s_node")
            assert var["includeAll"] and var["multi"] and var["allValue"] == ".*"


def test_project_labels_are_templated() -> None:
    names = {v for b in BOARDS.values() for v in variables(b)}
    assert {"datasource", "app", "nf", "k8s_node"} <= names


def _exprs(board_name: str) -> str:
    return "\n".join(q.expr for q in queries() if q.dashboard == board_name)


def test_overview_covers_the_brief() -> None:
    text = _exprs("e2e-energy-overview.json")
    assert "sum by (app, role)" in text  # RU/DU/CU/UPF/inference split
    assert "sum by (app, direction)" in text
    assert "e2e_energy_app_co2_grams_total" in text
    assert "e2e_energy_app_requests_total" in text  # energy per request


def test_overview_has_the_where_could_it_run_row() -> None:
    board = BOARDS["e2e-energy-overview.json"]
    rows = [p for p in board["panels"] if p["type"] == "row"]
    assert [r["title"] for r in rows] == ["Where could it run (placement advice)"]
    below = [p for p in board["panels"] if p["gridPos"]["y"] > rows[0]["gridPos"]["y"]]
    text = "\n".join(t["expr"] for p in below for t in p["targets"])
    for needle in (
        "e2e_energy_placement_relocatable_ratio",
        "e2e_energy_placement_saving_grams_per_request",
        "e2e_energy_placement_saving_cost_per_request",
        "e2e_energy_placement_input_coverage_ratio",
        "e2e_energy_placement_refused",
        "e2e_energy_placement_layer_ratio",
    ):
        assert needle in text, needle
    above = [p for p in board["panels"] if p["gridPos"]["y"] < rows[0]["gridPos"]["y"]]
    assert not any("placement" in t["expr"] for p in above for t in p["targets"])


def test_nf_board_covers_the_brief() -> None:
    text = _exprs("e2e-energy-nfs.json")
    for needle in (
        "e2e_energy_nf_joules_total",
        "sum by (nf, reason) (rate(e2e_energy_nf_unattributed_joules_total",
        "sum by (energy_basis)",
        "e2e_energy_nf_unmeasured_seconds_total",
        "e2e_energy_conservation_error_ratio",
    ):
        assert needle in text, needle


def test_health_board_covers_the_brief() -> None:
    text = _exprs("e2e-energy-health.json")
    for needle in (
        "e2e_energy_source_up",
        "e2e_energy_agent_kernel_drops_total",
        "e2e_energy_grid_intensity_age_seconds",
    ):
        assert needle in text, needle


def test_queries_use_only_known_metrics() -> None:
    for q in queries():
        for name in re.findall(r"\be2e_energy_\w+", q.expr):
            assert name in KNOWN_METRICS, (q.dashboard, q.panel, name)
    for board in BOARDS.values():
        for var in variables(board).values():
            if var["type"] == "query":
                assert variable_metric(var) in KNOWN_METRICS


def _as_rules(exprs: list[str]) -> dict[str, Any]:
    return {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)
                ],
            }
        ]
    }


def _check_rules(path: Path, exprs: list[str]) -> subprocess.CompletedProcess[str]:
    path.write_text(yaml.safe_dump(_as_rules(exprs)))
    return subprocess.run(
        [need_binary("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "chosen",
    [{}, {"app": "factory-vision", "nf": "du1", "k8s_node": "edge-1", "carbon_basis": "market"}],
    ids=["all", "one-each"],
)
def test_every_query_parses_in_promtool(chosen: dict[str, str], tmp_path: Path) -> None:
    exprs = [substitute(q.expr, BOARDS[q.dashboard], chosen) for q in queries()]
    exprs += [
        variable_metric(v) or ""
        for b in BOARDS.values()
        for v in variables(b).values()
        if v["type"] == "query"
    ]
    assert all("$" not in e for e in exprs)
    proc = _check_rules(tmp_path / "dashboard-queries.yaml", exprs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in proc.stdout


def test_promtool_rejects_a_broken_query(tmp_path: Path) -> None:
    """Guards the test above: an unbalanced query must not pass the same check."""
    broken = substitute(queries()[0].expr, BOARDS[queries()[0].dashboard]).rstrip(")")
    proc = _check_rules(tmp_path / "broken.yaml", [broken])
    assert proc.returncode != 0
