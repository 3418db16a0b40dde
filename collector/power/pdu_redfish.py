"""Redfish PowerDistribution (rack PDUs): outlets, mains circuits and the PDU-level Metrics.

The fetch walks the links and collects every resource it needs, sensors included, into one
{"@odata.id": document} map; `parse_redfish` is pure over that map. A reading's embedded
`Reading` is an excerpt: when its `DataSourceUri` sensor was fetched, the sensor wins (its
units and ReadingTime are authoritative); when the sensor is absent, the excerpt is used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from collector.models import EnergyBasis, EnergySample, ReadResult, SampleKind
from collector.settings import RedfishSource
from collector.sources import PayloadError, SourceFailure
from collector.sources.http import HttpSource
from collector.sources.values import checked, iso_timestamp, reading
from collector.units import to_joules, to_watts

Docs = Mapping[str, Any]
_WYE = ("Line1ToNeutral", "Line2ToNeutral", "Line3ToNeutral")
_DELTA = ("Line1ToLine2", "Line2ToLine3", "Line3ToLine1")


def _ts(text: Any, default: float) -> float:
    """A reading's ReadingTime, else the received time."""
    try:
        return iso_timestamp(text)
    except PayloadError:
        return default


def _reading(excerpt: Any, docs: Docs, kind: SampleKind, t: float) -> tuple[float, float] | None:
    """(value in W or J, timestamp) of an excerpt, preferring its fetched sensor."""
    if not isinstance(excerpt, dict):
        return None
    sensor = docs.get(str(excerpt.get("DataSourceUri", "")))
    src = sensor if isinstance(sensor, dict) and sensor.get("Reading") is not None else excerpt
    value = src.get("Reading")
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    default_unit = "W" if kind == "gauge" else "kWh"
    unit = str(src.get("ReadingUnits", default_unit)) if src is sensor else default_unit
    what = str(src.get("@odata.id") or excerpt.get("DataSourceUri") or "a reading")
    value = reading(value, what)
    try:
        converted = to_watts(value, unit) if kind == "gauge" else to_joules(value, unit)
    except ValueError as exc:
        raise PayloadError(f"{what}: {exc}") from None
    return checked(float(converted), f"{what} ({unit})"), _ts(src.get("ReadingTime"), t)


def _mains_power(circuit: dict[str, Any], docs: Docs, t: float) -> tuple[float, float] | None:
    """A circuit's total: PowerWatts, else the sum of line-to-neutral phases, else line-to-line.

    Line-to-line and line-to-neutral readings describe the same power: never both.
    """
    direct = _reading(circuit.get("PowerWatts"), docs, "gauge", t)
    if direct is not None:
        return direct
    poly = circuit.get("PolyPhasePowerWatts")
    if not isinstance(poly, dict):
        return None
    for group in (_WYE, _DELTA):
        parts = [_reading(poly.get(k), docs, "gauge", t) for k in group if k in poly]
        got = [p for p in parts if p is not None]
        if got:
            total = checked(sum(p[0] for p in got), f"{circuit.get('Id', '')} phase sum (W)")
            return total, max(p[1] for p in got)
    return None


def _members(docs: Docs, collection: Any) -> list[dict[str, Any]]:
    if not isinstance(collection, dict):
        return []
    coll = docs.get(str(collection.get("@odata.id", "")))
    if not isinstance(coll, dict):
        return []
    out = []
    for m in coll.get("Members", []):
        doc = docs.get(str(m.get("@odata.id", ""))) if isinstance(m, dict) else None
        if isinstance(doc, dict):
            out.append(doc)
    return out


