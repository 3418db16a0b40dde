"""Raw samples (sources, agents, carbon) into engine records in the replay format.

The live attributor maps every sample here and records exactly what the engine ingests, so a
recording replays to the same numbers. Unknown TraceIDs become app `unknown`; a NodeID that no NF
stamps cannot be attributed anywhere and is counted in `unmapped_nodes`.
"""

from __future__ import annotations

from collections.abc import Iterable

from collector.attribution.records import (
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

    def _nf_for(self, table: dict[tuple[str, str], str], source: str, target: str) -> str | None:
        return table.get((source, target)) or table.get((source, ""))

    def energy(self, s: EnergySample) -> EnergyRecord | None:
        if s.unsupported or dict(s.labels).get("component") == "gpu":
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
        idle = dict(s.labels).get("mode") == "idle"
        return EnergyRecord(
            t=s.t,
            nf=nf,
            joules_total=s.value,
            mode="idle" if idle else "total",
            resolution_joules=s.resolution_joules,
            counter_width_joules=s.counter_width_joules,
            energy_basis=s.energy_basis,
        )

    def traffic(self, c: TrafficCount) -> TrafficRecord | None:
        spec = self.topology.nf_for_node(c.node_id)
        if spec is None:
            self.unmapped_nodes += 1
            return None
        return TrafficRecord(
            t=c.t,
            nf=spec.name,
            app=self.topology.app_for(c.namespace_id, c.trace_id),
            direction=c.direction,
            packets_total=c.packets_total,
            bytes_total=c.bytes_total,
            series=f"{c.k8s_node}/{c.namespace_id}/{c.trace_id}",
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
        """Map a batch; samples that belong to no NF are left out (they have nowhere to go)."""
        out: list[Record | None] = [self.energy(s) for s in energy]
        out += [self.traffic(c) for c in traffic]
        out += [self.traffic_total(s, host) for host, s in totals]
        out += [self.requests(s) for s in requests]
        out += [self.intensity(s) for s in intensity]
        return [r for r in out if r is not None]
