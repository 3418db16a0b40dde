"""Raw samples (sources, agents, carbon) into engine records in the replay format.

The live attributor maps every sample here and records exactly what the engine ingests, so a
recording replays to the same numbers. Unknown TraceIDs become app `unknown`; a NodeID that no NF
stamps cannot be attributed anywhere and is counted in `unmapped_nodes`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import fields

from collector.attribution.records import (
    EnergyMode,
    EnergyRecord,
    IntensityRecord,
    Record,
    RequestsRecord,
    TrafficRecord,
    TrafficTotalRecord,
)
from collector.attribution.topology import Topology
from collector.models import (
    EnergySample,
    IntensitySample,
    RequestSample,
    TrafficCount,
    TrafficTotalSample,
)
from collector.power.targets import target_key
from collector.settings import Settings

MAX_CACHED_FLOWS = 1_000_000
"""Flows whose mapping is kept (~200 bytes each); past it the cache starts again."""


class InputMapper:
    """Knows which NF each (source, target) belongs to; built once from the settings."""

    def __init__(self, settings: Settings, topology: Topology) -> None:
        self.topology = topology
        self._power: dict[tuple[str, str], str] = {}
        self._gauge: dict[tuple[str, str], str] = {}
        self._totals: dict[tuple[str, str], str] = {}
        self._requests: dict[str, str] = {}
        for nf in settings.nfs:
            if nf.power is not None:
                self._power[(nf.power.source, target_key(nf.power.target))] = nf.name
            if nf.gauge is not None:
                self._gauge[(nf.gauge.source, target_key(nf.gauge.target))] = nf.name
            if nf.traffic_total is not None:
                ref = nf.traffic_total
                for target in [*ref.interfaces, *([ref.target] if ref.target else [])]:
                    self._totals[(ref.source, target)] = nf.name
            if nf.requests is not None:
                self._requests[nf.requests.source] = nf.name
        self.unmapped_nodes = 0
        self.bad_annotations = 0
        self.bad_values = 0
        self._discovered: dict[tuple[int | None, str], str] = {}
        self._flows: dict[tuple[int, int, str, str], tuple[str, str, str]] = {}
        """(node_id, namespace_id, trace_id, k8s_node) -> (nf, app, series) of a mapped flow:
        every agent reports the same flows each tick, so each is resolved once (the series
        string, reused, also keeps its hash for the engine's series lookup)."""

    def set_discovered(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Apps found on pod annotations: (app, value) with value `<namespace_id>:<trace_id>` or
        a bare `<trace_id>` (any namespace). The settings' `apps` win over annotations."""
        found: dict[tuple[int | None, str], str] = {}
        bad = 0
        for app, value in pairs:
            ns, sep, trace = value.strip().rpartition(":")
            try:
                key = (int(ns) if sep else None, str(int(trace)))
            except ValueError:
                bad += 1
                continue
            found[key] = app
        self._discovered = found
        self.bad_annotations = bad
        self._flows.clear()  # apps may have moved

    def app_for(self, namespace_id: int, trace_id: str) -> str:
        """Settings first, then pod annotations, else `unknown`."""
        key = (namespace_id, str(trace_id))
        if key in self.topology.apps:
            return self.topology.apps[key]
        found = self._discovered.get(key) or self._discovered.get((None, str(trace_id)))
        return found or self.topology.app_for(namespace_id, trace_id)

    def _nf_for(self, table: dict[tuple[str, str], str], source: str, target: str) -> str | None:
        return table.get((source, target)) or table.get((source, ""))

    def energy(self, s: EnergySample) -> EnergyRecord | None:
        if s.unsupported:
            return None
        if s.kind == "gauge":
            nf = self._nf_for(self._gauge, s.source, s.target) or self._nf_for(
                self._power, s.source, s.target
            )
            if nf is None:
                return None
            return EnergyRecord(t=s.t, nf=nf, watts=s.value, energy_basis=s.energy_basis)
        nf = self._nf_for(self._power, s.source, s.target)
        if nf is None:
            return None
        labels = dict(s.labels)
        mode: EnergyMode = "total"
        if labels.get("mode") == "idle":
            mode = "idle"
        elif labels.get("component") == "gpu":
            mode = "gpu"
        return EnergyRecord(
            t=s.t,
            nf=nf,
            joules_total=s.value,
            mode=mode,
            resolution_joules=s.resolution_joules,
            counter_width_joules=s.counter_width_joules,
            energy_basis=s.energy_basis,
        )

    def traffic(self, c: TrafficCount) -> TrafficRecord | None:
        key = (c.node_id, c.namespace_id, c.trace_id, c.k8s_node)
        known = self._flows.get(key)
        if known is None:
            spec = self.topology.nf_for_node(c.node_id)
            if spec is None:
                self.unmapped_nodes += 1
                return None
            app = self.app_for(c.namespace_id, c.trace_id)
            known = (spec.name, app, f"{c.k8s_node}/{c.namespace_id}/{c.trace_id}")
            if len(self._flows) >= MAX_CACHED_FLOWS:  # flows come and go: bound the memory
                self._flows.clear()
            self._flows[key] = known
        nf, app, series = known
        return TrafficRecord(
            t=c.t,
            nf=nf,
            app=app,
            direction=c.direction,
            packets_total=c.packets_total,
            bytes_total=c.bytes_total,
            series=series,
        )

    def traffic_total(self, s: TrafficTotalSample, host: str = "") -> TrafficTotalRecord | None:
        nf = self._totals.get((s.source, s.target))
        if nf is None:
            return None
        return TrafficTotalRecord(
            t=s.t,
            nf=nf,
            packets_total=s.packets_total,
            bytes_total=s.bytes_total,
            link_header_bytes=s.link_header_bytes,
            series=f"{host}/{s.source}/{s.target}",
            counter_width=s.counter_width,
        )

    def requests(self, s: RequestSample) -> RequestsRecord:
        return RequestsRecord(
            t=s.t,
            app=s.app,
            requests_total=s.requests_total,
            nf=self._requests.get(s.source),
            series=f"{s.source}/{s.label_value}",
        )

    @staticmethod
    def intensity(s: IntensitySample) -> IntensityRecord:
        return IntensityRecord(
            t=s.t, zone=s.zone, grams_per_kwh=s.grams_per_kwh, provider=s.provider, signal=s.signal
        )

    def all(
        self,
        *,
        energy: Iterable[EnergySample] = (),
        traffic: Iterable[TrafficCount] = (),
        totals: Iterable[tuple[str, TrafficTotalSample]] = (),
        requests: Iterable[RequestSample] = (),
        intensity: Iterable[IntensitySample] = (),
    ) -> list[Record]:
        """Map a batch; samples that belong to no NF are left out (they have nowhere to go), and
        samples with non-finite or negative values are dropped and counted in `bad_values`."""
        out: list[Record | None] = [self.energy(s) for s in energy]
        out += [self.traffic(c) for c in traffic]
        out += [self.traffic_total(s, host) for host, s in totals]
        out += [self.requests(s) for s in requests]
        out += [self.intensity(s) for s in intensity]
        kept = [r for r in out if r is not None and _sane(r)]
        self.bad_values += sum(r is not None for r in out) - len(kept)
        return kept


_AMOUNTS = ("joules_total", "watts", "packets_total", "bytes_total", "requests_total")
_AMOUNTS_OF: dict[type, tuple[str, ...]] = {}
"""The amounts each record type has: looked up once per type, not tried by name per record."""


def _amounts(cls: type) -> tuple[str, ...]:
    names = _AMOUNTS_OF.get(cls)
    if names is None:
        have = {f.name for f in fields(cls)}
        names = _AMOUNTS_OF[cls] = tuple(n for n in _AMOUNTS if n in have)
    return names


def _sane(r: Record) -> bool:
    """False for a non-finite time or amount, or a negative amount: such a sample would poison a
    counter (NaN from then on) and make the recording unreplayable, so it is dropped and
    counted in `bad_values` (the replay reader rejects the same values)."""
    if not math.isfinite(r.t):
        return False
    for name in _amounts(type(r)):
        value = getattr(r, name)
        if value is not None and not (math.isfinite(value) and value >= 0):
            return False
    if isinstance(r, IntensityRecord):
        return math.isfinite(r.grams_per_kwh) and r.grams_per_kwh >= 0
    return True
