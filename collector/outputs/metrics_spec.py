"""Every metric the attributor exports: name, type, labels and help, in one table.

The exporter builds its families from this table and docs/reference/metrics.md is generated from
it (collector/outputs/metrics_doc.py), so names, labels and docs cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PREFIX = "e2e_energy_"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    kind: Literal["counter", "gauge", "info"]
    labels: tuple[str, ...]
    help: str


SNAPSHOT_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("app_joules_total", "counter", ("app", "nf", "role", "direction", "component"),
               "Energy attributed to an application at one NF, by direction and static/dynamic "
               "component (joules)."),
    MetricSpec("app_co2_grams_total", "counter", ("app", "nf", "role", "carbon_basis"),
               "Emissions of the attributed energy (g CO2e): location basis, and market basis when "
               "any zone has a market-based factor."),
    MetricSpec("app_requests_total", "counter", ("app",), "Requests served per application."),
    MetricSpec("nf_joules_total", "counter", ("nf", "role", "energy_basis"),
               "Measured (or modelled) energy of an NF in fresh windows, catch-up included (J)."),
    MetricSpec("nf_unattributed_joules_total", "counter", ("nf", "role", "reason"),
               "Energy of an NF not attributed to any application, by reason: untagged, "
               "idle_no_traffic, catch_up (J)."),
    MetricSpec("nf_unmeasured_seconds_total", "counter", ("nf", "role"),
               "Time in stale windows, whose energy is not estimated (s)."),
    MetricSpec("nf_info", "info", ("nf", "role", "energy_basis", "denominator"),
               "Per-NF metadata: measured or modelled energy, denominator all or tagged_only."),
    MetricSpec("conservation_error_ratio", "gauge", ("nf",),
               "abs(Σ app + unattributed − measured) / measured in the latest window."),
    MetricSpec("co2_missing_joules_total", "counter", ("zone",),
               "Energy whose CO2 could not be computed: the zone's intensity was missing (J)."),
    MetricSpec("grid_intensity_grams_per_kwh", "gauge", ("zone", "provider", "signal"),
               "Latest known grid carbon intensity (g CO2e/kWh), average or marginal signal."),
    MetricSpec("grid_intensity_age_seconds", "gauge", ("zone",),
               "Age of the latest known intensity value at the end of the latest window (s)."),
    MetricSpec("grid_signal_index", "gauge", ("zone", "provider"),
               "A relative index such as WattTime's percentile (0-100), not convertible to grams."),
    MetricSpec("source_up", "gauge", ("source",), "1 when the source's last read succeeded."),
    MetricSpec("source_scrape_duration_seconds", "gauge", ("source",),
               "Duration of the source's last read (s)."),
    MetricSpec("source_errors_total", "counter", ("source", "kind"),
               "Failed reads per source, by kind (timeout, auth, http, parse...)."),
    MetricSpec("attributor_windows_total", "counter", (),
               "Windows computed since the store began."),
    MetricSpec("attributor_last_window_end_timestamp_seconds", "gauge", (),
               "End of the latest computed window (unix seconds)."),
    MetricSpec("store_pending_windows", "gauge", (),
               "Computed windows waiting for the store (a failed write is retried every tick); "
               "/metrics shows totals up to the newest written window."),
    MetricSpec("store_write_errors_total", "counter", ("kind",),
               "Failed store writes by kind: disk_full, io, read_only, busy, other."),
    MetricSpec("store_dropped_windows_total", "counter", (),
               "Windows whose per-window rows were dropped because more than "
               "store.max_pending_windows waited; their energy stays in the totals."),
    MetricSpec("attributor_tick_seconds", "gauge", (),
               "Wall time of the latest tick: polling every input, mapping, ingesting, computing "
               "the due windows and writing them (s)."),
    MetricSpec("attributor_tick_cpu_seconds", "gauge", (),
               "CPU time the tick process spent on the latest tick, all its threads (s)."),
    MetricSpec("build_info", "info", ("version",), "The collector's version."),
)  # fmt: skip

ADVICE_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("placement_relocatable_ratio", "gauge", ("app", "class"),
               "Share of the app's demand with at least one feasible region other than its home "
               "(0-1), in the latest placement advice."),
    MetricSpec("placement_layer_ratio", "gauge", ("app", "class", "layer"),
               "Share of the app's demand the advice places in each layer: local (home region), "
               "regional, energy_oriented (0-1)."),
    MetricSpec("placement_saving_grams_per_request", "gauge", ("app", "class"),
               "CO2e saved per request by the recommended placement against serving at home "
               "(g; the objective's average or marginal signal; negative: it emits more)."),
    MetricSpec("placement_saving_joules_per_request", "gauge", ("app", "class"),
               "Facility plus wide-area transport energy saved per request against serving at "
               "home (J; negative: it uses more)."),
    MetricSpec("placement_saving_cost_per_request", "gauge", ("app", "class", "currency"),
               "Cost saved per request against serving at home, in the dataset's currency "
               "(electricity, egress, migration)."),
    MetricSpec("placement_input_joules_per_request", "gauge", ("app", "part"),
               "Measured energy per request the advice used: part model (inference NFs) or "
               "access (the other NFs), over the covered windows of its period (J)."),
    MetricSpec("placement_input_coverage_ratio", "gauge", ("app",),
               "Share of the advice's period covered by windows in which every NF the app used "
               "was measured (0-1)."),
    MetricSpec("placement_refused", "gauge", ("app", "reason"),
               "1 for each app the latest advice refused, with the named reason (no series for "
               "advised apps)."),
    MetricSpec("placement_solve_seconds", "gauge", (),
               "Duration of the latest advice run: reading the store and solving the LP (s)."),
    MetricSpec("placement_last_run_timestamp_seconds", "gauge", (),
               "When the latest advice was computed (unix seconds)."),
    MetricSpec("placement_period_seconds", "gauge", (),
               "Length of the measured period the latest advice used (s)."),
    MetricSpec("placement_runs_total", "counter", ("outcome",),
               "Advice runs by outcome: advice, refused (every app), error, skipped (the previous "
               "run was still going)."),
)  # fmt: skip

METRICS = SNAPSHOT_METRICS + ADVICE_METRICS
"""Every family /metrics serves: the snapshot's, then the placement advice's."""

BY_NAME = {m.name: m for m in METRICS}
