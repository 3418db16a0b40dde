"""Reading the Grafana dashboards in deploy/grafana and turning their queries into plain PromQL
(Grafana's variables substituted as Grafana would), shared by the dashboard tests."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

DASHBOARDS = ROOT / "deploy" / "grafana"
# Grafana's built-in interval variables, as a 15 s scrape interval makes them.
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
# "All" of a multi-value variable with allValue ".*".
ALL = ".*"
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


@dataclass(frozen=True, slots=True)
class Query:
    dashboard: str
    panel: str
    ref_id: str
    expr: str


def load(path: Path) -> dict[str, Any]:
    board: dict[str, Any] = json.loads(path.read_text())
    return board


def boards() -> dict[str, dict[str, Any]]:
    return {p.name: load(p) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those nested in collapsed rows included."""
    out: list[dict[str, Any]] = []
    for p in board["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def queries() -> list[Query]:
    return [
        Query(name, p["title"], t["refId"], t["expr"])
        for name, board in boards().items()
        for p in panels(board)
        for t in p.get("targets", [])
    ]


def variables(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in board["templating"]["list"]}


def substitute(expr: str, board: dict[str, Any], chosen: dict[str, str] | None = None) -> str:
    """expr with every variable replaced: `chosen` values, else All (".*") for multi-value
    variables, else the variable's current value; unknown variables raise KeyError."""
    defined = variables(board)
    chosen = chosen or {}

    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name in chosen:
            return chosen[name]
        if name in BUILTINS:
            return BUILTINS[name]
        var = defined[name]
        if var.get("includeAll"):
            return str(var.get("allValue") or ALL)
        return str(var["current"]["value"])

    return VARIABLE.sub(value, expr)


def variable_metric(var: dict[str, Any]) -> str | None:
    """The series selector inside a `label_values(selector, label)` variable query."""
    m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", var.get("definition", ""))
    return m.group(1) if m else None
