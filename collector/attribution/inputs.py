"""What the split needs for one window: per-NF energy and totals, per-app amounts (long arrays).

The engine builds these from signals; the benchmark and the tests build them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from collector.attribution.topology import NfSpec
from collector.models import SHARE_KEYS

KEY_CODE = {k: i for i, k in enumerate(SHARE_KEYS)}


def _empty_int() -> npt.NDArray[np.int64]:
    return np.zeros(0, dtype=np.int64)


def _empty_float() -> npt.NDArray[np.float64]:
    return np.zeros(0)


def _empty_str() -> npt.NDArray[np.object_]:
    return np.zeros(0, dtype=object)


@dataclass(frozen=True, slots=True)
class NfInput:
    """One NF in one window. `energy_joules` is the regular energy E_n − C_n (None: stale).

    `total_packets`/`total_bytes` are the traffic-total source's ingress amounts, bytes as IPv6
    length (None: no traffic-total data, so the NF is `tagged_only`). `idle_joules` is P_idle × W.
    `intensity`: the zone's location-based g/kWh (None: missing); `market_intensity` likewise.
    """

    spec: NfSpec
    energy_joules: float | None
    catch_up_joules: float = 0.0
    idle_joules: float = 0.0
    total_packets: float | None = None
    total_bytes: float | None = None
    has_requests_source: bool = False
    intensity: float | None = None
    market_intensity: float | None = None


@dataclass(frozen=True, slots=True)
class WindowInputs:
    """Per-window amounts. Traffic rows: (nf index, app, direction 0=uplink 1=downlink, packets,
    bytes). Request rows: (nf index or -1 for the app-level source, app, requests)."""

    start: float
    seconds: float
    nfs: tuple[NfInput, ...]
    traffic_nf: npt.NDArray[np.int64] = field(default_factory=_empty_int)
    traffic_app: npt.NDArray[np.object_] = field(default_factory=_empty_str)
    traffic_dir: npt.NDArray[np.int64] = field(default_factory=_empty_int)
    traffic_packets: npt.NDArray[np.float64] = field(default_factory=_empty_float)
    traffic_bytes: npt.NDArray[np.float64] = field(default_factory=_empty_float)
    req_nf: npt.NDArray[np.int64] = field(default_factory=_empty_int)
    req_app: npt.NDArray[np.object_] = field(default_factory=_empty_str)
    req_count: npt.NDArray[np.float64] = field(default_factory=_empty_float)
