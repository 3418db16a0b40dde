"""The window grid: windows of W seconds aligned to multiples of W since the epoch."""

from __future__ import annotations

import math
from collections.abc import Iterator


def window_start(t: float, window_seconds: float) -> float:
    """Start of the window that contains `t`."""
    return math.floor(t / window_seconds) * window_seconds


def windows_between(first_t: float, last_t: float, window_seconds: float) -> Iterator[float]:
    """Starts of the windows from the one containing `first_t` to the last that ends at or
    before `last_t` (replay covers exactly these). Computed as k × W so nothing drifts."""
    k = math.floor(first_t / window_seconds)
    while (k + 1) * window_seconds <= last_t:
        yield k * window_seconds
        k += 1
