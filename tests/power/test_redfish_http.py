"""Redfish against the DMTF public-pdu mockup over real HTTP; Shelly, Tasmota, generic JSON and
request counters against a local server replaying their documented payloads."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from collector.models import ReadResult
from collector.power.pdu_http import HttpPlugReader
from collector.power.pdu_redfish import RedfishReader
from collector.power.requests import RequestsReader
from collector.settings import (
    HttpJsonSource,
    PrometheusCounterSource,
    RedfishSource,
    ShellySource,
    TasmotaSource,
)
from tests.conftest import shared_fixture
from tests.http_fixture import serve, serve_files
from tests.runtime import read_once


def _by(r: ReadResult) -> dict[tuple[str, str], float]:
    return {(s.target, s.kind): s.value for s in r.energy}


def test_redfish_public_pdu_mockup(tmp_path: Path) -> None:
    root = shared_fixture("redfish", "public-pdu")
    mock = _mount(root, tmp_path)
    with serve_files(mock, index="index.json") as base:
        s = RedfishSource(name="rf", kind="redfish", url=base, pdu="1")
        follow = read_once(RedfishReader(s))
        excerpt = read_once(RedfishReader(s.model_copy(update={"follow_sensors": False})))
        first = read_once(RedfishReader(s.model_copy(update={"pdu": None})))
    assert follow.up, follow.errors
    assert _by(first) == _by(follow)  # no `pdu`: the first RackPDUs member
    got = _by(follow)
    # Outlet A1: the sensor PowerA1 says 427.3 W (the excerpt 197.4 W); EnergyA1 7855 kW.h.
    assert got[("A1", "gauge")] == 427.3
    assert got[("A1", "counter")] == 7855 * 3_600_000.0
    # Outlet A4 has no readings at all: no sample rather than 0 W.
    assert ("A4", "gauge") not in got
    # Mains AC1: the sum of the three line-to-neutral phase sensors, never the line-to-line
    # readings on top (they describe the same power).
    sensors = root / "Chassis" / "PDU" / "Sensors"
    wye = sum(
        json.loads((sensors / f"PowerMains1-{i}" / "index.json").read_text())["Reading"]
        for i in (4, 5, 6)
    )
    assert abs(got[("mains/AC1", "gauge")] - wye) < 1e-9
    assert abs(_by(excerpt)[("mains/AC1", "gauge")] - (198.4 + 231.5 + 58.1)) < 1e-9
    # PDU level: the PDUPower sensor (2734.8 W); PDUEnergy has no sensor, so the excerpt.
    assert got[("pdu", "gauge")] == 2734.8
    assert got[("pdu", "counter")] == 56438 * 3_600_000.0
    pdu_sample = next(x for x in follow.energy if x.target == "pdu" and x.kind == "gauge")
    assert pdu_sample.t < 1.6e9  # the sensor's own ReadingTime (2019) is the sample time
    plain = _by(excerpt)
    assert plain[("A1", "gauge")] == 197.4 and plain[("A1", "counter")] == 36166 * 3_600_000.0
    assert len([k for k in got if k[1] == "gauge"]) == 9 + 1 + 1  # 9 metered outlets, mains, pdu


def _mount(root: Path, tmp: Path) -> Path:
    """A directory whose redfish/v1 points at the mockup, without copying it."""
    (tmp / "redfish").mkdir()
    (tmp / "redfish" / "v1").symlink_to(root)
    return tmp


def test_redfish_errors_are_reported() -> None:
    with serve(lambda _r: (401, b"{}", {})) as base:
        s = RedfishSource(name="rf", kind="redfish", url=base, pdu="1", username="u", password="p")
        r = read_once(RedfishReader(s))
    assert not r.up and r.errors[0].kind == "auth"


def _plug_handler(req: BaseHTTPRequestHandler) -> tuple[int, bytes, dict[str, str]]:
    if req.path.startswith("/rpc/Switch.GetStatus"):
        doc: object = {
            "id": 0,
            "output": True,
            "apower": 8.5,
            "voltage": 230.1,
            "aenergy": {"total": 1234.5, "by_minute": [1, 2, 3], "minute_ts": 1},
        }
    elif req.path.startswith("/cm?cmnd=Status%208"):
        doc = {
            "StatusSNS": {
                "Time": "2024-01-01T00:00:00",
                "ENERGY": {"Total": 12.345, "Power": 42, "Voltage": 230},
            }
        }
    elif req.path == "/meter":
        doc = {"data": {"readings": [{"kw": 1.5, "kwh": 100}]}}
    elif req.path == "/metrics":
        text = (
            "# TYPE vllm:request_success counter\n"
            'vllm:request_success_total{model_name="qwen2.5-vl-3b",finished_reason="stop"} 10\n'
            'vllm:request_success_total{model_name="qwen2.5-vl-3b",finished_reason="length"} 2\n'
            'vllm:request_success_total{model_name="other-model",finished_reason="stop"} 5\n'
        )
        return 200, text.encode(), {"Content-Type": "text/plain"}
    else:
        return 200, b"{not json", {}
    return 200, json.dumps(doc).encode(), {"Content-Type": "application/json"}


def test_plugs_and_requests() -> None:
    with serve(_plug_handler) as base:
        shelly = read_once(HttpPlugReader(ShellySource(name="sh", kind="shelly", url=base)))
        tas = read_once(HttpPlugReader(TasmotaSource(name="ta", kind="tasmota", url=base)))
        js = read_once(
            HttpPlugReader(
                HttpJsonSource(
                    name="js",
                    kind="http_json",
                    url=f"{base}/meter",
                    power_path="data.readings.0.kw",
                    power_unit="kW",
                    energy_path="data.readings.0.kwh",
                    energy_unit="kWh",
                    target="ru1",
                )
            )
        )
        broken = read_once(
            HttpPlugReader(
                HttpJsonSource(name="br", kind="http_json", url=f"{base}/broken", power_path="p")
            )
        )
        missing = read_once(
            HttpPlugReader(
                HttpJsonSource(
                    name="mi", kind="http_json", url=f"{base}/meter", power_path="data.nope"
                )
            )
        )
        reqs = read_once(
            RequestsReader(
                PrometheusCounterSource(
                    name="rq",
                    kind="prometheus_counter",
                    url=f"{base}/metrics",
                    metric="vllm:request_success_total",
                    label="model_name",
                    app_map={"qwen2.5-vl-3b": "factory-vision"},
                )
            )
        )
    assert _by(shelly) == {("0", "gauge"): 8.5, ("0", "counter"): 1234.5 * 3600}
    assert (
        _by(tas)[("0", "gauge")] == 42 and abs(_by(tas)[("0", "counter")] - 12.345e3 * 3600) < 1e-6
    )
    assert next(s for s in tas.energy if s.kind == "counter").resolution_joules == 3600
    assert _by(js) == {("ru1", "gauge"): 1500.0, ("ru1", "counter"): 100 * 3_600_000.0}
    assert not broken.up and broken.errors[0].kind == "parse"
    assert not missing.up and "data.nope" in missing.errors[0].message
    apps = {(r.app, r.label_value): r.requests_total for r in reqs.requests}
    assert apps == {("factory-vision", "qwen2.5-vl-3b"): 12, ("unknown", "other-model"): 5}
