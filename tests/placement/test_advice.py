"""Advice from the store: the measured figures become the LP's class, and the saving against
serving at home is checked by hand on a two-region dataset (regions on one meridian, so the
distance is the arc length)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from collector.models import IntensitySample
from collector.placement.advice import compute_advice, load_dataset
from collector.placement.inputs import PlacementInputError
from collector.settings import PlacementSettings
from collector.store import Store
from tests.placement.storefixture import DATASET, spec_for, write_store

KM = 6371.0 * math.radians(10.0)  # 50°N to 60°N along 8°E
TAU = 20.0 / (400_000.0 * 100.0)  # upf1: 20 J over 400 000 bytes, a 100 km segment


def _advice(tmp_path: Path, spec: PlacementSettings, **kw: object) -> dict[str, object]:
    store = Store(write_store(tmp_path / "s.sqlite"))
    try:
        return compute_advice(store, load_dataset(spec), spec, start=0.0, end=60.0, now=99.0, **kw)
    finally:
        store.close()


def test_saving_against_home_by_hand(tmp_path: Path) -> None:
    doc = _advice(tmp_path, spec_for(tmp_path))
    apps = {a["app"]: a for a in doc["apps"]}
    chat, vision = apps["chat"], apps["vision"]
    assert chat["status"] == "refused" and chat["refusal"]["reason"] == "no_requests"
    assert vision["status"] == "advice" and vision["home"] == "near"
    assert doc["transport"]["source"] == "measured"
    assert doc["transport"]["joules_per_byte_km"] == pytest.approx(TAU)
    model, payload = 5.0, 10_000.0  # J and bytes per request (storefixture)
    transport_j = payload * TAU * KM
    home = {
        "cost": model * 1.5 / 3.6e6 * 0.30,
        "co2_grams": model * 1.5 / 3.6e6 * 500,
        "joules": model * 1.5,
    }
    far = {
        "cost": model * 1.1 / 3.6e6 * 0.10,
        "co2_grams": model * 1.1 / 3.6e6 * 50 + transport_j / 3.6e6 * (500 + 50) / 2,
        "joules": model * 1.1 + transport_j,
    }
    for key in home:
        assert vision["home_per_request"][key] == pytest.approx(home[key], rel=1e-9)
        assert vision["recommended_per_request"][key] == pytest.approx(far[key], rel=1e-6)
        assert vision["saving_per_request"][key] == pytest.approx(home[key] - far[key], rel=1e-6)
    assert vision["saving_per_request"]["joules"] < 0  # the wide area costs more than it saves
    [placed] = vision["placement"]
    assert placed["region"] == "far" and placed["share"] == pytest.approx(1.0)
    assert placed["requests_per_second"] == pytest.approx(30 / 45)
    assert vision["layers"] == {"local": 0.0, "regional": 0.0, "energy_oriented": pytest.approx(1)}
    assert vision["relocatable_ratio"] == 1.0
    [row] = vision["break_even"]
    assert row["target"] == "far" and row["relocate"] is True
    assert doc["period"] == {"start": 0.0, "end": 60.0, "seconds": 60.0}


def test_live_intensity_replaces_the_dataset_figure_and_says_so(tmp_path: Path) -> None:
    sample = IntensitySample("z", "static", "marginal", 50.0, 100.0)
    doc = _advice(tmp_path, spec_for(tmp_path), intensities=[sample])
    regions = {r["name"]: r for r in doc["regions"]}
    assert regions["near"]["grams_per_kwh"] == 100.0
    assert regions["near"]["intensity_source"] == "live"
    assert regions["far"]["intensity_source"] == "dataset"
    vision = next(a for a in doc["apps"] if a["app"] == "vision")
    assert vision["home_per_request"]["co2_grams"] == pytest.approx(5.0 * 1.5 / 3.6e6 * 100)


def test_no_solution_refuses_the_advisable_apps(tmp_path: Path) -> None:
    spec = spec_for(tmp_path)
    (tmp_path / "d.yaml").write_text(
        DATASET.replace("latency_budget_ms: 5000", "latency_budget_ms: 10")
    )
    doc = _advice(tmp_path, spec)
    reasons = {a["app"]: a["refusal"]["reason"] for a in doc["apps"]}
    assert reasons == {"vision": "no_solution", "chat": "no_requests"}
    assert "no feasible region" in doc["error"]


def test_dangling_names_in_the_settings_are_named(tmp_path: Path) -> None:
    spec = spec_for(tmp_path, apps={"vision": {"class": "bulk", "origin": "o"}})
    with pytest.raises(PlacementInputError, match=r"placement\.apps\.vision\.class: no class"):
        load_dataset(spec)
    spec = spec_for(tmp_path, carbon_zones={"mars": "z"})
    with pytest.raises(PlacementInputError, match=r"placement\.carbon_zones\.mars"):
        load_dataset(spec)


def test_unknown_app_is_refused_by_name(tmp_path: Path) -> None:
    spec = spec_for(tmp_path)
    with pytest.raises(PlacementInputError, match=r"'nope' is not in placement\.apps"):
        _advice(tmp_path, spec, apps=["nope"])


def test_without_a_measured_segment_the_dataset_transport_is_used_and_said(tmp_path: Path) -> None:
    doc = _advice(tmp_path, spec_for(tmp_path, transport=None))
    assert doc["transport"] == {
        "source": "dataset",
        "joules_per_byte_km": 0.0,  # DATASET's frictions leave it at its default
        "reason": "placement.transport is not configured",
    }
    spec = spec_for(tmp_path, transport={"nfs": ["gpu1"], "path_km": 5.0})
    (tmp_path / "d.yaml").write_text(
        DATASET.replace(
            "regional_km: 1000", "regional_km: 1000, transport_joules_per_byte_km: 1e-9"
        )
    )
    doc = _advice(tmp_path, spec)
    # gpu1 is never stale: 4 windows of vision's 50 J and chat's 4 J over vision's 90 000 bytes
    assert doc["transport"]["source"] == "measured"
    assert doc["transport"]["joules_per_byte_km"] == pytest.approx(4 * 54 / (4 * 90_000 * 5.0))


def test_the_signal_setting_decides_which_live_samples_apply(tmp_path: Path) -> None:
    average = IntensitySample("z", "static", "average", 50.0, 120.0)
    doc = _advice(tmp_path, spec_for(tmp_path), intensities=[average])
    near = next(r for r in doc["regions"] if r["name"] == "near")
    assert doc["objective"]["signal"] == "marginal" and near["intensity_source"] == "dataset"
    assert near["grams_per_kwh"] == 500.0  # an average sample does not replace a marginal figure
    doc = _advice(tmp_path, spec_for(tmp_path, signal="average"), intensities=[average])
    near = next(r for r in doc["regions"] if r["name"] == "near")
    assert doc["objective"]["signal"] == "average" and near["intensity_source"] == "live"
    assert near["grams_per_kwh"] == 120.0
