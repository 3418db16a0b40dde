"""The metric names dashboards and rules may use: shared/DESIGN.md section 5 (attributor) and
issue 3 (agent). A name outside this set in a query is a typo that would show an empty panel."""

from __future__ import annotations

ATTRIBUTOR_METRICS = frozenset(
    {
        "e2e_energy_app_joules_total",
        "e2e_energy_app_co2_grams_total",
        "e2e_energy_app_requests_total",
        "e2e_energy_nf_joules_total",
        "e2e_energy_nf_unattributed_joules_total",
        "e2e_energy_nf_unmeasured_seconds_total",
        "e2e_energy_nf_info",
        "e2e_energy_conservation_error_ratio",
        "e2e_energy_co2_missing_joules_total",
        "e2e_energy_grid_intensity_grams_per_kwh",
        "e2e_energy_grid_intensity_age_seconds",
        "e2e_energy_grid_signal_index",
        "e2e_energy_source_up",
        "e2e_energy_source_scrape_duration_seconds",
        "e2e_energy_source_errors_total",
        "e2e_energy_attributor_windows_total",
        "e2e_energy_attributor_last_window_end_timestamp_seconds",
        "e2e_energy_attributor_tick_seconds",
        "e2e_energy_attributor_tick_cpu_seconds",
        "e2e_energy_store_pending_windows",
        "e2e_energy_store_write_errors_total",
        "e2e_energy_store_dropped_windows_total",
        # the placement advice (issue 15)
        "e2e_energy_placement_relocatable_ratio",
        "e2e_energy_placement_layer_ratio",
        "e2e_energy_placement_saving_grams_per_request",
        "e2e_energy_placement_saving_joules_per_request",
        "e2e_energy_placement_saving_cost_per_request",
        "e2e_energy_placement_input_joules_per_request",
        "e2e_energy_placement_input_coverage_ratio",
        "e2e_energy_placement_refused",
        "e2e_energy_placement_solve_seconds",
        "e2e_energy_placement_last_run_timestamp_seconds",
        "e2e_energy_placement_period_seconds",
        "e2e_energy_placement_runs_total",
    }
)
AGENT_METRICS = frozenset(
    {
        "e2e_energy_ioam_packets_total",
        "e2e_energy_ioam_bytes_total",
        "e2e_energy_ioam_outer_bytes_total",
        "e2e_energy_agent_packets_total",
        "e2e_energy_agent_sampling_ratio",
        "e2e_energy_agent_kernel_drops_total",
        "e2e_energy_agent_kernel_packets_total",
        "e2e_energy_agent_trace_id_overflow_packets_total",
        "e2e_energy_agent_flows",
        "e2e_energy_agent_flow_evictions_total",
        "e2e_energy_interface_packets_total",
        "e2e_energy_interface_bytes_total",
        "e2e_energy_agent_info",
        "e2e_energy_agent_parse_limit_packets_total",
        "e2e_energy_agent_bpf_run_seconds_total",
        "e2e_energy_agent_bpf_runs_total",
    }
)
KNOWN_METRICS = ATTRIBUTOR_METRICS | AGENT_METRICS | {"e2e_energy_build_info"}
# Recording rules of deploy/prometheus/rules.yaml: level:metric:operation.
RECORDED_PREFIXES = ("app", "nf", "k8s_node")
