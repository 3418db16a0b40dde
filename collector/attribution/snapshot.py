"""The immutable per-window snapshot that outputs read (they never compute).

Array columns are read-only numpy arrays, so a snapshot can be shared between the exporter, the
API and the store writer without copies and without anyone changing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from collector.sources.health import Health

APP_COLUMNS = (
    "static_joules",
    "dynamic_joules",
    "co2_grams",
    "co2_market_grams",
    "embodied_grams",
)
REASONS = ("untagged", "idle_no_traffic", "catch_up")
"""Why energy stays unattributed (docs/explanation/attribution.md): the `reason` label and API
keys."""


def _frozen(a: npt.ArrayLike, dtype: Any = None) -> npt.NDArray[Any]:
    arr = np.array(a, dtype=dtype)
    arr.setflags(write=False)
    return arr


def _empty_map() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class AppRows:
    """One row per (app, NF, direction): joules by component, CO2 per basis (nan: missing),
    embodied grams. Used for one window and for the cumulative totals alike."""

    app: npt.NDArray[np.object_]
    nf: npt.NDArray[np.object_]
    role: npt.NDArray[np.object_]
    direction: npt.NDArray[np.object_]
    static_joules: npt.NDArray[np.float64]
    dynamic_joules: npt.NDArray[np.float64]
    co2_grams: npt.NDArray[np.float64]
    co2_market_grams: npt.NDArray[np.float64]
    embodied_grams: npt.NDArray[np.float64]

    @classmethod
    def build(cls, **columns: npt.ArrayLike) -> AppRows:
        values = {
            k: _frozen(v, object if k in ("app", "nf", "role", "direction") else float)
            for k, v in columns.items()
        }
        return cls(**values)

    @classmethod
    def empty(cls) -> AppRows:
        return cls.build(app=[], nf=[], role=[], direction=[], **{c: [] for c in APP_COLUMNS})

    def __len__(self) -> int:
        return len(self.app)


@dataclass(frozen=True, slots=True)
class AppTraffic:
    """One row per (app, NF) with tagged traffic in a window: the packets and bytes the agent
    counted for the app at that NF, both directions summed (the packets/bytes share keys' x).

    Kept apart from AppRows (one row per direction, only rows carrying energy) so that the store
    and the exporter, which serialise AppRows, stay as they are; the replay report reads it."""

    app: npt.NDArray[np.object_]
    nf: npt.NDArray[np.object_]
    packets: npt.NDArray[np.float64]
    bytes: npt.NDArray[np.float64]

    @classmethod
    def build(
        cls, *, app: npt.ArrayLike, nf: npt.ArrayLike, packets: npt.ArrayLike, bytes: npt.ArrayLike
    ) -> AppTraffic:
        return cls(
            _frozen(app, object),
            _frozen(nf, object),
            _frozen(packets, float),
            _frozen(bytes, float),
        )

    @classmethod
    def empty(cls) -> AppTraffic:
        return cls.build(app=[], nf=[], packets=[], bytes=[])

    def __len__(self) -> int:
        return len(self.app)


class _Unattributed:
    """The unattributed parts of an NF's energy, shared by a window and the running totals."""

    __slots__ = ()
    untagged_joules: float
    idle_no_traffic_joules: float
    catch_up_joules: float

    @property
    def unattributed_joules(self) -> float:
        return self.untagged_joules + self.idle_no_traffic_joules + self.catch_up_joules

    def unattributed_by_reason(self) -> dict[str, float]:
        """Each part under its REASONS name, in that order."""
        parts = (self.untagged_joules, self.idle_no_traffic_joules, self.catch_up_joules)
        return dict(zip(REASONS, parts, strict=True))


@dataclass(frozen=True, slots=True)
class NfWindow(_Unattributed):
    """One NF in one window: measured E_n = attributed + untagged + idle_no_traffic + catch_up."""

    nf: str
    role: str
    zone: str | None
    energy_basis: str
    denominator: str
    stale: bool
    method: str
    measured_joules: float
    static_joules: float
    dynamic_joules: float
    attributed_joules: float
    untagged_joules: float
    idle_no_traffic_joules: float
    catch_up_joules: float
    unmeasured_seconds: float
    conservation_error_ratio: float
    co2_missing_joules: float
    untagged_clamps: int
    embodied_grams: float


@dataclass(frozen=True, slots=True)
class NfTotals(_Unattributed):
    """Cumulative per-NF sums since the first window (they resume from the store)."""

    nf: str
    role: str
    energy_basis: str
    denominator: str
    measured_joules: float = 0.0
    attributed_joules: float = 0.0
    untagged_joules: float = 0.0
    idle_no_traffic_joules: float = 0.0
    catch_up_joules: float = 0.0
    unmeasured_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class IntensityStatus:
    """The latest known intensity of a zone at the window's end and its age."""

    zone: str
    provider: str
    signal: str
    grams_per_kwh: float
    age_seconds: float


@dataclass(frozen=True, slots=True)
class Totals:
    """Everything cumulative: the `_total` counters of the exporter and the store's resume point."""

    apps: AppRows
    nfs: tuple[NfTotals, ...] = ()
    requests: Mapping[str, float] = field(default_factory=_empty_map)
    co2_missing_joules: Mapping[str, float] = field(default_factory=_empty_map)
    windows: int = 0
    last_window_start: float | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One window's result plus the cumulative totals after it."""

    window_start: float
    window_seconds: float
    rows: AppRows
    nfs: tuple[NfWindow, ...]
    requests: Mapping[str, float]
    totals: Totals
    intensity: tuple[IntensityStatus, ...] = ()
    indices: tuple[tuple[str, str, float], ...] = ()
    sources: tuple[Health, ...] = ()
    """Every source's and agent's health at the window's computation (live only)."""
    market_configured: bool = False
    traffic: AppTraffic = field(default_factory=AppTraffic.empty)

    @property
    def window_end(self) -> float:
        return self.window_start + self.window_seconds
