from __future__ import annotations

from pathlib import Path

import pytest

from collector.settings import SettingsError, load_settings, parse_settings
from tests.conftest import SHARED, need


def test_example_settings_load() -> None:
    example = SHARED / "settings-example.yaml"
    need(example.exists(), "shared/settings-example.yaml is absent")
    s = load_settings(example)
    assert s.window_seconds == 15
    assert [n.role for n in s.nfs] == ["ru", "du", "inference"]
    assert s.share_for("inference").dynamic == "requests"
    assert s.share_for("du").dynamic == "bytes"
    assert s.carbon.zones["datacentre"].market_grams_per_kwh == 0


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
