"""The one seam every power, traffic-total and request source sits behind.

A source reads once per call and never raises: failures come back inside the ReadResult as
SourceError records with a short `kind`, so one broken device never stops the poller.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from collector.models import ReadResult, SourceError
from collector.settings import SettingsError


@runtime_checkable
class Source(Protocol):
    """Anything the poller can read: a name and one async read."""

    name: str

    async def read(self) -> ReadResult: ...


class SourceFailure(Exception):
    """A read failed; `kind` is a bounded label (timeout, connect, auth, http, parse, snmp)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


async def guarded_read(
    name: str,
    body: Callable[[float], Awaitable[ReadResult]],
    clock: Callable[[], float] = time.time,
) -> ReadResult:
    """Run `body(t_start)` and turn any failure into a down ReadResult with a clear error."""
    started = time.perf_counter()
    try:
        return await body(clock())
    except SourceFailure as exc:
        error = SourceError(name, exc.kind, exc.message)
    except SettingsError as exc:  # e.g. a *_file secret that cannot be read
        error = SourceError(name, "config", str(exc))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        # a payload of an unexpected shape
        error = SourceError(name, "parse", f"{type(exc).__name__}: {exc}")
    return ReadResult(
        source=name,
        up=False,
        duration_seconds=time.perf_counter() - started,
        errors=(error,),
    )


def elapsed_since(started: float) -> float:
    """Seconds since a `time.perf_counter()` reading (kept here so sources agree on it)."""
    return time.perf_counter() - started
