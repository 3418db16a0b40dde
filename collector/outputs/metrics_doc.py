"""docs/reference/metrics.md, generated from the metric table the exporter uses.

Regenerate: .venv/bin/python -m collector.outputs.metrics_doc > docs/reference/metrics.md
"""

from __future__ import annotations

from collector.outputs.metrics_spec import METRICS, PREFIX

HEADER = """# Metrics reference (attributor)

Generated from `collector/outputs/metrics_spec.py` by
`python -m collector.outputs.metrics_doc > docs/reference/metrics.md`; a test fails when this file
and the code disagree. All values are in base units (joules, grams CO2e, seconds). Counters are
cumulative since the store began and resume after a restart. Served at `/metrics` of the
attributor (classic text format, `promtool check metrics` clean).

| metric | type | labels | meaning |
|---|---|---|---|
"""

FOOTER = """
Label values: `role` is one of ru, du, cu, upf, inference; `direction` uplink or downlink;
`component` static or dynamic; `carbon_basis` location (the SCI basis) or market (only when a
zone has `market_grams_per_kwh`; zones without one report their location value under market
too); `energy_basis` measured or modelled; `reason` untagged, idle_no_traffic or catch_up;
`denominator` all (a traffic-total source is present, or the NF splits by requests) or
tagged_only. A zone whose intensity was missing has no CO2 for that window: the energy is counted
in `e2e_energy_co2_missing_joules_total{zone}` (an NF without a zone reports zone="none").
Agents' own metrics (`e2e_energy_ioam_*`, with `k8s_node`) are documented with the agent.

The `e2e_energy_placement_*` families come from the latest scheduled placement advice (settings
`placement`; docs/explanation/placement.md, "Live advice"); they are absent until its first run,
except `e2e_energy_placement_runs_total`. `class` is the dataset class an app is mapped to;
`layer` local, regional or energy_oriented; `part` model or access; `reason` of a refusal
period_not_covered, no_requests, too_few_requests, mostly_unattributed, no_inference_energy or
no_solution; `outcome` advice, refused, error or skipped. Savings are per request against serving
at the app's home region and negative when the recommendation costs more.
"""


def render() -> str:
    rows = []
    for m in METRICS:
        name = PREFIX + m.name
        kind = "gauge (info)" if m.kind == "info" else m.kind
        labels = ", ".join(f"`{label}`" for label in m.labels) or "—"
        rows.append(f"| `{name}` | {kind} | {labels} | {m.help} |")
    return HEADER + "\n".join(rows) + "\n" + FOOTER


if __name__ == "__main__":
    print(render(), end="")
