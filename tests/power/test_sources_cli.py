"""`e2e-energy sources probe` against real agents and servers of several kinds, one dead."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT, shared_fixture
from tests.http_fixture import refusing_port, serve_files
from tests.snmp_agents import snmpd, snmpsim

KEPLER = Path(__file__).resolve().parent.parent / "fixtures" / "kepler" / "v0.10-a.prom"


def _config(tmp: Path, snmp_port: int, http_base: str, snmpd_port: int, dead: int) -> Path:
    community = tmp / "community"
    community.write_text("apc-8641\n")
    cfg = {
        "sources": [
            {
                "name": "pdu",
                "kind": "snmp",
                "address": f"127.0.0.1:{snmp_port}",
                "community_file": str(community),
                "profile": "apc_rpdu2_outlet",
                "timeout_seconds": 15,  # generous: snmpsim answers slowly on a loaded machine
                "retries": 0,
            },
            {
                "name": "kepler",
                "kind": "kepler",
                "url": f"{http_base}/kepler/metrics",
                "energy_basis": "modelled",
                "timeout_seconds": 20,
            },
            # a Redfish read walks a dozen resources: generous for a loaded machine
            {
                "name": "rack",
                "kind": "redfish",
                "url": http_base,
                "pdu": "1",
                "timeout_seconds": 30,
            },
            {
                "name": "switch",
                "kind": "snmp",
                "address": f"127.0.0.1:{snmpd_port}",
                "version": "3",
                "user": "u",
                "auth_key": "authpass",
                "priv_key": "privpass",
                "profile": "if_mib",
                "timeout_seconds": 15,  # generous: the SNMPv3 handshake is slow on a loaded machine
                "retries": 0,
            },
            {
                "name": "gpu",
                "kind": "dcgm",
                "url": f"{http_base}/dcgm/metrics",
                "timeout_seconds": 20,
            },
            {
                "name": "reqs",
                "kind": "prometheus_counter",
                "url": f"{http_base}/vllm/metrics",
                "metric": "vllm:request_success_total",
                "label": "model_name",
                "timeout_seconds": 20,
                "app_map": {"qwen": "factory-vision"},
            },
            {
                "name": "dead",
                "kind": "shelly",
                "url": f"http://127.0.0.1:{dead}",
                "timeout_seconds": 8,  # refused at once; the margin is for a loaded machine
            },
        ],
        "carbon": {
            "zones": {
                "de": {
                    "providers": [
                        {
                            "kind": "electricitymaps",
                            "zone": "DE",
                            "token": "t",
                            "url": http_base,
                            "max_age_seconds": 1e10,
                        }
                    ]
                },
                "site": {
                    "providers": [
                        {
                            "kind": "uk",
                            "url": f"http://127.0.0.1:{dead}",
                            "timeout_seconds": 8,
                        },
                        {"kind": "static", "grams_per_kwh": 380},
                    ]
                },
            }
        },
    }
    path = tmp / "settings.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _probe(config: Path, fmt: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "collector",
            "sources",
            "probe",
            "--config",
            str(config),
            "--format",
            fmt,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_probe_reports_every_kind(tmp_path: Path) -> None:
    web = tmp_path / "web"
    (web / "kepler" / "metrics").mkdir(parents=True)
    (web / "kepler" / "metrics" / "index.json").write_text(KEPLER.read_text())
    (web / "dcgm" / "metrics").mkdir(parents=True)
    (web / "dcgm" / "metrics" / "index.json").write_text((KEPLER.parent / "dcgm.prom").read_text())
    (web / "vllm" / "metrics").mkdir(parents=True)
    (web / "vllm" / "metrics" / "index.json").write_text(
        "# TYPE vllm:request_success counter\n"
        'vllm:request_success_total{model_name="qwen"} 7\n'
        'vllm:request_success_total{model_name="llama"} 2\n'
    )
    em = web / "v3" / "carbon-intensity" / "latest"
    em.mkdir(parents=True)
    (em / "index.json").write_text(
        json.dumps(
            {
                "zone": "DE",
                "carbonIntensity": 302,
                "datetime": "2024-05-01T12:00:00.000Z",
                "updatedAt": "2024-05-01T12:10:00.000Z",
                "emissionFactorType": "lifecycle",
                "isEstimated": False,
                "estimationMethod": None,
            }
        )
    )
    values = tmp_path / "ifmib.json"
    values.write_text(
        json.dumps(
            {
                "1.3.6.1.2.1.31.1.1.1.6.3": ["counter64", 123456789],
                "1.3.6.1.2.1.31.1.1.1.7.3": ["counter64", 1000],
            }
        )
    )
    (tmp_path / "snmpd").mkdir()
    (web / "redfish").mkdir()
    (web / "redfish" / "v1").symlink_to(shared_fixture("redfish", "public-pdu"))
    with (
        snmpsim(tmp_path, ("apc-8641",)) as port,
        snmpd(tmp_path / "snmpd", values, bases=(".1.3.6.1.2.1.31.1.1.1",)) as snmpd_port,
        serve_files(web, index="index.json") as base,
        refusing_port() as dead,
    ):
        config = _config(tmp_path, port, base, snmpd_port, dead)
        out = _probe(config, "json")
        table = _probe(config, "table")
    assert out.returncode == 1, out.stderr  # one source is down
    report = json.loads(out.stdout)
    by = {s["source"]: s for s in report["sources"]}
    assert by["pdu"]["up"] and len(by["pdu"]["readings"]) == 48
    outlet1 = next(r for r in by["pdu"]["readings"] if r["target"] == "1" and r["unit"] == "W")
    assert outlet1["value"] == 163 and outlet1["basis"] == "measured"
    kep = next(r for r in by["kepler"]["readings"] if r["target"] == "ran/du-0")
    assert kep["value"] == 200 and kep["unit"] == "J" and kep["basis"] == "modelled"
    assert by["rack"]["up"] and any(r["target"] == "pdu" for r in by["rack"]["readings"])
    gpu = {r["target"]: r["value"] for r in by["gpu"]["readings"] if r["unit"] == "J"}
    assert gpu["ai/vlm-0"] == 5002.5
    reqs = {r["target"]: r["value"] for r in by["reqs"]["readings"]}
    assert reqs == {"app=factory-vision (qwen)": 7, "app=unknown (llama)": 2}
    assert not by["dead"]["up"] and by["dead"]["errors"][0]["kind"] == "connect"
    switch = {r["unit"]: r["value"] for r in by["switch"]["readings"] if r["target"] == "3"}
    assert switch == {"bytes": 123456789, "packets": 1000}
    de, zone = report["carbon"]
    assert de["provider"] == "electricitymaps" and de["grams_per_kwh"] == 302
    assert de["signal"] == "average" and de["age_seconds"] > 0
    assert zone["provider"] == "static" and zone["grams_per_kwh"] == 380
    assert zone["errors"] and zone["errors"][0]["provider"] == "site/uk"
    assert table.returncode == 1
    assert "ERROR connect" in table.stdout and "ran/du-0" in table.stdout
    assert "gCO2e/kWh static (average)" in table.stdout


def test_probe_bad_config_names_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "sources:\n  - {name: x, kind: snmp, address: '1:1', profile: apc_ident, comunity: p}\n"
    )
    out = _probe(bad, "table")
    assert out.returncode != 0
    assert "comunity: unknown key" in out.stderr and str(bad) in out.stderr
