"""The one interface every source sits behind: a `fetch` that does the I/O and a `parse` that
does none. The runtime (collector.sources.runtime) owns everything else: deadline, retries,
clock, error kinds and health, so a new source kind is its fetch and parse and nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from collector.models import ReadResult
from collector.settings import SourceBase

RawT = TypeVar("RawT")
T = TypeVar("T")


class Source(Protocol[RawT]):
    """What a source module supplies. `fetch` returns the raw answer (text, JSON, a walked
    table); `parse(raw, t)` turns it into a ReadResult without I/O, `t` being the moment the
    answer was received (a device's own timestamp, where it gives one, wins inside parse)."""

    @property
    def name(self) -> str: ...

    @property
    def policy(self) -> ReadPolicy: ...

    async def fetch(self) -> RawT: ...

    def parse(self, raw: RawT, t: float) -> ReadResult: ...


@dataclass(frozen=True, slots=True)
class ReadPolicy:
    """How the runtime runs one source's reads."""

    timeout_seconds: float = 10.0
    """One attempt's limit (the HTTP client's timeout, an SNMP request try)."""
    retries: int = 0
    """Further attempts within one read after a transient failure (timeout, connect, 5xx)."""
    deadline_seconds: float | None = None
    """The whole read, parse included; default timeout x (retries + 1)."""
    interval_seconds: float = 5.0
    """How often Poller.run reads it."""
    parse_in_thread: bool = False
    """Parse off the event loop: for large answers (a Kepler node) so the API stays responsive."""

    @classmethod
    def of(cls, s: SourceBase, *, parse_in_thread: bool = False) -> ReadPolicy:
        """A `sources:` entry's timeout, retries and interval."""
        return cls(s.timeout_seconds, s.retries, None, s.interval_seconds, parse_in_thread)

    @property
    def deadline(self) -> float:
        if self.deadline_seconds is not None:
            return self.deadline_seconds
        return self.timeout_seconds * (self.retries + 1)


class SourceFailure(Exception):
    """A read failed; `kind` is a bounded label for e2e_energy_source_errors_total{kind}.

    `transient` failures (timeouts, refused connections, 5xx) are retried within the read when
    the policy allows; `retry_after` carries a server's Retry-After for backoff (carbon).
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.transient = transient
        self.retry_after = retry_after


class PayloadError(SourceFailure, ValueError):
    """The answer arrived but cannot be used: `parse` (unexpected shape), `invalid_value` (a
    negative or non-finite number where a meter reading must be finite and >= 0), `empty`."""

    def __init__(self, message: str, kind: str = "parse") -> None:
        super().__init__(kind, message)


class LoopBound(Generic[T]):
    """A resource kept across reads but tied to the event loop that made it (an HTTP
    connection pool, an SNMP engine): reused while that loop runs, rebuilt under another.

    The resource is closed by `aclose`, or else when its loop shuts down: it is held open by
    an async generator, which asyncio closes in `shutdown_asyncgens` (asyncio.run does), so no
    socket outlives its loop. `eager` builds the first one up front, outside any read, for
    resources that are costly to make (an SNMP engine: ~0.4 s of CPU).
    """

    def __init__(
        self,
        make: Callable[[], T],
        close: Callable[[T], Awaitable[None]],
        *,
        eager: bool = False,
    ) -> None:
        self._make = make
        self._close = close
        self._spare: T | None = make() if eager else None
        self._held: tuple[asyncio.AbstractEventLoop, T, AsyncGenerator[None, None]] | None = None

    async def get(self) -> T:
        loop = asyncio.get_running_loop()
        if self._held is not None and self._held[0] is loop:
            return self._held[1]
        # One of another loop is closed when that loop shuts down; it cannot be used here.
        value = self._spare if self._spare is not None else self._make()
        self._spare = None
        keeper = self._keep(value)
        await keeper.__anext__()
        self._held = (loop, value, keeper)
        return value

    async def _keep(self, value: T) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await self._close(value)

    async def aclose(self) -> None:
        """Close the resource held for the running loop now; the next `get` makes another."""
        held, self._held = self._held, None
        if held is not None and held[0] is asyncio.get_running_loop():
            await held[2].aclose()
