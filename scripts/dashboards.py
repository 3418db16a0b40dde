"""The Grafana dashboards as code: scripts/render-deploy.py writes them to deploy/grafana/*.json.

Panels are laid out left to right in a 24-column grid. Every query templates `datasource` and the
project's labels (`app`, `nf`, `k8s_node`); tests/deploy/test_dashboards.py checks the JSON and
runs each query through promtool, tests/deploy/test_dashboards_live.py against a live Prometheus.
"""

from __future__ import annotations

import json
from typing import Any

DS = {"type": "prometheus", "uid": "${datasource}"}
RI = "$__rate_interval"
APP = 'app=~"$app"'
NF = 'nf=~"$nf"'
KN = 'k8s_node=~"$k8s_node"'
Target = tuple[str, str]  # (PromQL, legend)


def datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def label_variable(name: str, label: str, metric: str) -> dict[str, Any]:
    """A multi-value variable over one label; "All" is the regex `.*`."""
    q = f"label_values({metric}, {name})"
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": q,
        "query": {"query": q, "refId": f"{name}-values"},
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "sort": 1,
        "hide": 0,
        "regex": "",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
    }


def carbon_basis_variable() -> dict[str, Any]:
    opts = [{"selected": v == "location", "text": v, "value": v} for v in ("location", "market")]
    return {
        "name": "carbon_basis",
        "label": "Carbon basis",
        "type": "custom",
        "query": "location,market",
        "current": {"selected": True, "text": "location", "value": "location"},
        "options": opts,
        "multi": False,
        "includeAll": False,
        "hide": 0,
    }


