"""The e2e_energy_placement_* families: names and labels as specified, values equal to the advice
document's, refusals as a series with their reason, and `promtool check metrics` clean."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.outputs.advice_metrics import AdviceCollector
from collector.outputs.exporter import SnapshotCollector, make_registry
from collector.outputs.metrics_spec import ADVICE_METRICS, PREFIX
from collector.placement.schedule import Advisor, store_advisor
from tests.conftest import need_binary
from tests.placement.storefixture import spec_for, write_store


def _advisor(tmp_path: Path) -> Advisor:
    path = write_store(tmp_path / "s.sqlite")
    advisor = store_advisor(path, spec_for(tmp_path, period_seconds=60.0), clock=lambda: 100.0)
    advisor.poll()
    advisor.join(30)
    return advisor


def _render(advisor: Advisor) -> str:
    return generate_latest(make_registry(SnapshotCollector(), AdviceCollector(advisor))).decode()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def test_names_labels_and_values(tmp_path: Path) -> None:
    advisor = _advisor(tmp_path)
    text = _render(advisor)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for spec in ADVICE_METRICS:
        base = PREFIX + (spec.name.removesuffix("_total") if spec.kind == "counter" else spec.name)
        assert base in families, spec.name
        for sample in families[base].samples:
            if not sample.name.endswith("_created"):
                assert set(sample.labels) == set(spec.labels), (spec.name, sample.labels)
    got = _samples(text)

    def value(name: str, **labels: str) -> float:
        return got[(PREFIX + name, tuple(sorted(labels.items())))]

    doc = advisor.latest
    assert doc is not None
    vision = next(a for a in doc["apps"] if a["app"] == "vision")
    key = {"app": "vision", "class": "interactive"}
    assert value("placement_relocatable_ratio", **key) == 1.0
    assert value("placement_layer_ratio", **key, layer="energy_oriented") == pytest.approx(1.0)
    assert value("placement_layer_ratio", **key, layer="local") == 0.0
    saving = vision["saving_per_request"]
    assert value("placement_saving_grams_per_request", **key) == saving["co2_grams"]
    assert value("placement_saving_joules_per_request", **key) == saving["joules"]
    assert value("placement_saving_cost_per_request", **key, currency="USD") == saving["cost"]
    assert value("placement_input_joules_per_request", app="vision", part="model") == 5.0
    assert value("placement_input_joules_per_request", app="vision", part="access") == 2.0
    assert value("placement_input_coverage_ratio", app="vision") == 0.75
    assert value("placement_refused", app="chat", reason="no_requests") == 1.0
    assert not any(k[0] == PREFIX + "placement_refused" and ("app", "vision") in k[1] for k in got)
    assert value("placement_last_run_timestamp_seconds") == 100.0
    assert value("placement_period_seconds") == 60.0
    assert value("placement_runs_total", outcome="advice") == 1.0
    assert value("placement_runs_total", outcome="skipped") == 0.0


def test_before_the_first_run_only_the_run_counter(tmp_path: Path) -> None:
    advisor = Advisor(lambda **_: {}, interval_seconds=60.0, clock=lambda: 0.0)
    names = {f.name for f in text_string_to_metric_families(_render(advisor))}
    assert names == {PREFIX + "build_info", PREFIX + "placement_runs"}


def test_promtool_check_metrics_is_clean(tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    out = subprocess.run(
        [promtool, "check", "metrics"],
        input=_render(_advisor(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == "" and out.stderr.strip() == ""


def test_cached_metrics_text_is_rendered_again_after_an_advisor_run(tmp_path: Path) -> None:
    """The attributor serves /metrics from text cached per version (compute once, present
    many); an advisor run must change that version, or the advice would never show."""
    from fastapi.testclient import TestClient

    from collector.outputs.api import create_app
    from collector.store import Store

    path = write_store(tmp_path / "s.sqlite")
    advisor = store_advisor(path, spec_for(tmp_path, period_seconds=60.0), clock=lambda: 100.0)
    exporter, advice = SnapshotCollector(), AdviceCollector(advisor)
    reader = Store(path)
    app = create_app(
        reader,
        metrics=make_registry(exporter, advice),
        metrics_version=lambda: (exporter.version(), advice.version()),
    )
    with TestClient(app) as client:
        before = client.get("/metrics").text
        assert PREFIX + "placement_last_run_timestamp_seconds" not in before
        advisor.poll()
        advisor.join(30)
        after = client.get("/metrics").text
    reader.close()
    assert PREFIX + "placement_last_run_timestamp_seconds 100.0" in after
