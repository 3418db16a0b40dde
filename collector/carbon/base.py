"""What every grid-intensity provider shares: it is a Source (fetch + pure parse) run by the
source runtime, named `<zone>/<kind>`, whose parse yields intensity points (newest last) and
relative indices. Caching, backoff and fallback live in the service; nothing here caches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from collector.models import IntensitySample, ReadResult, Signal, SignalIndexSample
from collector.settings import ProviderSettings
from collector.sources import ReadPolicy, Source
from collector.sources.http import HttpClient


class Provider(Source[Any], Protocol):
    """A grid-intensity source: which provider it is and which signal it serves."""

    @property
    def kind(self) -> str: ...

    @property
    def signal(self) -> Signal: ...


class ZoneProvider:
    """A provider of one zone's chain: its name, signal and policy from the settings."""

    kind: ClassVar[str]

    def __init__(self, s: ProviderSettings, zone: str, clock: Callable[[], float]) -> None:
        self.name = f"{zone}/{self.kind}"
        self.zone = zone
        self.signal: Signal = s.signal
        self.policy = ReadPolicy(timeout_seconds=s.timeout_seconds)
        self.clock = clock
        """The service's `now`, for providers whose requests depend on it (WattTime)."""

    def result(
        self, points: tuple[IntensitySample, ...], indices: tuple[SignalIndexSample, ...] = ()
    ) -> ReadResult:
        return ReadResult(self.name, True, 0.0, intensity=points, indices=indices)


class HttpZoneProvider(ZoneProvider):
    """A provider read over HTTP, with one pooled client kept across refreshes."""

    def __init__(self, s: ProviderSettings, zone: str, clock: Callable[[], float]) -> None:
        super().__init__(s, zone, clock)
        self.http = HttpClient(s.timeout_seconds)

    async def aclose(self) -> None:
        await self.http.aclose()
