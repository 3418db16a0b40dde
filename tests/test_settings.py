from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
import yaml

from collector.settings import (
    IdleSettings,
    Settings,
    SettingsError,
    TraceIdCarrier,
    ZoneSettings,
    load_settings,
    parse_settings,
)
from tests.conftest import EXAMPLE_SETTINGS


def test_example_settings_load() -> None:
    s = load_settings(EXAMPLE_SETTINGS)
    assert s.window_seconds == 15
    assert [n.role for n in s.nfs] == ["ru", "du", "cu", "upf", "inference"]
    assert s.share_for("inference").dynamic == "requests"
    assert s.share_for("du").dynamic == "bytes"
    assert s.carbon.zones["datacentre"].market_grams_per_kwh == 0


def test_example_settings_are_complete() -> None:
    """Every section but the testbed's, every source, carbon provider, idle policy and TraceID
    carrier kind the settings accept appears in the shipped example."""
    doc = yaml.safe_load(EXAMPLE_SETTINGS.read_text())
    assert set(doc) == set(Settings.model_fields) - {"testbed"}

    def kinds(annotation: object) -> set[str]:
        """The `kind` literals of every model in a (nested) union annotation."""
        fields = getattr(annotation, "model_fields", None)
        if fields is not None:
            return set(typing.get_args(fields["kind"].annotation))
        return set().union(*(kinds(a) for a in typing.get_args(annotation) if a is not None))

    assert {s["kind"] for s in doc["sources"]} == kinds(Settings.model_fields["sources"].annotation)
    zones = ZoneSettings.model_fields["providers"].annotation
    providers = {p["kind"] for z in doc["carbon"]["zones"].values() for p in z["providers"]}
    assert providers == kinds(zones)
    policies = {n.get("idle", {}).get("policy") for n in doc["nfs"]} - {None}
    assert policies == set(typing.get_args(IdleSettings.model_fields["policy"].annotation))
    carriers = {t["carrier"] for t in doc["agent"]["trace_ids"]}
    assert carriers <= set(typing.get_args(TraceIdCarrier.model_fields["carrier"].annotation))
    secrets = re.findall(
        r"^\s*-?\s*\{?.*\b(password|token|community|auth_key|priv_key):",
        EXAMPLE_SETTINGS.read_text(),
        re.M,
    )
    assert not secrets, "inline credentials in the example"


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("agent:\n  listen: ':1'\n  interfacs: []\n")
    with pytest.raises(SettingsError) as err:
        load_settings(f)
    assert str(f) in str(err.value)
    assert "agent.interfacs: unknown key" in str(err.value)


def test_mixed_signals_rejected() -> None:
    with pytest.raises(SettingsError, match="mix average and marginal"):
        parse_settings(
            {
                "carbon": {
                    "zones": {
                        "z": {
                            "providers": [
                                {"kind": "watttime", "region": "CAISO_NORTH"},
                                {"kind": "static", "grams_per_kwh": 300},
                            ]
                        }
                    }
                }
            }
        )


def test_unknown_source_reference_rejected() -> None:
    with pytest.raises(SettingsError, match="no source named 'nope'"):
        parse_settings({"nfs": [{"name": "du1", "role": "du", "power": {"source": "nope"}}]})


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "x.yaml"
    f.write_text("a: [\n")
    with pytest.raises(SettingsError, match="not valid YAML"):
        load_settings(f)
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml")


PLACEMENT_BASE = {
    "nfs": [{"name": "upf1", "role": "upf"}, {"name": "gpu1", "role": "inference"}],
    "carbon": {"zones": {"edge": {"providers": [{"kind": "static", "grams_per_kwh": 300}]}}},
}


@pytest.mark.parametrize(
    ("placement", "words"),
    [
        ({"apps": {"chat": {"class": "standard"}}}, "placement.apps.chat.origin: Field required"),
        ({"apps": {"chat": {"class": "standard", "origin": "o", "inference_nfs": ["gpu9"]}}},
         "placement.apps.chat.inference_nfs: no NF named 'gpu9'"),
        ({"transport": {"nfs": ["upf9"], "path_km": 50}},
         "placement.transport.nfs: no NF named 'upf9'"),
        ({"carbon_zones": {"de-frankfurt": "mars"}},
         "placement.carbon_zones.de-frankfurt: no carbon zone named 'mars'"),
        ({"min_coverage_ratio": 0}, "placement.min_coverage_ratio"),
        ({"interval": 60}, "placement.interval: unknown key"),
    ],
)  # fmt: skip
def test_placement_section_names_the_bad_key(placement: dict[str, object], words: str) -> None:
    with pytest.raises(SettingsError, match=words.replace(".", r"\.")):
        parse_settings({**PLACEMENT_BASE, "placement": placement})


def test_placement_section_defaults() -> None:
    p = parse_settings({**PLACEMENT_BASE, "placement": {}}).placement
    assert p is not None
    assert (p.interval_seconds, p.period_seconds) == (900.0, 3600.0)
    assert (p.min_requests, p.max_unattributed_ratio, p.min_coverage_ratio) == (100.0, 0.5, 0.8)
    assert parse_settings(PLACEMENT_BASE).placement is None  # off unless configured


def test_placement_dumps_as_written() -> None:
    """The testbed writes runtime settings by dumping the model: keys as in the file (`class`)."""
    s = parse_settings(
        {**PLACEMENT_BASE, "placement": {"apps": {"a": {"class": "c", "origin": "o"}}}}
    )
    dumped = s.model_dump(mode="json", exclude_none=True)
    assert dumped["placement"]["apps"]["a"]["class"] == "c"
    assert parse_settings(dumped).placement == s.placement
