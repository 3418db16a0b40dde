"""The soak's independent model of one NF's measured energy, written from the accounting rules
(docs/explanation/attribution.md)
apart from collector.attribution (which it checks): what the attributor should measure in each
window, given the samples it received and the moment it computed the window.

- A sample is kept only when newer than the signal's latest (a clock stepped back repeats times).
- A counter reading below the previous one is a wrap when the width is declared and the previous
  reading lay in the top 10 % of it (the increase is taken modulo the width), else a reset (the
  new reading is the increase since the restart).
- The signal is piecewise linear through its samples, held after the last one and across any gap
  longer than max_gap; a window any point of which lies more than max_gap after a sample is stale.
- A counter's window energy runs from the value at the last measured edge (the carry) to the
  value at its end; after stale windows, the increase from the carry to the new window's start is
  catch-up. A gauge's window energy is its integral; a stale gauge window is lost.
- A restarted attributor continues from what was written with its predecessor's newest window
  (the samples taken until then and the carry): the soak rolls the model back to that moment
  (`mark` and `rollback`), and the readings after it are lost with the process.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass

Mark = tuple[int, float | None, tuple[float, float] | None]


@dataclass(frozen=True)
class Expected:
    stale: bool
    measured: float
    catch_up: float


class Signal:
    def __init__(self, kind: str, max_gap: float, width: float | None = None) -> None:
        self.kind = kind
        self.max_gap = max_gap
        self.width = width
        self.t: list[float] = []
        self.y: list[float] = []
        self._raw: float | None = None
        self._carry: tuple[float, float] | None = None  # (value, edge)

    def add(self, t: float, raw: float) -> None:
        if self.t and t <= self.t[-1]:
            return
        if self.kind == "gauge":
            self.t.append(t)
            self.y.append(raw)
            return
        prev = self._raw
        if prev is None:
            step = 0.0
        elif raw >= prev:
            step = raw - prev
        elif self.width is not None and prev >= 0.9 * self.width:
            step = raw + self.width - prev
        else:
            step = max(raw, 0.0)
        self.t.append(t)
        self.y.append((self.y[-1] if self.y else 0.0) + step)
        self._raw = raw

    def _at(self, x: float) -> float:
        i = bisect.bisect_right(self.t, x) - 1
        if i + 1 < len(self.t) and self.t[i + 1] - self.t[i] <= self.max_gap:
            t0, t1 = self.t[i], self.t[i + 1]
            return self.y[i] + (self.y[i + 1] - self.y[i]) * (x - t0) / (t1 - t0)
        return self.y[i]

    def _fresh(self, start: float, end: float) -> bool:
        i = bisect.bisect_right(self.t, start) - 1
        if i < 0:
            return False
        points = [p for p in self.t[i:] if p < end] + [end]
        return all(b - a <= self.max_gap for a, b in itertools.pairwise(points))

    def _integral(self, start: float, end: float) -> float:
        xs = [start, *(p for p in self.t if start < p < end), end]
        ys = [self._at(x) for x in xs]
        return sum((xs[k + 1] - xs[k]) * (ys[k] + ys[k + 1]) / 2 for k in range(len(xs) - 1))

    def window(self, start: float, end: float) -> Expected:
        """The window as computed now (windows are asked for in order, once)."""
        if not self._fresh(start, end):
            return Expected(True, 0.0, 0.0)
        if self.kind == "gauge":
            return Expected(False, self._integral(start, end), 0.0)
        f_s, f_e = self._at(start), self._at(end)
        carry = self._carry
        self._carry = (f_e, end)
        if carry is not None and carry[1] == start:
            return Expected(False, max(f_e - carry[0], 0.0), 0.0)
        catch = max(f_s - carry[0], 0.0) if carry is not None else 0.0
        return Expected(False, f_e - f_s + catch, catch)

    def mark(self) -> Mark:
        """The signal as it stands (its samples only grow), to roll back to."""
        return (len(self.t), self._raw, self._carry)

    def rollback(self, mark: Mark) -> None:
        n, self._raw, self._carry = mark
        del self.t[n:]
        del self.y[n:]