def _options(kind: str, stack: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fieldConfig.defaults.custom, options) for a panel type."""
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    if kind == "timeseries":
        custom = {
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
            "fillOpacity": 20 if stack else 0,
        }
        legend = {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "lastNotNull"]}
        return custom, {"legend": legend, "tooltip": {"mode": "multi", "sort": "desc"}}
    if kind == "bargauge":
        return {}, {"displayMode": "gradient", "orientation": "horizontal", "reduceOptions": reduce}
    if kind == "stat":
        return {}, {"reduceOptions": reduce, "colorMode": "value"}
    return {}, {"showHeader": True}


class Board:
    """Collects panels, placing each to the right of the last or on a new row."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.x = self.y = self.row_height = 0

    def add(
        self,
        kind: str,
        title: str,
        targets: list[Target],
        unit: str,
        *,
        w: int = 12,
        h: int = 8,
        desc: str = "",
        stack: bool = False,
        **extra: Any,
    ) -> None:
        if self.x + w > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        custom, options = _options(kind, stack)
        defaults: dict[str, Any] = {"unit": unit, **({"custom": custom} if custom else {})}
        panel: dict[str, Any] = {
            "id": len(self.panels) + 1,
            "type": kind,
            "title": title,
            "description": desc,
            "datasource": DS,
            "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options,
            "targets": [
                self._target(kind, i, expr, legend) for i, (expr, legend) in enumerate(targets)
            ],
        }
        if kind == "table":
            panel["transformations"] = [{"id": "merge", "options": {}}]
        panel.update(extra)
        self.panels.append(panel)
        self.x += w
        self.row_height = max(self.row_height, h)

    def row(self, title: str) -> None:
        """A full-width row header; the panels added after it belong to it (expanded)."""
        self.x, self.y, self.row_height = 0, self.y + self.row_height, 1
        self.panels.append(
            {
                "id": len(self.panels) + 1,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.x = 24  # the next panel starts a new line below the header

    @staticmethod
    def _target(kind: str, i: int, expr: str, legend: str) -> dict[str, Any]:
        t = {
            "refId": chr(65 + i),
            "datasource": DS,
            "expr": expr,
            "legendFormat": legend,
            "range": kind == "timeseries",
            "instant": kind != "timeseries",
        }
        if kind == "table":
            t["format"] = "table"
        return t

    def dashboard(
        self, uid: str, title: str, desc: str, variables: list[dict[str, Any]], tag: str
    ) -> str:
        board = {
            "uid": uid,
            "title": title,
            "description": desc,
            "tags": ["e2e-energy", tag],
            "schemaVersion": 39,
            "version": 1,
            "editable": True,
            "graphTooltip": 1,
            "time": {"from": "now-6h", "to": "now"},
            "refresh": "30s",
            "timezone": "browser",
            "annotations": {"list": []},
            "links": [
                {
                    "title": "e2e-energy dashboards",
                    "type": "dashboards",
                    "tags": ["e2e-energy"],
                    "asDropdown": True,
                }
            ],
            "templating": {"list": variables},
            "panels": self.panels,
        }
        return json.dumps(board, indent=2) + "\n"


def overview() -> str:
    """Per-application energy and CO2e split by role and direction, and per request."""
    b = Board()
    joules = f"e2e_energy_app_joules_total{{{APP}}}"
    b.add(
        "stat",
        "E2E power of the selected apps",
        [(f"sum(rate({joules}[{RI}]))", "power")],
        "watt",
        w=6,
        h=5,
        desc="Average power drawn for the selected applications across RU, DU, CU, UPF and "
        "inference.",
    )
    b.add(
        "stat",
        "E2E energy over the range",
        [(f"sum(increase({joules}[$__range]))", "energy")],
        "joule",
        w=6,
        h=5,
    )
    co2 = f'e2e_energy_app_co2_grams_total{{{APP}, carbon_basis="$carbon_basis"}}'
    b.add(
        "stat",
        "CO2e over the range",
        [(f"sum(increase({co2}[$__range]))", "CO2e")],
        "massg",
        w=6,
        h=5,
    )
    network = f'e2e_energy_app_joules_total{{{APP}, role!="inference"}}'
    b.add(
        "stat",
        "Network share of energy",
        [(f"sum(rate({network}[{RI}])) / sum(rate({joules}[{RI}]))", "network share")],
        "percentunit",
        w=6,
        h=5,
        desc="Share of the selected apps' energy spent in RU, DU, CU and UPF rather than the "
        "inference server.",
    )
    per_nf = f'e2e_energy_app_joules_total{{{APP}, nf=~"$nf"}}'
    co2_nf = f'e2e_energy_app_co2_grams_total{{{APP}, nf=~"$nf", carbon_basis="$carbon_basis"}}'
    b.add(
        "timeseries",
        "Power per app and role (RU/DU/CU/UPF/inference)",
        [(f"sum by (app, role) (rate({per_nf}[{RI}]))", "{{app}} {{role}}")],
        "watt",
        stack=True,
    )
    b.add(
        "timeseries",
        "CO2e rate per app and role",
        [(f"3600 * sum by (app, role) (rate({co2_nf}[{RI}]))", "{{app}} {{role}}")],
        "suffix: g/h",
        stack=True,
    )
    b.add(
        "bargauge",
        "Energy per app and role over the range",
        [(f"sum by (app, role) (increase({per_nf}[$__range]))", "{{app}} {{role}}")],
        "joule",
    )
    b.add(
        "bargauge",
        "CO2e per app and role over the range",
        [(f"sum by (app, role) (increase({co2_nf}[$__range]))", "{{app}} {{role}}")],
        "massg",
    )
    b.add(
        "timeseries",
        "Power per app and direction",
        [(f"sum by (app, direction) (rate({per_nf}[{RI}]))", "{{app}} {{direction}}")],
        "watt",
        stack=True,
    )
    b.add(
        "timeseries",
        "Static and dynamic power per app",
        [(f"sum by (app, component) (rate({per_nf}[{RI}]))", "{{app}} {{component}}")],
        "watt",
        stack=True,
    )
    requests = f"(sum by (app) (increase(e2e_energy_app_requests_total{{{APP}}}[{RI}])) > 0)"
    b.add(
        "timeseries",
        "Energy per request",
        [(f"sum by (app) (increase({joules}[{RI}])) / {requests}", "{{app}}")],
        "joule",
        desc="Joules per inference request across the whole chain; no point where an app had "
        "no requests (undefined, not zero).",
    )
    b.add(
        "timeseries",
        "CO2e per request",
        [(f"sum by (app) (increase({co2}[{RI}])) / {requests}", "{{app}}")],
        "massg",
    )
    b.add(
        "timeseries",
        "Requests per second",
        [(f"sum by (app) (rate(e2e_energy_app_requests_total{{{APP}}}[{RI}]))", "{{app}}")],
        "reqps",
        w=24,
    )
    _placement_row(b)
    variables = [
        datasource_variable(),
        label_variable("app", "App", "e2e_energy_app_joules_total"),
        label_variable("nf", "NF", "e2e_energy_app_joules_total"),
        carbon_basis_variable(),
    ]
    return b.dashboard(
        "e2e-energy-overview",
        "e2e-energy / Applications",
        "Per-application end-to-end energy and CO2e across RU, DU, CU, UPF and inference.",
        variables,
        "apps",
    )


def _override(ref: str, unit: str, name: str) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": f"Value #{ref}"},
        "properties": [{"id": "unit", "value": unit}, {"id": "displayName", "value": name}],
    }


def _placement_row(b: Board) -> None:
    """Where could it run: the live placement advice from the attributor's own measurements."""
    b.row("Where could it run (placement advice)")

    def advice(metric: str, by: str = "app, class") -> str:
        return f"max by ({by}) (e2e_energy_placement_{metric}{{{APP}}})"

    columns = [
        ("A", "relocatable_ratio", "app, class", "percentunit", "relocatable demand"),
        ("B", "saving_grams_per_request", "app, class", "massg", "CO2e saved per request"),
        ("C", "saving_joules_per_request", "app, class", "joule", "energy saved per request"),
        ("D", "saving_cost_per_request", "app, class, currency", "none", "cost saved per request"),
        ("E", "input_coverage_ratio", "app", "percentunit", "period covered"),
    ]
    b.add(
        "table",
        "Advice per app: relocatable demand and the saving against serving at home",
        [(advice(metric, by), ref) for ref, metric, by, _, _ in columns],
        "none",
        w=24,
        desc="From the latest scheduled advice (every placement.interval_seconds) over the "
        "measured period. Savings are per request against serving at the app's home region: "
        "CO2e on the objective's signal (marginal by default), facility plus wide-area "
        "transport energy, and cost in the dataset's currency. Negative: moving costs more.",
        fieldConfig={
            "defaults": {"unit": "none"},
            "overrides": [_override(ref, unit, name) for ref, _, _, unit, name in columns],
        },
        transformations=[
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
        ],
    )
    b.add(
        "bargauge",
        "Where the advice places each app's demand",
        [(advice("layer_ratio", "app, class, layer"), "{{app}} {{layer}}")],
        "percentunit",
        w=8,
        desc="local: the home region; regional: another region within frictions.regional_km; "
        "energy_oriented: farther away.",
    )
    per_request = f"sum by (app) (rate(e2e_energy_app_requests_total{{{APP}}}[{RI}]))"
    b.add(
        "timeseries",
        "CO2e relocation would save at the current request rate",
        [(f"3600 * {advice('saving_grams_per_request')} * on (app) group_left () {per_request}",
          "{{app}} ({{class}})")],
        "suffix: g/h",
        w=8,
        desc="The advice's saving per request times the app's request rate now.",
    )  # fmt: skip
    b.add(
        "timeseries",
        "Measured energy per request the advice used",
        [(advice("input_joules_per_request", "app, part"), "{{app}} {{part}}")],
        "joule",
        w=8,
        desc="model: the inference NFs; access: RU, DU, CU, UPF (stays with the user wherever "
        "the model runs). Over the covered windows of the advice's period.",
    )
    b.add(
        "table",
        "Refused apps and why",
        [(f"{advice('refused', 'app, reason')} or on (app) "
          f"{advice('input_coverage_ratio', 'app')} * 0", "")],
        "none",
        w=12,
        h=6,
        desc="1: the latest advice refused the app for the named reason (period_not_covered, "
        "no_requests, too_few_requests, mostly_unattributed, no_inference_energy, "
        "no_solution); 0: it was advised.",
        transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True}}}],
    )  # fmt: skip
    b.add(
        "stat",
        "Advice age",
        [("time() - max(e2e_energy_placement_last_run_timestamp_seconds)", "age")],
        "s",
        w=6,
        h=6,
    )
    b.add(
        "stat",
        "Advice run duration",
        [("max(e2e_energy_placement_solve_seconds)", "run")],
        "s",
        w=6,
        h=6,
        desc="Reading the store and solving the LP; it runs beside the window loop.",
    )


