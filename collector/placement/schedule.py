"""The live advisor: recomputes the advice every interval on a worker thread and keeps the latest.

`poll()` is all the attributor's loop calls: it snapshots the live intensities (in the loop's
thread, where the carbon service is updated) and, when a run is due and none is running, starts
one on its own thread. A solve slower than a window therefore never delays a window; a run still
going when the next is due is skipped (counted), never queued.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from collector.models import IntensitySample
from collector.placement.advice import compute_advice, load_dataset, period_ending
from collector.placement.inputs import PlacementConfig
from collector.settings import PlacementSettings
from collector.store import Store

OUTCOMES = ("advice", "refused", "error", "skipped")
"""advice: at least one app advised; refused: every app refused; error: the run failed;
skipped: a run was due while the previous one was still going."""


class Advise(Protocol):
    """Computes one advice document (`advise` below, bound to a store, dataset and settings)."""

    def __call__(
        self,
        *,
        now: float,
        intensities: Iterable[IntensitySample] = (),
        period_seconds: float | None = None,
        end: float | None = None,
        apps: list[str] | None = None,
    ) -> dict[str, Any]: ...


def advise(
    store_path: Path,
    dataset: PlacementConfig,
    spec: PlacementSettings,
    *,
    now: float,
    intensities: Iterable[IntensitySample] = (),
    period_seconds: float | None = None,
    end: float | None = None,
    apps: list[str] | None = None,
) -> dict[str, Any]:
    """Advice over the period ending at `end` (default: the newest window's end, else `now`),
    read through a read-only connection of its own (safe from any thread)."""
    store = Store(store_path)
    try:
        span = spec.period_seconds if period_seconds is None else period_seconds
        start, stop = period_ending(store, span, end, now)
        return compute_advice(
            store,
            dataset,
            spec,
            start=start,
            end=stop,
            now=now,
            intensities=intensities,
            apps=apps,
        )
    finally:
        store.close()


def outcome(doc: dict[str, Any]) -> str:
    if doc.get("error"):
        return "error"
    return "advice" if any(a["status"] == "advice" for a in doc["apps"]) else "refused"


class Advisor:
    """Holds the latest advice and the run counters that /metrics and the API read."""

    def __init__(
        self,
        compute: Advise,
        *,
        interval_seconds: float,
        clock: Callable[[], float] = time.time,
        intensities: Callable[[], Iterable[IntensitySample]] = lambda: (),
    ) -> None:
        self.compute = compute
        self.interval = interval_seconds
        self.clock = clock
        self.intensities = intensities
        self.latest: dict[str, Any] | None = None
        self.last_failure: str | None = None
        self.runs = dict.fromkeys(OUTCOMES, 0)
        self.samples: list[IntensitySample] = []
        self.next_due: float | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def poll(self) -> bool:
        """Start a run when one is due and none is running; True when one was started."""
        now = self.clock()
        self.samples = list(self.intensities())
        if self.next_due is not None and now < self.next_due:
            return False
        due = now if self.next_due is None else self.next_due
        missed = math.floor((now - due) / self.interval)  # slots passed without a poll
        self.next_due = due + (missed + 1) * self.interval
        if self.running:
            with self._lock:
                self.runs["skipped"] += 1
            return False
        samples = list(self.samples)
        self._thread = threading.Thread(
            target=self._run, args=(now, samples), name="placement-advice", daemon=True
        )
        self._thread.start()
        return True

    def _run(self, now: float, samples: list[IntensitySample]) -> None:
        try:
            doc = self.compute(now=now, intensities=samples)
        except Exception as exc:  # a failing run must not take the attributor down
            with self._lock:
                self.runs["error"] += 1
                self.last_failure = f"{type(exc).__name__}: {exc}"
            return
        with self._lock:
            self.latest = doc
            self.runs[outcome(doc)] += 1

    def recompute(
        self,
        *,
        period_seconds: float | None = None,
        end: float | None = None,
        apps: list[str] | None = None,
    ) -> dict[str, Any]:
        """Advice for another period, in the caller's thread, with the intensities of the last
        poll; the scheduled advice is left as it is."""
        return self.compute(
            now=self.clock(),
            intensities=list(self.samples),
            period_seconds=period_seconds,
            end=end,
            apps=apps,
        )

    def join(self, timeout: float | None = None) -> None:
        """Wait for a running advice (shutdown and tests)."""
        if self._thread is not None:
            self._thread.join(timeout)


def store_advisor(
    store_path: Path,
    spec: PlacementSettings,
    *,
    clock: Callable[[], float] = time.time,
    intensities: Callable[[], Iterable[IntensitySample]] = lambda: (),
) -> Advisor:
    """The advisor over a store file; raises PlacementInputError naming a dangling settings key."""
    bound = partial(advise, store_path, load_dataset(spec), spec)
    return Advisor(
        bound, interval_seconds=spec.interval_seconds, clock=clock, intensities=intensities
    )
