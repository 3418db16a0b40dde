"""Smart plugs and simple JSON meters over HTTP: Shelly Gen2 RPC, Tasmota Status 8, generic JSON.

Each payload gives a power gauge (W) and, where the device keeps one, an energy counter
converted to joules in collector.units (Shelly Wh, Tasmota kWh with 1 Wh steps).
"""

from __future__ import annotations

import time
from typing import Any

from collector.models import EnergyBasis, EnergySample, ReadResult
from collector.power.base import guarded_read
from collector.power.http import HttpOptions, fetch_json
from collector.settings import HttpJsonSource, ShellySource, TasmotaSource
from collector.units import joules_from_kwh, joules_from_wh, to_joules, to_watts

TASMOTA_RESOLUTION_JOULES = 3600.0
"""Tasmota reports Total in kWh with three decimals: one step is 1 Wh."""


def json_path(doc: Any, path: str) -> Any:
    """Follow a dotted path ("a.b.0.c"; integers index lists); KeyError names the missing part."""
    cur = doc
    for part in path.split("."):
        if isinstance(cur, list) and part.lstrip("-").isdigit():
            idx = int(part)
            if not -len(cur) <= idx < len(cur):
                raise KeyError(f"{path}: index {part} out of range")
            cur = cur[idx]
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            raise KeyError(f"{path}: no {part!r} in the response")
    return cur


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} is not a number: {value!r}")
    return float(value)


def _pair(
    source: str,
    target: str,
    t: float,
    basis: EnergyBasis,
    watts: float | None,
    joules: float | None,
    resolution: float | None = None,
) -> tuple[EnergySample, ...]:
    out = []
    if watts is not None:
        out.append(EnergySample(source, target, t, "gauge", watts, energy_basis=basis))
    if joules is not None:
        out.append(
            EnergySample(
                source,
                target,
                t,
                "counter",
                joules,
                energy_basis=basis,
                resolution_joules=resolution,
            )
        )
    return tuple(out)


def parse_shelly(
    doc: Any, *, source: str, target: str, t: float, basis: EnergyBasis = "measured"
) -> tuple[EnergySample, ...]:
    """Shelly Gen2 `Switch.GetStatus`: `apower` (W) and `aenergy.total` (Wh)."""
    watts = _number(json_path(doc, "apower"), "apower")
    joules = float(joules_from_wh(_number(json_path(doc, "aenergy.total"), "aenergy.total")))
    return _pair(source, target, t, basis, watts, joules)


def parse_tasmota(
    doc: Any, *, source: str, target: str, t: float, basis: EnergyBasis = "measured"
) -> tuple[EnergySample, ...]:
    """Tasmota `Status 8`: `StatusSNS.ENERGY.Power` (W) and `.Total` (kWh)."""
    energy = json_path(doc, "StatusSNS.ENERGY")
    watts = _number(json_path(energy, "Power"), "ENERGY.Power")
    joules = float(joules_from_kwh(_number(json_path(energy, "Total"), "ENERGY.Total")))
    return _pair(source, target, t, basis, watts, joules, TASMOTA_RESOLUTION_JOULES)


def parse_http_json(doc: Any, s: HttpJsonSource, *, t: float) -> tuple[EnergySample, ...]:
    """Generic JSON: power and/or energy at configured paths, in configured units."""
    watts = joules = None
    if s.power_path is not None:
        watts = float(to_watts(_number(json_path(doc, s.power_path), s.power_path), s.power_unit))
    if s.energy_path is not None:
        raw = _number(json_path(doc, s.energy_path), s.energy_path)
        joules = float(to_joules(raw, s.energy_unit))
    return _pair(s.name, s.target, t, s.energy_basis, watts, joules)


class HttpPlugReader:
    """One reader for the three JSON payload kinds; the URL decides the endpoint."""

    def __init__(self, settings: ShellySource | TasmotaSource | HttpJsonSource) -> None:
        self.name = settings.name
        self._s = settings

    def _http(self) -> HttpOptions:
        """Secrets are read per read: a rotated Secret is picked up, a missing one is an error
        of this source only."""
        return HttpOptions.from_settings(self._s, self._s.timeout_seconds)

    def url(self) -> str:
        base = self._s.url.rstrip("/")
        if isinstance(self._s, ShellySource):
            return f"{base}/rpc/Switch.GetStatus?id={self._s.switch_id}"
        if isinstance(self._s, TasmotaSource):
            return f"{base}/cm?cmnd=Status%208"
        return self._s.url

    def parse(self, doc: Any, t: float) -> tuple[EnergySample, ...]:
        s = self._s
        if isinstance(s, ShellySource):
            return parse_shelly(doc, source=s.name, target=s.target, t=t, basis=s.energy_basis)
        if isinstance(s, TasmotaSource):
            return parse_tasmota(doc, source=s.name, target=s.target, t=t, basis=s.energy_basis)
        return parse_http_json(doc, s, t=t)

    async def read(self) -> ReadResult:
        async def body(t0: float) -> ReadResult:
            started = time.perf_counter()
            doc = await fetch_json(self._http(), self.url())
            samples = self.parse(doc, time.time())
            return ReadResult(self.name, True, time.perf_counter() - started, energy=samples)

        return await guarded_read(self.name, body)
