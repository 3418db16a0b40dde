"""The Prometheus exporter over a snapshot: exact names and labels, values equal to the totals,
and the classic text format checked by the real `promtool check metrics`."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.attribution import Snapshot, topology_from_settings
from collector.attribution.persist import StoreHealth
from collector.attribution.replay import load_records, replay_run
from collector.attribution.worker import TickReport
from collector.outputs.exporter import SnapshotCollector, make_registry, render_tick_process
from collector.outputs.metrics_spec import PREFIX
from collector.settings import load_settings
from collector.sources import Health
from tests.conftest import ROOT, need_binary

DATA = ROOT / "tests" / "data" / "attribution"


def replay_snapshot() -> Snapshot:
    topo = topology_from_settings(load_settings(DATA / "config.yaml"))
    with (DATA / "inputs.jsonl").open() as f:
        snaps = replay_run(topo, load_records(f, topo, "inputs"))
    source = Health("kepler", True, 0.02, MappingProxyType({"timeout": 2}))
    last = snaps[-1]
    missing = MappingProxyType({"nowhere": 5.0})  # a zone whose intensity was missing
    return replace(
        last,
        sources=(source,),
        indices=(("ran-site", "watttime", 42.0),),
        totals=replace(last.totals, co2_missing_joules=missing),
    )


def store_health() -> StoreHealth:
    return StoreHealth(3, 1, MappingProxyType({"disk_full": 4}), "disk_full: database is full")


def render(snap: Snapshot) -> str:
    collector = SnapshotCollector(store_health=store_health)
    collector.publish(snap)
    return generate_latest(make_registry(collector)).decode()


# Written by hand from shared/DESIGN.md section 5 (not from collector/outputs/metrics_spec.py,
# which the exporter is built from): sample name -> label names, and the label values DESIGN
# allows. The two attributor self-metrics and build info's `version` label are issue 3's
# (DESIGN says only "build info").
DESIGN_LABELS: dict[str, frozenset[str]] = {
    "e2e_energy_app_joules_total": frozenset({"app", "nf", "role", "direction", "component"}),
    "e2e_energy_app_co2_grams_total": frozenset({"app", "nf", "role", "carbon_basis"}),
    "e2e_energy_app_requests_total": frozenset({"app"}),
    "e2e_energy_nf_joules_total": frozenset({"nf", "role", "energy_basis"}),
    "e2e_energy_nf_unattributed_joules_total": frozenset({"nf", "role", "reason"}),
    "e2e_energy_nf_unmeasured_seconds_total": frozenset({"nf", "role"}),
    "e2e_energy_nf_info": frozenset({"nf", "role", "energy_basis", "denominator"}),
    "e2e_energy_conservation_error_ratio": frozenset({"nf"}),
    "e2e_energy_co2_missing_joules_total": frozenset({"zone"}),
    "e2e_energy_grid_intensity_grams_per_kwh": frozenset({"zone", "provider", "signal"}),
    "e2e_energy_grid_intensity_age_seconds": frozenset({"zone"}),
    "e2e_energy_grid_signal_index": frozenset({"zone", "provider"}),
    "e2e_energy_source_up": frozenset({"source"}),
    "e2e_energy_source_scrape_duration_seconds": frozenset({"source"}),
    "e2e_energy_source_errors_total": frozenset({"source", "kind"}),
    "e2e_energy_attributor_windows_total": frozenset(),
    "e2e_energy_attributor_last_window_end_timestamp_seconds": frozenset(),
    "e2e_energy_build_info": frozenset({"version"}),
    # the store's self-metrics of issue 14 (DESIGN says only "self-metrics")
    "e2e_energy_store_pending_windows": frozenset(),
    "e2e_energy_store_write_errors_total": frozenset({"kind"}),
    "e2e_energy_store_dropped_windows_total": frozenset(),
}
DESIGN_VALUES: dict[str, frozenset[str]] = {
    "direction": frozenset({"uplink", "downlink"}),
    "component": frozenset({"static", "dynamic"}),
    "carbon_basis": frozenset({"location", "market"}),
    "energy_basis": frozenset({"measured", "modelled"}),
    "reason": frozenset({"untagged", "idle_no_traffic", "catch_up"}),
    "denominator": frozenset({"all", "tagged_only"}),
    "signal": frozenset({"average", "marginal"}),
}


def test_names_and_labels_are_exactly_the_design() -> None:
    text = render(replay_snapshot())
    samples = [
        s
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if not s.name.endswith("_created")
    ]
    assert {s.name for s in samples} == set(DESIGN_LABELS)
    for s in samples:
        assert set(s.labels) == DESIGN_LABELS[s.name], (s.name, s.labels)
        for label, allowed in DESIGN_VALUES.items():
            if label in s.labels:
                assert s.labels[label] in allowed, (s.name, label, s.labels[label])
    # every value DESIGN names for these labels appears in this scenario, which has measured
    # and modelled NFs but only static (average) intensities and no tagged_only NF
    seen = {(k, v) for s in samples for k, v in s.labels.items()}
    for label in ("direction", "component", "carbon_basis", "reason", "energy_basis"):
        assert {v for k, v in seen if k == label} == DESIGN_VALUES[label], label


def test_values_come_from_the_totals() -> None:
    text = render(replay_snapshot())
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(PREFIX + name, tuple(sorted(labels.items())))]

    key = {"app": "factory-vision", "nf": "ru1", "role": "ru", "direction": "uplink"}
    assert value("app_joules_total", **key, component="static") == pytest.approx(80.0)
    assert value("app_joules_total", **key, component="dynamic") == pytest.approx(48.0)
    co2 = {"app": "factory-vision", "nf": "vlm", "role": "inference"}
    assert value("app_co2_grams_total", **co2, carbon_basis="location") == pytest.approx(
        450 / 3.6e6 * 250
    )
    assert value("app_co2_grams_total", **co2, carbon_basis="market") == 0.0
    assert value("app_requests_total", app="factory-vision") == 12.0
    assert value("nf_joules_total", nf="du1", role="du", energy_basis="modelled") == 180.0
    assert value("nf_unattributed_joules_total", nf="du1", role="du", reason="untagged") == 30.0
    assert value("conservation_error_ratio", nf="du1") <= 1e-9
    info = {"nf": "du1", "role": "du", "energy_basis": "modelled", "denominator": "all"}
    assert value("nf_info", **info) == 1.0
    assert value("source_errors_total", source="kepler", kind="timeout") == 2.0
    assert value("grid_signal_index", zone="ran-site", provider="watttime") == 42.0
    assert value("store_pending_windows") == 3.0
    assert value("store_write_errors_total", kind="disk_full") == 4.0
    assert value("store_dropped_windows_total") == 1.0


def test_promtool_check_metrics_is_clean() -> None:
    promtool = need_binary("promtool")
    text = render(replay_snapshot())
    out = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == "" and out.stderr.strip() == ""


def test_nothing_but_build_info_before_the_first_window() -> None:
    text = render_empty()
    names = {f.name for f in text_string_to_metric_families(text)}
    assert names == {PREFIX + "build_info"}


def render_empty() -> str:
    return generate_latest(make_registry(SnapshotCollector())).decode()


def test_metrics_endpoint_renders_once_per_published_snapshot(tmp_path: Path) -> None:
    """Under a dashboard storm /metrics reuses the text rendered for the current snapshot and
    store state; a new snapshot or a store-state change is rendered anew (never stale)."""
    from fastapi.testclient import TestClient

    from collector.outputs.api import create_app
    from collector.store import Store

    Store(tmp_path / "s.sqlite", writer=True).close()
    health = [StoreHealth()]
    collector = SnapshotCollector(store_health=lambda: health[0])
    renders = [0]

    class Counting(SnapshotCollector):
        def collect(self):  # type: ignore[no-untyped-def]
            renders[0] += 1
            return collector.collect()

    registry = make_registry(Counting())
    app = create_app(Store(tmp_path / "s.sqlite"), metrics=registry,
                     metrics_version=collector.version)  # fmt: skip
    snap = replay_snapshot()
    with TestClient(app) as c:
        first = c.get("/metrics").text
        assert c.get("/metrics").text == first and renders[0] == 1
        collector.publish(snap)
        second = c.get("/metrics").text
        assert renders[0] == 2 and "e2e_energy_app_joules_total" in second
        assert c.get("/metrics").text == second and renders[0] == 2
        health[0] = StoreHealth(pending_windows=2)
        assert "e2e_energy_store_pending_windows 2.0" in c.get("/metrics").text
        assert renders[0] == 3
        collector.publish(replace(snap, window_start=snap.window_start + 15))
        c.get("/metrics")
        assert renders[0] == 4


def test_the_tick_process_text_is_the_in_process_exporters_plus_the_tick() -> None:
    """What the attributor's two processes serve (the parent's build_info, then the text the
    tick process rendered) holds the same samples as the one-process exporter, plus the tick's
    two gauges, and promtool finds it clean."""
    snap = replay_snapshot()
    health = StoreHealth(2, 1, MappingProxyType({"disk_full": 4}), "full")
    whole = SnapshotCollector(store_health=lambda: health)
    whole.publish(snap)
    one = generate_latest(make_registry(whole)).decode()
    tick = TickReport(started=100.0, ended=100.25, cpu_seconds=0.125)
    split = render_empty() + render_tick_process(snap, health, tick).decode()

    def samples(text: str) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
        return {
            (s.name, tuple(sorted(s.labels.items())), s.value)
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }

    extra = {(PREFIX + "attributor_tick_seconds", (), 0.25),
             (PREFIX + "attributor_tick_cpu_seconds", (), 0.125)}  # fmt: skip
    assert samples(split) == samples(one) | extra
    promtool = need_binary("promtool")
    out = subprocess.run(
        [promtool, "check", "metrics"], input=split, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr
