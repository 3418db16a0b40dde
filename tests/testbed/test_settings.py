"""The testbed's settings: the topology file, its `testbed:` section, and every power parameter's
origin (a cited source or an assumption with its range)."""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.settings import Settings, SettingsError, load_settings, parse_settings
from testbed import power_models
from testbed import settings as tb_settings
from testbed.settings import CpuModel, Param, RadioModel, TrafficModel, load_topology

ROOT = Path(__file__).resolve().parent.parent.parent
TOPOLOGY = ROOT / "testbed" / "topology.yaml"
MODEL_GROUPS = ("radio", "traffic", "cpu")


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(TOPOLOGY.read_text(encoding="utf-8"))
    return data


def test_every_power_parameter_has_a_source_or_an_assumed_range() -> None:
    """Read straight from the YAML (not through the schema): each leaf of the power models is
    {value, source: <a reference that exists>} or {value, assumed: {range: [lo, hi]}} with the
    value inside the range; a bare number or a dangling reference fails."""
    power = _raw()["testbed"]["power"]
    references = power.get("references", {})
    checked = []
    for group in MODEL_GROUPS:
        for node, params in power.get(group, {}).items():
            for name, p in params.items():
                where = f"testbed.power.{group}.{node}.{name}"
                assert isinstance(p, dict) and "value" in p, f"{where}: a bare value, no origin"
                has_source = isinstance(p.get("source"), str) and p["source"] in references
                rng = (p.get("assumed") or {}).get("range")
                has_range = (
                    isinstance(rng, list) and len(rng) == 2 and rng[0] <= p["value"] <= rng[1]
                )
                assert has_source != has_range, f"{where}: needs a known source or an assumed range"
                if has_source:
                    assert len(" ".join(references[p["source"]].split())) > 40, where
                checked.append(where)
    assert len(checked) == 14  # RU 5, DU 3, CU 2, UPF 2, server 2


def test_the_radio_is_earth_table_ii_pico() -> None:
    """Auer et al. 2011, Table II, pico row: N_TRX 2, P_max 0.13 W, P0 6.8 W, delta_p 4.0."""
    ru = _raw()["testbed"]["power"]["radio"]["ru"]
    got = {k: ru[k]["value"] for k in ("n_trx", "p_max_watts", "p0_watts", "delta_p")}
    assert got == {"n_trx": 2, "p_max_watts": 0.13, "p0_watts": 6.8, "delta_p": 4.0}
    assert all(ru[k]["source"] == "earth" for k in got)
    reference = _raw()["testbed"]["power"]["references"]["earth"]
    assert "10.1109/MWC.2011.6056691" in reference and "Table II" in reference


def test_every_parameter_power_models_reads_is_a_cited_param() -> None:
    """The attributes power_models.py reads from a model are Param fields (or the RU's static
    power, N_TRX x P0), so nothing it uses can bypass the origin check above."""
    tree = ast.parse(Path(power_models.__file__).read_text(encoding="utf-8"))
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "model"
    }
    assert used >= {"n_trx", "delta_p", "p_max_watts", "capacity_bits_per_second"}
    param_fields = {
        name
        for cls in (RadioModel, TrafficModel, CpuModel)
        for name, f in cls.model_fields.items()
        if f.annotation in (Param, "Param")
    }
    assert used - param_fields == {"static_watts"} or used <= param_fields
    radio = load_topology(TOPOLOGY).testbed.power.radio["ru"]
    assert radio.static_watts == radio.n_trx.value * radio.p0_watts.value


