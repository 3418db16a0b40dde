"""Grid intensity over a window: the time-weighted mean of the latest known value.

Each value holds until the next one, and at most `max_age` seconds. A window only partly covered
is averaged over its covered part; with no covered part the intensity is missing (None), and the
CO2 of that window is reported as missing joules, never as zero.
"""

from __future__ import annotations

import bisect
from dataclasses import astuple
from typing import Any

from collector.attribution.records import IntensityRecord


class IntensitySeries:
    """The known values of one zone, ordered by time."""

    def __init__(self, max_age_seconds: float) -> None:
        self.max_age = max_age_seconds
        self._t: list[float] = []
        self._v: list[float] = []
        self.latest: IntensityRecord | None = None

    def add(self, rec: IntensityRecord) -> None:
        i = bisect.bisect_right(self._t, rec.t)
        if i > 0 and self._t[i - 1] == rec.t:
            self._v[i - 1] = rec.grams_per_kwh
        else:
            self._t.insert(i, rec.t)
            self._v.insert(i, rec.grams_per_kwh)
        if self.latest is None or rec.t >= self.latest.t:
            self.latest = rec

    def mean(self, start: float, end: float) -> float | None:
        """Time-weighted mean over the covered part of [start, end), None when nothing covers it."""
        lo = max(bisect.bisect_right(self._t, start) - 1, 0)
        hi = bisect.bisect_left(self._t, end)
        weighted = covered = 0.0
        for k in range(lo, hi):
            seg_start = max(self._t[k], start)
            nxt = self._t[k + 1] if k + 1 < len(self._t) else end
            seg_end = min(nxt, end, self._t[k] + self.max_age)
            if seg_end > seg_start:
                weighted += self._v[k] * (seg_end - seg_start)
                covered += seg_end - seg_start
        return weighted / covered if covered > 0 else None

    def prune(self, before: float) -> None:
        i = bisect.bisect_right(self._t, before) - 1
        if i > 0:
            del self._t[:i]
            del self._v[:i]

    def state(self, since: float) -> dict[str, Any]:
        """The values from the last one at or before `since` on, and the latest record."""
        i = max(bisect.bisect_right(self._t, since) - 1, 0)
        latest = None if self.latest is None else list(astuple(self.latest))
        return {"t": self._t[i:], "v": self._v[i:], "latest": latest}

    def restore(self, state: dict[str, Any]) -> None:
        self._t = [float(x) for x in state["t"]]
        self._v = [float(x) for x in state["v"]]
        latest = state["latest"]
        self.latest = None if latest is None else IntensityRecord(*latest)
