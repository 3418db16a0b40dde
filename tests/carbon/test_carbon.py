"""Grid providers against a local HTTP server replaying documented shapes, plus 401, 429,
500, timeouts and malformed JSON: the provider reports, the fallback serves, nothing crashes."""

from __future__ import annotations

import asyncio
import base64
import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from collector.carbon.service import build_carbon
from collector.settings import SettingsError, parse_settings
from tests.http_fixture import serve

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
ISO_NOW = "2023-11-14T22:00:00Z"


class Script:
    """Per-path scripted answers; `calls` records what was asked."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, Any, dict[str, str]]] = {}
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.delay_s = 0.0

    def __call__(self, req: BaseHTTPRequestHandler) -> tuple[int, bytes, dict[str, str]]:
        path = req.path.split("?")[0]
        self.calls.append((req.path, dict(req.headers)))
        status, body, headers = self.routes.get(path, (404, {"error": "nope"}, {}))
        if path.startswith("/slow"):
            import time

            time.sleep(self.delay_s)
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return status, raw, headers


def _settings(zones: dict[str, Any]) -> Any:
    return parse_settings({"carbon": {"zones": zones}})


def _run(svc: Any, now: float = NOW) -> dict[str, Any]:
    return {s.zone: s for s in asyncio.run(svc.refresh(now))}


def test_documented_shapes() -> None:
    sc = Script()
    sc.routes["/v3/carbon-intensity/latest"] = (
        200,
        {
            "zone": "DE",
            "carbonIntensity": 302,
            "datetime": ISO_NOW,
            "updatedAt": ISO_NOW,
            "emissionFactorType": "lifecycle",
            "isEstimated": True,
            "estimationMethod": "TIME_SLICER",
        },
        {},
    )
    sc.routes["/intensity"] = (
        200,
        {
            "data": [
                {
                    "from": "2023-11-14T22:00Z",
                    "to": "2023-11-14T22:30Z",
                    "intensity": {"forecast": 150, "actual": None, "index": "moderate"},
                }
            ]
        },
        {},
    )
    sc.routes["/login"] = (200, {"token": "tok-1"}, {})
    sc.routes["/v3/forecast"] = (
        200,
        {
            "data": [
                {"point_time": ISO_NOW, "value": 1000.0},
                {"point_time": "2023-11-14T22:05:00Z", "value": 900},
            ],
            "meta": {"units": "lbs_co2_per_mwh", "region": "CAISO_NORTH"},
        },
        {},
    )
    sc.routes["/v3/signal-index"] = (
        200,
        {"data": [{"point_time": ISO_NOW, "value": 77.0}], "meta": {"units": "percentile"}},
        {},
    )
    with serve(sc) as base:
        svc = build_carbon(
            _settings(
                {
                    "de": {
                        "providers": [
                            {"kind": "electricitymaps", "zone": "DE", "token": "t0k", "url": base}
                        ]
                    },
                    "gb": {"providers": [{"kind": "uk", "url": base}]},
                    "ca": {
                        "providers": [
                            {
                                "kind": "watttime",
                                "region": "CAISO_NORTH",
                                "username": "u",
                                "password": "p",
                                "url": base,
                                "signal_index": True,
                            }
                        ]
                    },
                }
            )
        )
        got = _run(svc)
    assert got["de"].grams_per_kwh == 302 and got["de"].provider == "electricitymaps"
    assert got["de"].signal == "average" and got["de"].estimated
    assert any(h.get("auth-token") == "t0k" for p, h in sc.calls if "latest" in p)
    assert got["gb"].grams_per_kwh == 150 and got["gb"].estimated  # actual null -> forecast
    assert got["ca"].signal == "marginal"
    assert abs(got["ca"].grams_per_kwh - 900 * 0.453592) < 1e-9  # the point in force at NOW
    login = next(h for p, h in sc.calls if p == "/login")
    assert base64.b64decode(login["Authorization"].split()[1]) == b"u:p"
    assert any(h.get("Authorization") == "Bearer tok-1" for p, h in sc.calls if "forecast" in p)
    (idx,) = svc.indices
    assert idx.value == 77.0 and idx.units == "percentile"  # an index, never grams
    assert svc.age_seconds("de", NOW) == NOW - got["de"].t


def test_watttime_token_refresh() -> None:
    sc = Script()
    sc.routes["/login"] = (200, {"token": "tok"}, {})
    sc.routes["/v3/forecast"] = (
        200,
        {"data": [{"point_time": ISO_NOW, "value": 500}], "meta": {"units": "lbs_co2_per_mwh"}},
        {},
    )
    with serve(sc) as base:
        svc = build_carbon(
            _settings(
                {
                    "ca": {
                        "providers": [
                            {
                                "kind": "watttime",
                                "region": "R",
                                "username": "u",
                                "password": "p",
                                "url": base,
                                "ttl_seconds": 60,
                                "token_refresh_seconds": 1500,
                            }
                        ]
                    }
                }
            )
        )
        for dt in (0, 100, 1000, 1600):
            _run(svc, NOW + dt)
    logins = [p for p, _ in sc.calls if p == "/login"]
    assert len(logins) == 2  # at start and again before the ~30 min expiry, not per call
    assert len([p for p, _ in sc.calls if p.startswith("/v3/forecast")]) == 4


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, {"error": "bad token"}, "auth"),
        (429, {"error": "slow down"}, "rate_limit"),
        (500, {"error": "boom"}, "http"),
        (200, b"{not json", "parse"),
        (200, {"unexpected": True}, "parse"),
    ],
)
def test_failures_fall_back(status: int, body: Any, kind: str) -> None:
    sc = Script()
    headers = {"Retry-After": "120"} if status == 429 else {}
    sc.routes["/v3/carbon-intensity/latest"] = (status, body, headers)
    with serve(sc) as base:
        svc = build_carbon(
            _settings(
                {
                    "z": {
                        "providers": [
                            {
                                "kind": "electricitymaps",
                                "zone": "DE",
                                "token": "t",
                                "url": base,
                                "backoff_seconds": 30,
                            },
                            {"kind": "static", "grams_per_kwh": 380},
                        ]
                    }
                }
            )
        )
        first = _run(svc)
        calls_after_first = len(sc.calls)
        _run(svc, NOW + 20)  # still backing off: the provider is not asked again
        calls_during_backoff = len(sc.calls)
        _run(svc, NOW + 200)  # past the backoff (Retry-After 120 for 429): asked again
    assert first["z"].provider == "static" and first["z"].grams_per_kwh == 380
    health = svc.health()["z/electricitymaps"]
    assert not health.up and health.errors_total.get(kind) == 2
    assert calls_during_backoff == calls_after_first
    assert len(sc.calls) == calls_after_first + 1


def test_timeout_and_all_fail_means_missing(tmp_path: Path) -> None:
    sc = Script()
    sc.delay_s = 1.5
    sc.routes["/slow/intensity"] = (200, {}, {})
    with serve(sc) as base:
        svc = build_carbon(
            _settings(
                {
                    "z": {
                        "providers": [
                            {"kind": "uk", "url": f"{base}/slow", "timeout_seconds": 0.3},
                        ]
                    }
                }
            )
        )
        got = _run(svc)
    assert "z" not in got  # nothing usable: missing, never zero
    assert svc.health()["z/uk"].errors_total == {"timeout": 1}
    assert svc.age_seconds("z", NOW) is None


def test_cache_ttl_and_max_age(tmp_path: Path) -> None:
    csv = tmp_path / "replay.csv"
    csv.write_text(f"timestamp,grams_per_kwh\n{NOW - 7200},100\n{NOW - 600},200\n{NOW + 600},300\n")
    svc = build_carbon(
        _settings(
            {
                "z": {
                    "providers": [
                        {
                            "kind": "csv",
                            "path": str(csv),
                            "ttl_seconds": 60,
                            "max_age_seconds": 900,
                        },
                        {"kind": "static", "grams_per_kwh": 50},
                    ]
                }
            }
        )
    )
    assert _run(svc)["z"].grams_per_kwh == 200  # last row at or before now
    assert _run(svc, NOW + 30)["z"].grams_per_kwh == 200  # cached within the TTL
    assert _run(svc, NOW + 700)["z"].grams_per_kwh == 300
    late = _run(svc, NOW + 600 + 1000)  # newest row is now older than max_age
    assert late["z"].provider == "static"


def test_mixed_signals_rejected_when_settings_load() -> None:
    with pytest.raises(SettingsError, match="mix average and marginal"):
        _settings({"z": {"providers": [{"kind": "watttime", "region": "R"}, {"kind": "uk"}]}})


def test_watttime_relogin_on_401_and_bad_csv(tmp_path: Path) -> None:
    tokens = iter(["old", "new"])
    forecast = {
        "data": [{"point_time": ISO_NOW, "value": 500}],
        "meta": {"units": "lbs_co2_per_mwh"},
    }

    class Flaky(Script):
        def __call__(self, req: BaseHTTPRequestHandler) -> tuple[int, bytes, dict[str, str]]:
            path = req.path.split("?")[0]
            self.calls.append((req.path, dict(req.headers)))
            if path == "/login":
                return 200, json.dumps({"token": next(tokens)}).encode(), {}
            if req.headers.get("Authorization") != "Bearer new":
                return 401, b"{}", {}
            return 200, json.dumps(forecast).encode(), {}

    flaky = Flaky()
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("timestamp,grams_per_kwh\n1700000000,100\nnot-a-row\n")
    with serve(flaky) as base:
        svc = build_carbon(
            _settings(
                {
                    "ca": {
                        "providers": [
                            {
                                "kind": "watttime",
                                "region": "R",
                                "username": "u",
                                "password": "p",
                                "url": base,
                            }
                        ]
                    },
                    "replay": {
                        "providers": [
                            {"kind": "csv", "path": str(bad_csv)},
                            {"kind": "static", "grams_per_kwh": 1},
                        ]
                    },
                }
            )
        )
        got = _run(svc)
    assert got["ca"].grams_per_kwh == 500 * 0.453592  # expired token: one re-login, then data
    assert [p for p, _ in flaky.calls].count("/login") == 2
    assert got["replay"].provider == "static"
    assert "bad.csv:3" in svc.health()["replay/csv"].last_error