def parse_redfish(
    docs: Docs, pdu_path: str, *, source: str, t: float, basis: EnergyBasis = "measured"
) -> tuple[EnergySample, ...]:
    """Pure: outlets (target = outlet Id), mains ("mains/<Id>") and Metrics ("pdu")."""
    pdu = docs.get(pdu_path)
    if not isinstance(pdu, dict):
        raise PayloadError(f"{pdu_path}: PowerDistribution resource missing")
    out: list[EnergySample] = []

    def emit(target: str, kind: SampleKind, r: tuple[float, float] | None) -> None:
        if r is not None:
            out.append(EnergySample(source, target, r[1], kind, r[0], energy_basis=basis))

    for outlet in _members(docs, pdu.get("Outlets")):
        oid = str(outlet.get("Id", ""))
        emit(oid, "gauge", _reading(outlet.get("PowerWatts"), docs, "gauge", t))
        emit(oid, "counter", _reading(outlet.get("EnergykWh"), docs, "counter", t))
    for circuit in _members(docs, pdu.get("Mains")):
        cid = f"mains/{circuit.get('Id', '')}"
        emit(cid, "gauge", _mains_power(circuit, docs, t))
        emit(cid, "counter", _reading(circuit.get("EnergykWh"), docs, "counter", t))
    link = pdu.get("Metrics")
    metrics = docs.get(str(link.get("@odata.id", ""))) if isinstance(link, dict) else None
    if isinstance(metrics, dict):
        emit("pdu", "gauge", _reading(metrics.get("PowerWatts"), docs, "gauge", t))
        emit("pdu", "counter", _reading(metrics.get("EnergykWh"), docs, "counter", t))
    return tuple(out)


def _links(doc: Any) -> list[str]:
    """Every DataSourceUri below a document (sensors to follow)."""
    found: list[str] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "DataSourceUri" and isinstance(v, str):
                found.append(v)
            else:
                found.extend(_links(v))
    return found


class RedfishReader(HttpSource[RedfishSource]):
    def __init__(self, settings: RedfishSource) -> None:
        # Embedded PDU web servers are small: at most 4 requests in flight.
        super().__init__(settings, settings.url.rstrip("/"), max_connections=4)

    async def _get_many(self, paths: list[str], docs: dict[str, Any], *, optional: bool) -> None:
        async def one(path: str) -> None:
            try:
                docs[path] = await self.http.get_json(self.url + path)
            except SourceFailure:
                if not optional:
                    raise

        await asyncio.gather(*(one(p) for p in dict.fromkeys(paths) if p not in docs))

    async def fetch(self) -> tuple[str, dict[str, Any]]:
        """Every resource the parse needs, by @odata.id: the PDU, its collections, their
        members and (with follow_sensors) the sensors their readings point at."""
        docs: dict[str, Any] = {}
        pdu_path = (
            f"/redfish/v1/PowerEquipment/RackPDUs/{self.settings.pdu}" if self.settings.pdu else ""
        )
        if not pdu_path:
            coll = await self.http.get_json(self.url + "/redfish/v1/PowerEquipment/RackPDUs")
            members = coll.get("Members") if isinstance(coll, dict) else None
            if not members:
                raise PayloadError("no RackPDUs on this Redfish service")
            pdu_path = str(members[0]["@odata.id"])
        await self._get_many([pdu_path], docs, optional=False)
        pdu = docs[pdu_path]
        colls = [str(pdu[k]["@odata.id"]) for k in ("Outlets", "Mains", "Metrics") if k in pdu]
        await self._get_many(colls, docs, optional=False)
        members = [str(m["@odata.id"]) for c in colls for m in docs[c].get("Members", [])]
        await self._get_many(members, docs, optional=True)
        if self.settings.follow_sensors:
            sensors = [u for p in [*colls, *members] for u in _links(docs.get(p))]
            await self._get_many(sensors, docs, optional=True)
        return pdu_path, docs

    def parse(self, raw: tuple[str, dict[str, Any]], t: float) -> ReadResult:
        pdu_path, docs = raw
        samples = parse_redfish(
            docs, pdu_path, source=self.name, t=t, basis=self.settings.energy_basis
        )
        return ReadResult(self.name, True, 0.0, energy=samples)