def _with(edit: Any) -> dict[str, Any]:
    data = copy.deepcopy(_raw())
    edit(data)
    return data


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["testbed"]["power"]["radio"]["ru"].update(n_trx=2),
            r"testbed\.power\.radio\.ru\.n_trx: Input should be a valid dictionary",
        ),
        (
            lambda d: d["testbed"]["power"]["radio"]["ru"].update(n_trx={"value": 2}),
            r"n_trx: Value error, give exactly one of `source`",
        ),
        (
            lambda d: d["testbed"]["power"]["cpu"]["cu"]["watts_per_core"].update(source="nope"),
            r"cpu\.cu\.watts_per_core\.source: no reference named 'nope'",
        ),
        (
            lambda d: d["testbed"]["power"]["traffic"]["du"]["static_watts"].update(value=500),
            r"static_watts: Value error, value 500 lies outside its assumed.range \[0.84, 83",
        ),
        (
            lambda d: d["nfs"][0]["idle"].update(watts=27.2),
            r"nfs\[ru1\]\.idle\.watts is 27.2 W but the testbed's power model of node 'ru' "
            r"serves 14 W static",
        ),
    ],
)
def test_a_parameter_without_origin_or_out_of_step_is_rejected(
    edit: Any, message: str, tmp_path: Path
) -> None:
    bad = tmp_path / "topo.yaml"
    bad.write_text(yaml.safe_dump(_with(edit)), encoding="utf-8")
    with pytest.raises(SettingsError, match=message):
        load_topology(bad)


def test_topology_loads_and_is_consistent() -> None:
    s = load_topology(TOPOLOGY)
    nf_ids = {n.name: n.node_id for n in s.nfs}
    for node in s.testbed.nodes:
        if node.nf:
            assert nf_ids[node.nf] == node.node_id, node.name
    app_ns = {a.app: a.namespace_id for a in s.testbed.apps}
    for app in s.apps:
        assert app.traces[0].namespace_id == app_ns[app.name]
    carried = {t.namespace_id for t in s.agent.trace_ids}
    assert set(app_ns.values()) <= carried
    assert (s.testbed.models.large, s.testbed.models.small) == (
        "all-mpnet-base-v2",
        "all-MiniLM-L6-v2",
    )


def test_bad_topology_names_key_and_file(tmp_path: Path) -> None:
    text = TOPOLOGY.read_text().replace("trace_slots: 6", "trace_slots: 5")
    bad = tmp_path / "t.yaml"
    bad.write_text(text)
    with pytest.raises(SettingsError, match=r"t\.yaml: testbed: .*trace_slots must be even"):
        load_topology(bad)
    with pytest.raises(SettingsError, match=r"testbed\.nodes\.0\.colour: unknown key"):
        parse_settings(
            {"testbed": {"nodes": [{"name": "ue", "role": "ue", "colour": 1}]}},
            "x",
            tb_settings.TestbedFile,
        )
    with pytest.raises(SettingsError, match=r"x: testbed: Field required"):
        parse_settings({"window_seconds": 5}, "x", tb_settings.TestbedFile)


def test_the_collector_knows_nothing_of_the_testbed_section(tmp_path: Path) -> None:
    """The collector's own Settings rejects `testbed:`; the file without it is plain settings."""
    with pytest.raises(SettingsError, match=r"topology\.yaml: testbed: unknown key"):
        load_settings(TOPOLOGY)
    plain = load_topology(TOPOLOGY).collector_settings()
    assert type(plain) is Settings
    path = tmp_path / "collector.yaml"
    path.write_text(yaml.safe_dump(plain.model_dump(mode="json")), encoding="utf-8")
    again = load_settings(path)
    assert [nf.name for nf in again.nfs] == ["ru1", "du1", "cu1", "upf1", "inference1"]
    assert again.nfs[0].idle.watts == 14  # 2 x 6.8 W, in the APC outlet's whole watts


def test_readme_reference_matches_testbed_settings() -> None:
    from tests.settings_doc import TESTBED_DOC, generated_block, render_testbed

    block = generated_block(TESTBED_DOC.read_text(encoding="utf-8"))
    assert block.strip() == render_testbed().strip(), (
        "testbed/README.md is out of date: run `python -m tests.settings_doc --write`"
    )
    for name in tb_settings.TestbedSettings.model_fields:
        assert f"| `{name}` |" in block
    assert "### `testbed.power.radio.n_trx` (Param)" in block
