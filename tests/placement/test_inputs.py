"""Inputs, the feasibility mask and the coefficients: validation, RTT model, masks, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from collector.models import IntensitySample
from collector.placement.inputs import PlacementInputError, load_config, load_default
from collector.placement.live import apply_intensities
from collector.placement.model import InfeasibleError, build_problem, rtt_model_ms
from collector.placement.solve import solve
from tests.placement.helpers import config, region

ORIGINS = [{"name": "paris", "lat": 48.86, "lon": 2.35, "tags": ["eu"]}]


def _two_regions(**cls: object) -> dict[str, object]:
    return {
        "classes": [
            {
                "name": "c",
                "latency_budget_ms": 300,
                "processing_ms": 100,
                "energy_per_request_joules": 100,
                "demand": {"paris": 10},
                **cls,
            }
        ],
        "origins": ORIGINS,
        "regions": [
            region("fr", 48.86, 2.35, tags=["eu"]),
            region("us", 39.04, -77.49, price_per_kwh=0.01),
        ],
    }


def test_rtt_model_matches_design() -> None:
    assert rtt_model_ms(np.array([0.0]))[0] == pytest.approx(56.0)
    assert rtt_model_ms(np.array([1000.0]))[0] == pytest.approx(2 * (5 + 20) * 1.4)


def test_worked_example_coefficients() -> None:
    """Hand-computed: 100 J × PUE 1.2 = 120 J = 3.333e-5 kWh at 0.1 USD + 400 g/kWh marginal."""
    cfg = config(
        **_two_regions(payload_bytes=1e6),
        frictions={
            "egress_per_gb": 0.05,
            "migration_per_request": 1e-6,
            "transport_joules_per_byte_km": 1e-8,
        },
    )
    p = build_problem(cfg)
    kwh = 120 / 3.6e6
    assert p.coef.cost[0, 0, 0] == pytest.approx(kwh * 0.1)  # home: no egress, no migration
    assert p.coef.cost[0, 0, 1] == pytest.approx(kwh * 0.01 + 1e6 / 1e9 * 0.05 + 1e-6)
    transport_j = 1e6 * 1e-8 * p.km[0, 1]
    assert p.coef.energy_joules[0, 0, 1] == pytest.approx(120 + transport_j)
    assert p.coef.carbon_grams[0, 0, 1] == pytest.approx(kwh * 400 + transport_j / 3.6e6 * 400)
    lam = 100 / 1e6
    assert p.coef.objective[0, 0, 1] == pytest.approx(
        p.coef.cost[0, 0, 1] + lam * p.coef.carbon_grams[0, 0, 1]
    )


def test_latency_budget_decides_feasibility() -> None:
    # Paris -> Virginia ~6,200 km: RTT ≈ 2.8 × (31 + 20) ≈ 143 ms; + 100 ms processing
    assert build_problem(config(**_two_regions())).allowed[0, 0].tolist() == [True, True]
    tight = config(**_two_regions(latency_budget_ms=200))
    assert build_problem(tight).allowed[0, 0].tolist() == [True, False]


def test_mask_rule_and_state_locality_forbid_relocation() -> None:
    masked = config(
        **_two_regions(),
        masks=[{"reason": "eu-residency", "origin_tags": ["eu"], "region_not_tags": ["eu"]}],
    )
    assert build_problem(masked).allowed[0, 0].tolist() == [True, False]
    local = config(**_two_regions(state_local=True))
    p = build_problem(local)
    assert p.allowed[0, 0].tolist() == [True, False]
    assert solve(p).flow[0, 0].tolist() == [10.0, 0.0]


def test_infeasible_input_names_class_and_origin() -> None:
    cfg = config(**_two_regions(latency_budget_ms=120))
    with pytest.raises(InfeasibleError, match="class 'c' from origin 'paris'"):
        solve(build_problem(cfg))


def test_short_capacity_is_an_error_naming_the_regions() -> None:
    data = _two_regions()
    data["regions"] = [
        region("fr", 48.86, 2.35, capacity_kw=0.1),
        region("us", 39.04, -77.49, capacity_kw=0.1),
    ]
    with pytest.raises(InfeasibleError, match=r"capacity is short.*fr 0\.1 kW"):
        solve(build_problem(config(**data)))


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(
        "classes: [{name: c, latency_budget_ms: 1, energy_per_request_joules: 1, colour: red}]\n"
    )
    with pytest.raises(PlacementInputError, match=r"p\.yaml: classes\.0\.colour: unknown key"):
        load_config(f)


def test_unknown_csv_column_names_column_and_file(tmp_path: Path) -> None:
    (tmp_path / "regions.csv").write_text("name,lat,lon,price_per_kwh,flavour\n")
    f = tmp_path / "p.yaml"
    f.write_text(
        "csv: {regions: regions.csv}\n"
        "classes: [{name: c, latency_budget_ms: 1, energy_per_request_joules: 1}]\n"
    )
    with pytest.raises(PlacementInputError, match=r"regions\.csv: column 'flavour': unknown key"):
        load_config(f)


def test_bad_csv_value_names_the_csv_file_and_row(tmp_path: Path) -> None:
    (tmp_path / "regions.csv").write_text(
        "name,lat,lon,price_per_kwh,grams_per_kwh_average,grams_per_kwh_marginal\na,1,2,cheap,1,1\n"
    )
    f = tmp_path / "p.yaml"
    f.write_text(
        "csv: {regions: regions.csv}\n"
        "classes: [{name: c, latency_budget_ms: 1, energy_per_request_joules: 1}]\n"
    )
    with pytest.raises(PlacementInputError, match=r"regions\.csv: row 1: price_per_kwh"):
        load_config(f)


def test_dangling_reference_is_rejected() -> None:
    data = _two_regions()
    data["origins"] = [{**ORIGINS[0], "home": "mars"}]
    with pytest.raises(
        PlacementInputError, match=r"origins\[paris\]\.home: no region named 'mars'"
    ):
        config(**data)


def test_default_dataset_loads_with_csv_tables() -> None:
    cfg = load_default()
    assert [c.latency_budget_ms for c in cfg.classes] == [300, 1500, 60_000, 3_600_000]
    assert 8 <= len(cfg.regions) <= 15
    assert len(cfg.origins) == 15 and all(len(c.demand) == 15 for c in cfg.classes)


def test_live_intensities_replace_static_values_by_zone() -> None:
    data = _two_regions()
    data["regions"] = [region("fr", 48.86, 2.35, carbon_zone="FR"), region("us", 39.04, -77.49)]
    cfg = config(**data)
    samples = [
        IntensitySample(zone="FR", provider="x", signal="marginal", t=1.0, grams_per_kwh=500.0),
        IntensitySample(zone="FR", provider="x", signal="marginal", t=2.0, grams_per_kwh=42.0),
        IntensitySample(zone="FR", provider="y", signal="average", t=2.0, grams_per_kwh=33.0),
    ]
    live = apply_intensities(cfg, samples)
    assert (live.regions[0].grams_per_kwh_marginal, live.regions[0].grams_per_kwh_average) == (
        42.0,
        33.0,
    )
    assert live.regions[1] == cfg.regions[1]


def test_frontier_erl_in_a_hand_computed_case() -> None:
    """Home A is dear; B (about 2 000 km away, RTT ≈ 84 ms) opens between 60 and 100 ms."""
    from collector.placement.metrics import frontier

    cfg = config(
        classes=[
            {
                "name": "c",
                "latency_budget_ms": 100,
                "energy_per_request_joules": 3600,
                "demand": {"o": 1},
            }
        ],
        origins=[{"name": "o", "lat": 0, "lon": 0, "home": "A"}],
        regions=[
            region("A", 0, 0, price_per_kwh=0.3, pue=1.0),
            region("B", 0, 17.99, price_per_kwh=0.1, pue=1.0),
        ],
        objective={"kind": "cost"},
    )
    p60, p100 = frontier(cfg, [60, 100])
    # 3600 J = 1e-3 kWh: 0.3 -> 0.1 USD/kWh saves 2e-4 USD per request = 200 USD per million
    assert p60.cost_per_million == pytest.approx(300.0)
    assert p100.cost_per_million == pytest.approx(100.0)
    assert p100.erl_cost_per_million_per_ms == pytest.approx(200.0 / 40.0)
    assert p100.relocated_share == pytest.approx(1.0)


def test_default_dataset_keeps_eu_online_classes_in_eu_regions() -> None:
    cfg = load_default()
    sol = solve(build_problem(cfg))
    eu_regions = np.array(["eu" in r.tags for r in cfg.regions])
    for k, cls in enumerate(cfg.classes):
        for o, origin in enumerate(cfg.origins):
            if "eu" in origin.tags and cls.name in ("interactive", "standard"):
                assert sol.flow[k, o, ~eu_regions].sum() == 0.0


def test_settings_option_takes_live_intensities_from_the_carbon_providers(tmp_path: Path) -> None:
    """A real CarbonService (static provider) sets the average intensity of the zone's region."""
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    settings = tmp_path / "s.yaml"
    settings.write_text(
        "carbon: {zones: {FR: {providers: [{kind: static, grams_per_kwh: 12.5}]}}}\n"
    )
    placement = tmp_path / "p.yaml"
    placement.write_text(
        "classes: [{name: c, latency_budget_ms: 1000, energy_per_request_joules: 1,"
        " demand: {paris: 1}}]\n"
        "origins: [{name: paris, lat: 48.86, lon: 2.35}]\n"
        "regions: [{name: fr, lat: 48.86, lon: 2.35, price_per_kwh: 0.2, carbon_zone: FR,"
        " grams_per_kwh_average: 56, grams_per_kwh_marginal: 435}]\n"
    )
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "collector",
            "placement",
            "solve",
            "--format",
            "json",
            "--config",
            str(placement),
            "--settings",
            str(settings),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    region_out = json.loads(res.stdout)["regions"][0]
    assert region_out["grams_per_kwh_average"] == 12.5
    assert region_out["grams_per_kwh_marginal"] == 435
