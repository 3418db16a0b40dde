"""Reads many sources concurrently, each through its own Runner (own deadline, own health).

One failing or slow source never delays the others: every read is its own task, and the
runner turns an overrun into a `timeout` error of that source alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from collector.models import ReadResult
from collector.sources.health import Health
from collector.sources.runtime import Runner


class Poller:
    """`poll_once()` reads everything once; `run()` reads each on its own interval."""

    def __init__(self, runners: Sequence[Runner[Any]], clock: Callable[[], float] = time.time):
        self.runners = list(runners)
        self._clock = clock

    async def poll_once(self) -> list[ReadResult]:
        """One concurrent read of every source, in configuration order."""
        return list(await asyncio.gather(*(r.read() for r in self.runners)))

    def health(self) -> dict[str, Health]:
        return {r.name: r.health for r in self.runners}

    async def run(
        self, on_result: Callable[[ReadResult], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        """Read each source every `interval_seconds` of its policy (aligned to multiples of
        it) until `stop`; a slow source only delays its own next read."""

        async def loop(runner: Runner[Any]) -> None:
            period = runner.policy.interval_seconds
            while not stop.is_set():
                await on_result(await runner.read())
                wait = period - (self._clock() % period)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)

        await asyncio.gather(*(loop(r) for r in self.runners))

    async def aclose(self) -> None:
        """Close every source's connections; call inside the loop that read."""
        await asyncio.gather(*(r.aclose() for r in self.runners))
