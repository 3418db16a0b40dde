"""Topology: which NF a NodeID is, which app a (namespace, trace) pair is, and each NF's rules.

Built once from the settings; the engine and the live attributor only read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from collector.models import (
    OTHER_TRACE,
    UNKNOWN_APP,
    EnergyBasis,
    IdlePolicy,
    Role,
    ShareKey,
)
from collector.settings import Settings


@dataclass(frozen=True, slots=True)
class NfSpec:
    """One network function and the accounting rules that apply to it."""

    name: str
    role: Role
    node_id: int | None = None
    zone: str | None = None
    idle_policy: IdlePolicy = "none"
    idle_watts: float = 0.0
    idle_horizon_seconds: float = 86_400.0
    static_key: ShareKey = "packets"
    dynamic_key: ShareKey = "bytes"
    embodied_grams_per_hour: float = 0.0
    counter_resolution_joules: float | None = None
    energy_basis: EnergyBasis = "measured"


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    """A carbon zone: how long a value stays usable and the optional market-based factor."""

    name: str
    max_age_seconds: float = 3600.0
    market_grams_per_kwh: float | None = None
    signal: str = "average"


@dataclass(frozen=True, slots=True)
class Topology:
    """NFs by name and NodeID, apps by (namespace_id, trace_id), zones, and the window grid."""

    nfs: tuple[NfSpec, ...]
    apps: Mapping[tuple[int, str], str] = field(default_factory=lambda: MappingProxyType({}))
    zones: Mapping[str, ZoneSpec] = field(default_factory=lambda: MappingProxyType({}))
    window_seconds: float = 15.0
    max_gap_seconds: float = 45.0

    def nf(self, name: str) -> NfSpec:
        for spec in self.nfs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def nf_names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nfs)

    def nf_for_node(self, node_id: int) -> NfSpec | None:
        for spec in self.nfs:
            if spec.node_id == node_id:
                return spec
        return None

    def app_for(self, namespace_id: int, trace_id: str | int) -> str:
        """The app of a trace; unknown or overflow (`other`) TraceIDs go to `unknown`."""
        key = str(trace_id)
        if key == OTHER_TRACE:
            return UNKNOWN_APP
        return self.apps.get((namespace_id, key), UNKNOWN_APP)

    @property
    def market_configured(self) -> bool:
        return any(z.market_grams_per_kwh is not None for z in self.zones.values())


def topology_from_settings(settings: Settings) -> Topology:
    """Resolve per-NF share keys, idle policy, basis and link header from the settings tree."""
    basis = {s.name: s.energy_basis for s in settings.sources}
    nfs = []
    for nf in settings.nfs:
        shares = settings.share_for(nf.role)
        nfs.append(
            NfSpec(
                name=nf.name,
                role=nf.role,
                node_id=nf.node_id,
                zone=nf.zone,
                idle_policy=nf.idle.policy,
                idle_watts=nf.idle.watts or 0.0,
                idle_horizon_seconds=nf.idle.horizon_seconds,
                static_key=shares.static,
                dynamic_key=shares.dynamic,
                embodied_grams_per_hour=nf.embodied_grams_per_hour,
                counter_resolution_joules=nf.counter_resolution_joules,
                energy_basis=basis.get(nf.power.source, "measured") if nf.power else "measured",
            )
        )
    apps = {
        (ref.namespace_id, str(ref.trace_id)): app.name
        for app in settings.apps
        for ref in app.traces
    }
    zones = {
        name: ZoneSpec(
            name=name,
            max_age_seconds=max(p.max_age_seconds for p in z.providers),
            market_grams_per_kwh=z.market_grams_per_kwh,
            signal=z.signal,
        )
        for name, z in settings.carbon.zones.items()
    }
    return Topology(
        nfs=tuple(nfs),
        apps=MappingProxyType(apps),
        zones=MappingProxyType(zones),
        window_seconds=settings.window_seconds,
        max_gap_seconds=settings.max_gap_seconds,
    )
