"""Smart plugs and simple JSON meters over HTTP: Shelly Gen2 RPC, Tasmota Status 8, generic JSON.

Each payload gives a power gauge (W) and, where the device keeps one, an energy counter
converted to joules in collector.units (Shelly Wh, Tasmota kWh with 1 Wh steps).
"""

from __future__ import annotations

from typing import Any

from collector.models import EnergyBasis, EnergySample, ReadResult
from collector.settings import HttpJsonSource, ShellySource, TasmotaSource
from collector.sources import PayloadError
from collector.sources.http import HttpSource
from collector.sources.values import checked, reading
from collector.units import joules_from_kwh, joules_from_wh, to_joules, to_watts

TASMOTA_RESOLUTION_JOULES = 3600.0
"""Tasmota reports Total in kWh with three decimals: one step is 1 Wh."""


def json_path(doc: Any, path: str) -> Any:
    """Follow a dotted path ("a.b.0.c"; integers index lists); the error names the missing part."""
    cur = doc
    for part in path.split("."):
        if isinstance(cur, list) and part.lstrip("-").isdigit():
            idx = int(part)
            if not -len(cur) <= idx < len(cur):
                raise PayloadError(f"{path}: index {part} out of range")
            cur = cur[idx]
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            raise PayloadError(f"{path}: no {part!r} in the response")
    return cur


def _at(doc: Any, path: str) -> float:
    """The checked reading at `path`."""
    return reading(json_path(doc, path), path)


def _pair(
    source: str,
    target: str,
    t: float,
    basis: EnergyBasis,
    watts: float | None,
    joules: float | None,
    resolution: float | None = None,
) -> tuple[EnergySample, ...]:
    """The samples, checked again after unit conversion (a huge kWh total overflows)."""
    out = []
    if watts is not None:
        watts = checked(watts, f"{source} power (W)")
        out.append(EnergySample(source, target, t, "gauge", watts, energy_basis=basis))
    if joules is not None:
        joules = checked(joules, f"{source} energy (J)")
        out.append(
            EnergySample(source, target, t, "counter", joules, basis, resolution_joules=resolution)
        )
    return tuple(out)


def parse_shelly(
    doc: Any, *, source: str, target: str, t: float, basis: EnergyBasis = "measured"
) -> tuple[EnergySample, ...]:
    """Shelly Gen2 `Switch.GetStatus`: `apower` (W) and `aenergy.total` (Wh)."""
    watts = _at(doc, "apower")
    joules = float(joules_from_wh(_at(doc, "aenergy.total")))
    return _pair(source, target, t, basis, watts, joules)


def parse_tasmota(
    doc: Any, *, source: str, target: str, t: float, basis: EnergyBasis = "measured"
) -> tuple[EnergySample, ...]:
    """Tasmota `Status 8`: `StatusSNS.ENERGY.Power` (W) and `.Total` (kWh)."""
    watts = _at(doc, "StatusSNS.ENERGY.Power")
    joules = float(joules_from_kwh(_at(doc, "StatusSNS.ENERGY.Total")))
    return _pair(source, target, t, basis, watts, joules, TASMOTA_RESOLUTION_JOULES)


def parse_http_json(doc: Any, s: HttpJsonSource, *, t: float) -> tuple[EnergySample, ...]:
    """Generic JSON: power and/or energy at configured paths, in configured units."""
    watts = joules = None
    if s.power_path is not None:
        watts = float(to_watts(_at(doc, s.power_path), s.power_unit))
    if s.energy_path is not None:
        joules = float(to_joules(_at(doc, s.energy_path), s.energy_unit))
    return _pair(s.name, s.target, t, s.energy_basis, watts, joules)


class HttpPlugReader(HttpSource[ShellySource | TasmotaSource | HttpJsonSource]):
    """One reader for the three JSON payload kinds; the kind decides the endpoint."""

    def __init__(self, settings: ShellySource | TasmotaSource | HttpJsonSource) -> None:
        super().__init__(settings, plug_url(settings))

    async def fetch(self) -> Any:
        return await self.http.get_json(self.url)

    def parse(self, raw: Any, t: float) -> ReadResult:
        s = self.settings
        if isinstance(s, ShellySource):
            got = parse_shelly(raw, source=s.name, target=s.target, t=t, basis=s.energy_basis)
        elif isinstance(s, TasmotaSource):
            got = parse_tasmota(raw, source=s.name, target=s.target, t=t, basis=s.energy_basis)
        else:
            got = parse_http_json(raw, s, t=t)
        return ReadResult(self.name, True, 0.0, energy=got)


def plug_url(s: ShellySource | TasmotaSource | HttpJsonSource) -> str:
    base = s.url.rstrip("/")
    if isinstance(s, ShellySource):
        return f"{base}/rpc/Switch.GetStatus?id={s.switch_id}"
    if isinstance(s, TasmotaSource):
        return f"{base}/cm?cmnd=Status%208"
    return s.url
