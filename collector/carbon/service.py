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
from dataclasses import dataclass, field

from collector.carbon.base import Provider, ProviderError, ProviderReading
from collector.models import IntensitySample, SignalIndexSample
from collector.settings import ProviderSettings, Settings, SettingsError

MAX_BACKOFF_FACTOR = 16.0


@dataclass(slots=True)
class ProviderHealth:
    up: bool = False
    errors_total: dict[str, int] = field(default_factory=dict)
    last_error: str = ""
    last_success: float | None = None


class CachedProvider:
    """One provider in one zone's chain, with its cache, backoff and health."""

    def __init__(self, provider: Provider, settings: ProviderSettings, zone: str) -> None:
        self.provider = provider
        self.settings = settings
        self.zone = zone
        self.health = ProviderHealth()
        self._reading: ProviderReading | None = None
        self._fetched_at = -1e18
        self._retry_at = -1e18
        self._failures = 0

    @property
    def label(self) -> str:
        return f"{self.zone}/{self.provider.kind}"

    def _fail(self, exc: ProviderError, now: float) -> None:
        self.health.up = False
        self.health.errors_total[exc.kind] = self.health.errors_total.get(exc.kind, 0) + 1
        self.health.last_error = exc.message
        self._failures += 1
        factor = min(2.0 ** (self._failures - 1), MAX_BACKOFF_FACTOR)
        wait = self.settings.backoff_seconds * factor
        if exc.retry_after is not None:
            wait = max(wait, exc.retry_after)
        self._retry_at = now + wait

    async def refresh(self, now: float) -> None:
        """Fetch when the TTL has run out and no backoff is pending; never raises."""
        if now - self._fetched_at < self.settings.ttl_seconds or now < self._retry_at:
            return
        try:
            reading = await asyncio.wait_for(
                self.provider.fetch(self.zone, now), self.settings.timeout_seconds
            )
        except TimeoutError:
            self._fail(ProviderError("timeout", f"{self.label}: no answer in time"), now)
            return
        except ProviderError as exc:
            self._fail(exc, now)
            return
        except SettingsError as exc:  # a *_file secret that cannot be read
            self._fail(ProviderError("config", str(exc)), now)
            return
        except (ValueError, KeyError, TypeError, IndexError, OSError) as exc:
            self._fail(ProviderError("parse", f"{self.label}: {exc}"), now)
            return
        except Exception as exc:  # a provider bug must not take the other zones down
            self._fail(ProviderError("internal", f"{self.label}: {type(exc).__name__}: {exc}"), now)
            return
        self._reading, self._fetched_at, self._failures = reading, now, 0
        self.health.up, self.health.last_success = True, now

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

    def health(self) -> dict[str, ProviderHealth]:
        return {p.label: p.health for chain in self.chains.values() for p in chain}


def build_provider(s: ProviderSettings) -> Provider:
    from collector.carbon import providers, watttime

    if s.kind == "static":
        return providers.Static(s)
    if s.kind == "electricitymaps":
        return providers.ElectricityMaps(s)
    if s.kind == "watttime":
        return watttime.WattTime(s)
    if s.kind == "uk":
        return providers.UkCarbon(s)
    return providers.CsvReplay(s)


def build_carbon(settings: Settings, clock: Callable[[], float] = time.time) -> CarbonService:
    chains = {
        zone: [CachedProvider(build_provider(p), p, zone) for p in z.providers]
        for zone, z in settings.carbon.zones.items()
    }
    market = {
        zone: z.market_grams_per_kwh
        for zone, z in settings.carbon.zones.items()
        if z.market_grams_per_kwh is not None
    }
    return CarbonService(chains, market, clock)
