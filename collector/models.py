"""Frozen records that cross stages. Base units only: joules, watts, seconds, bytes, g/kWh.

Sources produce samples; the attributor consumes them and produces snapshots (defined in
`collector.attribution`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NewType, get_args

AppName = NewType("AppName", str)

# The vocabulary shared by settings, stages and outputs: each list is written once, as a Literal
# (what mypy and pydantic check), and its tuple is derived from it (what code iterates).
Role = Literal["ru", "du", "cu", "upf", "inference"]
ROLES: tuple[Role, ...] = get_args(Role)
Direction = Literal["uplink", "downlink"]
DIRECTIONS: tuple[Direction, ...] = get_args(Direction)
EnergyBasis = Literal["measured", "modelled"]
ENERGY_BASES: tuple[EnergyBasis, ...] = get_args(EnergyBasis)
Signal = Literal["average", "marginal"]
SampleKind = Literal["counter", "gauge"]
ShareKey = Literal["packets", "bytes", "requests", "equal"]
"""What splits an NF's static or dynamic energy over apps (docs/explanation/attribution.md)."""
SHARE_KEYS: tuple[ShareKey, ...] = get_args(ShareKey)
IdlePolicy = Literal["fixed", "source", "rolling_min", "none"]
"""How an NF's static (idle) power is found (docs/explanation/attribution.md)."""

UNKNOWN_APP = AppName("unknown")
OTHER_TRACE = "other"


@dataclass(frozen=True, slots=True)
class EnergySample:
    """One reading of an NF's energy: a cumulative counter (joules) or a power gauge (watts).

    `t` is the device's own timestamp, else the moment the response was received (unix seconds).
    `counter_width_joules` is the wrap width of the counter in joules when the device declares one;
    `resolution_joules` is one step of the counter (APC outlet energy: 360 kJ).
    """

    source: str
    target: str
    t: float
    kind: SampleKind
    value: float
    energy_basis: EnergyBasis = "measured"
    counter_width_joules: float | None = None
    resolution_joules: float | None = None
    unsupported: bool = False
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def joules(self) -> float:
        if self.kind != "counter":
            raise ValueError("a gauge sample has watts, not joules")
        return self.value

    @property
    def watts(self) -> float:
        if self.kind != "gauge":
            raise ValueError("a counter sample has joules, not watts")
        return self.value


@dataclass(frozen=True, slots=True)
class TrafficTotalSample:
    """Ingress (rx) totals of one interface of a device: packets and bytes as cumulative counters.

    `bytes_total` is as the device counts it; `link_header_bytes` says how many bytes per packet to
    subtract to get IPv6 length (14 for Ethernet octet counters, 0 when already IPv6 length).
    """

    source: str
    target: str
    t: float
    packets_total: float
    bytes_total: float
    link_header_bytes: int = 14
    counter_width: float | None = 2.0**64


@dataclass(frozen=True, slots=True)
class RequestSample:
    """A cumulative request counter for one application, from a requests source."""

    source: str
    app: str
    t: float
    requests_total: float
    label_value: str = ""


@dataclass(frozen=True, slots=True)
class IntensitySample:
    """Grid carbon intensity of a zone at time `t` (g CO2e per kWh), with where it came from."""

    zone: str
    provider: str
    signal: Signal
    t: float
    grams_per_kwh: float
    fetched_at: float = 0.0
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class SignalIndexSample:
    """A relative index (WattTime's 0-100 percentile): for timing, never convertible to grams."""

    zone: str
    provider: str
    t: float
    value: float
    units: str = "percentile"


@dataclass(frozen=True, slots=True)
class TrafficCount:
    """The agent's cumulative counters for one (namespace, trace, node, direction) flow key."""

    namespace_id: int
    trace_id: str
    node_id: int
    direction: Direction
    packets_total: float
    bytes_total: float
    t: float
    k8s_node: str = ""


@dataclass(frozen=True, slots=True)
class SourceError:
    """Why a source read failed; `kind` is a short bounded label (timeout, auth, http, parse)."""

    source: str
    kind: str
    message: str
    retry_after_seconds: float | None = None
    """A server's Retry-After (HTTP 429), for the caller's backoff."""


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What one read of one source produced; `up` is False when nothing usable came back."""

    source: str
    up: bool
    duration_seconds: float
    energy: tuple[EnergySample, ...] = ()
    traffic_totals: tuple[TrafficTotalSample, ...] = ()
    requests: tuple[RequestSample, ...] = ()
    intensity: tuple[IntensitySample, ...] = ()
    indices: tuple[SignalIndexSample, ...] = ()
    errors: tuple[SourceError, ...] = field(default_factory=tuple)
    traffic: tuple[TrafficCount, ...] = ()
    """An agent's per-flow counters."""
    host: str = ""
    """The machine the reading describes (an agent's k8s_node); keys its interface series."""
