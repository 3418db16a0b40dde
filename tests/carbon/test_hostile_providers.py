"""Carbon providers answering negative, non-finite or absurd intensities (a real HTTP server on
the loopback in the documented shapes): the value is rejected with a named error and the zone's
next provider serves; nothing reaches the accounting.

Before issue 14 negative and non-finite values were already rejected (`invalid_value`); an
absurd intensity (1e9 g/kWh, a unit or parsing error of the provider) was taken as data. The
negative/NaN cases prove the first still holds; the absurd ones failed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from collector.carbon.service import build_carbon
from collector.settings import parse_settings
from tests.carbon.test_carbon import ISO_NOW, NOW, Script
from tests.http_fixture import serve

BAD = [b"-250", b"NaN", b"Infinity", b"1e9", b"2600", b"-0.5"]


def _chain(first: dict[str, Any]) -> Any:
    zones = {"z": {"providers": [first, {"kind": "static", "grams_per_kwh": 380}]}}
    return build_carbon(parse_settings({"carbon": {"zones": zones}}))


@pytest.mark.parametrize("value", BAD)
def test_electricitymaps_bad_intensity_falls_back(value: bytes) -> None:
    sc = Script()
    body = b'{"zone": "DE", "carbonIntensity": %s, "datetime": "%s"}' % (value, ISO_NOW.encode())
    sc.routes["/v3/carbon-intensity/latest"] = (200, body, {"Content-Type": "application/json"})
    with serve(sc) as base:
        svc = _chain({"kind": "electricitymaps", "zone": "DE", "token": "t", "url": base})
        got = {s.zone: s for s in asyncio.run(svc.refresh(NOW))}
    assert got["z"].provider == "static" and got["z"].grams_per_kwh == 380
    health = svc.health()["z/electricitymaps"]
    assert not health.up and health.errors_total == {"invalid_value": 1}


@pytest.mark.parametrize("value", BAD)
def test_uk_bad_intensity_falls_back(value: bytes) -> None:
    sc = Script()
    body = (
        b'{"data": [{"from": "%s", "to": "%s", "intensity": {"forecast": %s, "actual": %s,'
        b' "index": "high"}}]}' % (ISO_NOW.encode(), ISO_NOW.encode(), value, value)
    )
    sc.routes["/intensity"] = (200, body, {"Content-Type": "application/json"})
    with serve(sc) as base:
        svc = _chain({"kind": "uk", "url": base})
        got = {s.zone: s for s in asyncio.run(svc.refresh(NOW))}
    assert got["z"].provider == "static" and got["z"].grams_per_kwh == 380
    assert svc.health()["z/uk"].errors_total == {"invalid_value": 1}


def test_a_plausible_intensity_is_taken() -> None:
    sc = Script()
    body = b'{"zone": "DE", "carbonIntensity": 1250, "datetime": "%s"}' % ISO_NOW.encode()
    sc.routes["/v3/carbon-intensity/latest"] = (200, body, {"Content-Type": "application/json"})
    with serve(sc) as base:
        svc = _chain({"kind": "electricitymaps", "zone": "DE", "token": "t", "url": base})
        got = {s.zone: s for s in asyncio.run(svc.refresh(NOW))}
    assert got["z"].provider == "electricitymaps" and got["z"].grams_per_kwh == 1250
