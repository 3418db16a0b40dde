"""The runtime around one source: deadline, retries, the clock, error kinds and health.

Like node_exporter's wrapper around each collector, this is the only code that times a read,
turns its failures into bounded `kind`s and keeps the source's Health; sources only fetch and
parse. A read never raises: a failure comes back as a down ReadResult naming its kind, so one
broken device never stops the others. Parsing runs inside the deadline (one place for a parse
time limit), off the event loop when the policy says so.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Generic

from collector.models import ReadResult, SourceError
from collector.settings import SettingsError
from collector.sources.base import RawT, ReadPolicy, Source, SourceFailure
from collector.sources.health import Health

PARSE_THREADS = 2
"""Threads that parse for every source of the process. Parsing holds the GIL, so more threads
add no speed; the default executor's six parsing hundreds of agents at once made each API
request (served by other threads of the same process) wait for the GIL behind all of them
(bench/attributor_tick.py: ~40% less CPU per tick, API p50 halved at 100 agents). Two, not
one, so a parse that outlives its cancelled read still leaves one thread to the others."""
_PARSERS = ThreadPoolExecutor(PARSE_THREADS, thread_name_prefix="source-parse")


class Runner(Generic[RawT]):
    """Reads one source; `health` is its state after the latest read."""

    def __init__(self, source: Source[RawT], *, clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.name = source.name
        self.clock = clock
        """Wall time: the received moment stamped on samples without a device timestamp."""
        self.health = Health(source.name)
        self._parsing = threading.Lock()

    @property
    def policy(self) -> ReadPolicy:
        return self.source.policy

    async def read(self) -> ReadResult:
        """One read under the source's deadline; its result also updates `health`."""
        started = time.perf_counter()
        deadline = self.policy.deadline
        try:
            result = await asyncio.wait_for(self._read(), deadline)
        except TimeoutError:
            result = self._down("timeout", f"no complete read within {deadline:g}s")
        except SourceFailure as exc:
            result = self._down(exc.kind, exc.message, exc.retry_after)
        except SettingsError as exc:  # e.g. a *_file secret that cannot be read
            result = self._down("config", str(exc))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            result = self._down("parse", f"{type(exc).__name__}: {exc}")  # an unexpected shape
        except Exception as exc:  # a bug in one source must not take the others down
            result = self._down("internal", f"{type(exc).__name__}: {exc}")
        result = replace(result, duration_seconds=time.perf_counter() - started)
        self.health = self.health.after(result, self.clock())
        return result

    async def _read(self) -> ReadResult:
        raw = await self._fetch()
        t = self.clock()
        if self.policy.parse_in_thread:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(_PARSERS, self._parse_serially, raw, t)
        return self.source.parse(raw, t)

    def _parse_serially(self, raw: RawT, t: float) -> ReadResult:
        """A parse thread outlives a read cancelled at its deadline; the lock keeps the next
        read's parse from running beside it over the source's state (Kepler's counters)."""
        with self._parsing:
            return self.source.parse(raw, t)

    async def _fetch(self) -> RawT:
        """The source's fetch, tried again after a transient failure while retries remain."""
        retries = self.policy.retries
        for _ in range(retries):
            try:
                return await self.source.fetch()
            except SourceFailure as exc:
                if not exc.transient:
                    raise
        return await self.source.fetch()

    def _down(self, kind: str, message: str, retry_after: float | None = None) -> ReadResult:
        error = SourceError(self.name, kind, message, retry_after)
        return ReadResult(self.name, False, 0.0, errors=(error,))

    async def aclose(self) -> None:
        """Release what the source holds open (HTTP pool, SNMP engine); call inside the loop
        that read. A later read opens them again."""
        close: Callable[[], Awaitable[None]] | None = getattr(self.source, "aclose", None)
        if close is not None:
            await close()