def network_functions() -> str:
    """Per NF: measured vs attributed vs unattributed by reason, basis and data quality."""
    b = Board()
    measured = f"e2e_energy_nf_joules_total{{{NF}}}"
    attributed = f"e2e_energy_app_joules_total{{{NF}}}"
    unattributed = f"e2e_energy_nf_unattributed_joules_total{{{NF}}}"
    b.add(
        "timeseries",
        "Measured power per NF",
        [(f"sum by (nf, role) (rate({measured}[{RI}]))", "{{nf}} ({{role}})")],
        "watt",
    )
    b.add(
        "timeseries",
        "Unattributed power per NF and reason",
        [(f"sum by (nf, reason) (rate({unattributed}[{RI}]))", "{{nf}} {{reason}}")],
        "watt",
        stack=True,
        desc="untagged: traffic without IOAM; idle_no_traffic: no traffic at all; catch_up: "
        "energy across a gap in the readings.",
    )
    renames = {"Value #A": "measured", "Value #B": "attributed", "Value #C": "unattributed"}
    b.add(
        "table",
        "Measured vs attributed vs unattributed over the range",
        [
            (f"sum by (nf) (increase({measured}[$__range]))", "measured"),
            (f"sum by (nf) (increase({attributed}[$__range]))", "attributed"),
            (f"sum by (nf) (increase({unattributed}[$__range]))", "unattributed"),
        ],
        "joule",
        w=24,
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {"renameByName": renames, "excludeByName": {"Time": True}},
            },
        ],
    )
    b.add(
        "bargauge",
        "Attributed per NF and app over the range",
        [(f"sum by (nf, app) (increase({attributed}[$__range]))", "{{nf}} {{app}}")],
        "joule",
    )
    b.add(
        "bargauge",
        "Unattributed per NF and reason over the range",
        [(f"sum by (nf, reason) (increase({unattributed}[$__range]))", "{{nf}} {{reason}}")],
        "joule",
    )
    b.add(
        "timeseries",
        "Measured vs modelled power",
        [(f"sum by (energy_basis) (rate({measured}[{RI}]))", "{{energy_basis}}")],
        "watt",
        stack=True,
        desc="modelled energy comes from sources that estimate rather than meter (e.g. the "
        "testbed); keep it apart from measured.",
    )
    b.add(
        "table",
        "NF basis and denominator",
        [(f"max by (nf, role, energy_basis, denominator) (e2e_energy_nf_info{{{NF}}})", "")],
        "none",
        desc="denominator tagged_only: no traffic-total source, so untagged traffic is not seen "
        "and shares are of tagged traffic only.",
        transformations=[
            {"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True}}}
        ],
    )
    b.add(
        "timeseries",
        "Unmeasured time per NF",
        [(f"sum by (nf) (rate(e2e_energy_nf_unmeasured_seconds_total{{{NF}}}[{RI}]))", "{{nf}}")],
        "percentunit",
        desc="Fraction of the time an NF had no fresh sample (stale windows); that energy is "
        "not estimated.",
    )
    b.add(
        "timeseries",
        "Conservation error",
        [(f"max by (nf) (e2e_energy_conservation_error_ratio{{{NF}}})", "{{nf}}")],
        "none",
        desc="|Σ apps + unattributed − measured| / measured per window; must stay ≤ 1e-9.",
    )
    variables = [datasource_variable(), label_variable("nf", "NF", "e2e_energy_nf_joules_total")]
    return b.dashboard(
        "e2e-energy-nfs",
        "e2e-energy / Network functions",
        "Per-NF measured, attributed and unattributed energy, basis and data quality.",
        variables,
        "nfs",
    )


def _agent_panels(b: Board) -> None:
    def agent(metric: str) -> str:
        return f"e2e_energy_{metric}{{{KN}}}"

    b.add(
        "timeseries",
        "Agent packets by result",
        [
            (
                f"sum by (k8s_node, result) (rate({agent('agent_packets_total')}[{RI}]))",
                "{{k8s_node}} {{result}}",
            )
        ],
        "pps",
    )
    b.add(
        "timeseries",
        "Capture drops (kernel)",
        [
            (
                f"sum by (k8s_node, interface) (rate({agent('agent_kernel_drops_total')}[{RI}]))",
                "{{k8s_node}} {{interface}} dropped",
            ),
            (
                f"sum by (k8s_node, interface) (rate({agent('agent_kernel_packets_total')}[{RI}]))",
                "{{k8s_node}} {{interface}} passed the filter",
            ),
        ],
        "pps",
        desc="PACKET_STATISTICS of the capture ring: drops mean per-application shares at this "
        "node are under-counted.",
    )
    b.add(
        "timeseries",
        "IOAM packets counted per node and direction",
        [
            (
                f"sum by (k8s_node, direction) (rate({agent('ioam_packets_total')}[{RI}]))",
                "{{k8s_node}} {{direction}}",
            )
        ],
        "pps",
    )
    b.add(
        "timeseries",
        "Interface traffic (all packets)",
        [
            (
                f"sum by (k8s_node, interface, direction) "
                f"(rate({agent('interface_bytes_total')}[{RI}]))",
                "{{k8s_node}} {{interface}} {{direction}}",
            )
        ],
        "Bps",
    )
    b.add(
        "timeseries",
        "Flow table",
        [
            (f"sum by (k8s_node) ({agent('agent_flows')})", "{{k8s_node}} flows"),
            (
                f"sum by (k8s_node) (rate({agent('agent_flow_evictions_total')}[{RI}]))",
                "{{k8s_node}} evictions/s",
            ),
            (
                f"sum by (k8s_node) (rate({agent('agent_trace_id_overflow_packets_total')}[{RI}]))",
                "{{k8s_node}} packets/s folded into trace_id=other",
            ),
        ],
        "short",
    )
    b.add(
        "stat",
        "Sampling ratio",
        [(f"max by (k8s_node) ({agent('agent_sampling_ratio')})", "{{k8s_node}}")],
        "none",
        w=6,
        h=5,
        desc="1 = every packet counted; 1/N = one in N counted and scaled by N.",
    )


def health() -> str:
    """Source health, capture drops, the flow table and grid intensity freshness."""
    b = Board()
    b.add(
        "timeseries",
        "Source up",
        [("min by (source) (e2e_energy_source_up)", "{{source}}")],
        "bool_yes_no",
    )
    b.add(
        "timeseries",
        "Source read duration",
        [("max by (source) (e2e_energy_source_scrape_duration_seconds)", "{{source}}")],
        "s",
    )
    b.add(
        "timeseries",
        "Source errors per second",
        [
            (
                f"sum by (source, kind) (rate(e2e_energy_source_errors_total[{RI}])) "
                "or sum by (source) (0 * e2e_energy_source_up)",
                "{{source}} {{kind}}",
            )
        ],
        "ops",
    )
    _agent_panels(b)
    b.add(
        "stat",
        "Attributor lag",
        [("time() - max(e2e_energy_attributor_last_window_end_timestamp_seconds)", "lag")],
        "s",
        w=6,
        h=5,
        desc="Seconds since the end of the latest computed window.",
    )
    b.add(
        "stat",
        "Grid intensity age",
        [("max by (zone) (e2e_energy_grid_intensity_age_seconds)", "{{zone}}")],
        "s",
        w=6,
        h=5,
    )
    b.add(
        "timeseries",
        "Grid carbon intensity",
        [
            (
                "max by (zone, provider, signal) (e2e_energy_grid_intensity_grams_per_kwh)",
                "{{zone}} {{provider}} ({{signal}})",
            )
        ],
        "suffix: gCO2e/kWh",
        w=6,
        h=5,
    )
    b.add(
        "timeseries",
        "Energy with missing CO2",
        [
            (
                f"sum by (zone) (rate(e2e_energy_co2_missing_joules_total[{RI}])) "
                "or sum by (zone) (0 * e2e_energy_grid_intensity_age_seconds)",
                "{{zone}}",
            )
        ],
        "watt",
        w=24,
        desc="Energy whose zone had no usable intensity; its CO2 is missing, never "
        "counted as zero.",
    )
    variables = [
        datasource_variable(),
        label_variable("k8s_node", "Node", "e2e_energy_agent_packets_total"),
    ]
    return b.dashboard(
        "e2e-energy-health",
        "e2e-energy / Sources and capture",
        "Source health, capture drops, flow table and grid intensity freshness.",
        variables,
        "health",
    )


DASHBOARDS = {
    "e2e-energy-overview.json": overview,
    "e2e-energy-nfs.json": network_functions,
    "e2e-energy-health.json": health,
}
