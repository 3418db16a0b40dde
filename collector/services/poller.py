"""Runs every configured source concurrently, each under its own deadline.

One failing or slow source never delays the others: each read is its own task with its own
timeout, and a source that overruns is reported down with a `timeout` error. Health feeds
e2e_energy_source_up, _scrape_duration_seconds and _errors_total{source,kind}.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from collector.models import ReadResult, SourceError
from collector.power.base import Source
from collector.settings import Settings

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_INTERVAL_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class SourceHealth:
    up: bool
    last_duration_seconds: float
    errors_total: dict[str, int] = field(default_factory=dict)
    last_error: str = ""


class Poller:
    """Reads sources concurrently; `health()` reports the latest state per source."""

    def __init__(
        self,
        sources: Sequence[Source],
        clock: Callable[[], float] = time.time,
        *,
        timeouts: Mapping[str, float] | None = None,
    ) -> None:
        self.sources = list(sources)
        self._clock = clock
        self._timeouts = dict(timeouts or {})
        self._health: dict[str, SourceHealth] = {
            s.name: SourceHealth(False, 0.0) for s in self.sources
        }

    async def _one(self, source: Source) -> ReadResult:
        limit = self._timeouts.get(source.name, DEFAULT_TIMEOUT_SECONDS)
        started = time.perf_counter()
        try:
            return await asyncio.wait_for(source.read(), timeout=limit)
        except TimeoutError:
            kind, msg = "timeout", f"no complete read within {limit:g}s"
        except Exception as exc:  # a source bug must not take the poller down
            kind, msg = "internal", f"{type(exc).__name__}: {exc}"
        return ReadResult(
            source.name,
            False,
            time.perf_counter() - started,
            errors=(SourceError(source.name, kind, msg),),
        )

    def _record(self, result: ReadResult) -> None:
        old = self._health.get(result.source, SourceHealth(False, 0.0))
        errors = dict(old.errors_total)
        for e in result.errors:
            errors[e.kind] = errors.get(e.kind, 0) + 1
        last = result.errors[0].message if result.errors else ""
        self._health[result.source] = SourceHealth(result.up, result.duration_seconds, errors, last)

    async def poll_once(self) -> list[ReadResult]:
        """One concurrent read of every source, in configuration order."""
        results = await asyncio.gather(*(self._one(s) for s in self.sources))
        for r in results:
            self._record(r)
        return list(results)

    def health(self) -> dict[str, SourceHealth]:
        return dict(self._health)

    async def run(
        self,
        on_result: Callable[[ReadResult], Awaitable[None]],
        stop: asyncio.Event,
        *,
        intervals: Mapping[str, float] | None = None,
    ) -> None:
        """Read each source on its own interval (aligned to multiples of it) until `stop`.

        Every source has its own task, so a slow one only delays its own next read.
        """
        periods = dict(intervals or {})

        async def loop(source: Source) -> None:
            period = periods.get(source.name, DEFAULT_INTERVAL_SECONDS)
            while not stop.is_set():
                result = await self._one(source)
                self._record(result)
                await on_result(result)
                now = self._clock()
                wait = period - (now % period)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)

        await asyncio.gather(*(loop(s) for s in self.sources))

    def close(self) -> None:
        """Release sockets of sources that hold some (SNMP engines); call inside the loop."""
        for s in self.sources:
            close = getattr(s, "close", None)
            if callable(close):
                close()


def build_poller(settings: Settings, clock: Callable[[], float] = time.time) -> Poller:
    """The poller for a settings tree, with each source's own `timeout_seconds`."""
    from collector.power.registry import build_sources

    timeouts = {s.name: s.timeout_seconds * _attempts(s) for s in settings.sources}
    return Poller(build_sources(settings), clock, timeouts=timeouts)


def intervals(settings: Settings) -> dict[str, float]:
    """Each source's `interval_seconds`, for Poller.run."""
    return {s.name: s.interval_seconds for s in settings.sources}


def _attempts(s: object) -> int:
    """SNMP's timeout is per request try; the whole read gets all tries plus a margin."""
    retries = getattr(s, "retries", None)
    return 1 if retries is None else int(retries) + 2
