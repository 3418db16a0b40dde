"""Per-zone provider chains with a TTL cache, backoff, max_age and health: the CarbonService.

For each zone the chain is tried in order; a provider answers from its cache while the TTL
runs, is skipped while backing off after a failure (429 honours Retry-After), and its last
good value still serves while younger than its max_age. The first provider with a usable
value wins; when none has one, the zone has no value (CO2 is then missing, never zero).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from collector.carbon import providers, watttime
from collector.carbon.base import Provider
from collector.models import IntensitySample, ReadResult, SignalIndexSample, SourceError
from collector.settings import ProviderSettings, Settings
from collector.sources import Health, Runner

MAX_BACKOFF_FACTOR = 16.0

PROVIDERS: dict[str, Callable[[Any, str, Callable[[], float]], Provider]] = {
    "static": providers.Static,
    "electricitymaps": providers.ElectricityMaps,
    "watttime": watttime.WattTime,
    "uk": providers.UkCarbon,
    "csv": providers.CsvReplay,
}
"""`kind` -> the provider class; it takes its settings entry, its zone and the clock."""


class CachedProvider:
    """One provider in one zone's chain, with its cache and backoff; the runtime runs its
    reads (deadline, error kinds, health) on the service's clock."""

    def __init__(self, settings: ProviderSettings, zone: str) -> None:
        self.settings = settings
        self.zone = zone
        self._now = 0.0
        self.provider = PROVIDERS[settings.kind](settings, zone, self._clock)
        self.runner: Runner[Any] = Runner(self.provider, clock=self._clock)
        self._reading: ReadResult | None = None
        self._fetched_at = -1e18
        self._retry_at = -1e18
        self._failures = 0

    def _clock(self) -> float:
        return self._now

    @property
    def label(self) -> str:
        return self.runner.name

    @property
    def health(self) -> Health:
        return self.runner.health

    def _back_off(self, error: SourceError, now: float) -> None:
        self._failures += 1
        factor = min(2.0 ** (self._failures - 1), MAX_BACKOFF_FACTOR)
        wait = self.settings.backoff_seconds * factor
        if error.retry_after_seconds is not None:
            wait = max(wait, error.retry_after_seconds)
        self._retry_at = now + wait

    async def refresh(self, now: float) -> None:
        """Fetch when the TTL has run out and no backoff is pending; never raises."""
        if now - self._fetched_at < self.settings.ttl_seconds or now < self._retry_at:
            return
        self._now = now
        result = await self.runner.read()
        if not result.up:
            self._back_off(result.errors[0], now)
            return
        self._reading, self._fetched_at, self._failures = result, now, 0

    def current(self, now: float) -> IntensitySample | None:
        """The point in force at `now` (the newest at or before it; failing that the earliest
        one, a forecast), if younger than max_age."""
        if self._reading is None or not self._reading.intensity:
            return None
        points = self._reading.intensity
        past = [s for s in points if s.t <= now]
        best = max(past, key=lambda s: s.t) if past else min(points, key=lambda s: s.t)
        if now - best.t > self.settings.max_age_seconds:
            return None
        return best

    def indices(self) -> tuple[SignalIndexSample, ...]:
        return () if self._reading is None else self._reading.indices


class CarbonService:
    """Grid intensity for every configured zone (docs/reference/metrics.md)."""

    def __init__(
        self,
        chains: dict[str, list[CachedProvider]],
        market: dict[str, float] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.chains = chains
        self.market = dict(market or {})
        self._clock = clock
        self.latest: dict[str, IntensitySample] = {}

    async def refresh(self, now: float | None = None) -> list[IntensitySample]:
        """One value per zone from the first provider with a usable one; none if no provider has."""
        t = self._clock() if now is None else now
        await asyncio.gather(*(p.refresh(t) for chain in self.chains.values() for p in chain))
        out = []
        self.latest = {}
        for zone, chain in self.chains.items():
            for p in chain:
                s = p.current(t)
                if s is not None:
                    self.latest[zone] = s
                    out.append(s)
                    break
        return out

    def age_seconds(self, zone: str, now: float) -> float | None:
        """e2e_energy_grid_intensity_age_seconds{zone}: how old the value in use is."""
        s = self.latest.get(zone)
        return None if s is None else max(0.0, now - s.t)

    @property
    def indices(self) -> list[SignalIndexSample]:
        return [i for chain in self.chains.values() for p in chain for i in p.indices()]

    def health(self) -> dict[str, Health]:
        return {p.label: p.health for chain in self.chains.values() for p in chain}

    async def aclose(self) -> None:
        """Close the providers' HTTP pools; call inside the loop that refreshed."""
        await asyncio.gather(*(p.runner.aclose() for c in self.chains.values() for p in c))


def build_carbon(settings: Settings, clock: Callable[[], float] = time.time) -> CarbonService:
    chains = {
        zone: [CachedProvider(p, zone) for p in z.providers]
        for zone, z in settings.carbon.zones.items()
    }
    market = {
        zone: z.market_grams_per_kwh
        for zone, z in settings.carbon.zones.items()
        if z.market_grams_per_kwh is not None
    }
    return CarbonService(chains, market, clock)
