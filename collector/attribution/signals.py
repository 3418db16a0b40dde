"""Signals over time: piecewise-linear through samples, held past the last
(docs/explanation/attribution.md).

A gap longer than `max_gap` between two samples breaks the line: the signal is held after the
sample before the gap, as if it were the last, and resumes at the sample after it. A counter's
increase across such a break is what becomes catch-up energy. `Line` serves the few per-NF energy
signals; `CounterBank` evaluates many counters (traffic, totals, requests) at once with numpy.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from collector.units import counter_delta

FloatArray = npt.NDArray[np.float64]


class Line:
    """One signal: sample times and values (a counter's values already reset-adjusted)."""

    __slots__ = ("_last_raw", "_t", "_y", "resets", "width")

    def __init__(self, width: float | None = None) -> None:
        self._t: list[float] = []
        self._y: list[float] = []
        self._last_raw: float | None = None
        self.width = width
        self.resets = 0

    def add_gauge(self, t: float, watts: float) -> None:
        if self._t and t <= self._t[-1]:
            return
        self._t.append(t)
        self._y.append(watts)

    def add_counter(self, t: float, raw: float) -> None:
        """Append a raw counter reading; resets and wraps go through units.counter_delta."""
        if self._t and t <= self._t[-1]:
            return
        step = counter_delta(self._last_raw, raw, self.width)
        if step.kind in ("reset", "wrap"):
            self.resets += 1
        self._t.append(t)
        self._y.append((self._y[-1] if self._y else 0.0) + step.delta)
        self._last_raw = raw

    def __len__(self) -> int:
        return len(self._t)

    def at(self, x: float, max_gap: float) -> float | None:
        """The signal's value at `x`: None before the first sample, held across long gaps."""
        i = bisect.bisect_right(self._t, x) - 1
        if i < 0:
            return None
        if i + 1 < len(self._t) and self._t[i + 1] - self._t[i] <= max_gap:
            t0, t1 = self._t[i], self._t[i + 1]
            return self._y[i] + (self._y[i + 1] - self._y[i]) * (x - t0) / (t1 - t0)
        return self._y[i]

    def fresh(self, start: float, end: float, max_gap: float) -> bool:
        """True when every point of [start, end) lies within max_gap after some sample."""
        i = bisect.bisect_right(self._t, start) - 1
        if i < 0:
            return False
        j = bisect.bisect_left(self._t, end)
        points = [*self._t[i:j], end]
        return all(b - a <= max_gap for a, b in itertools.pairwise(points))

    def integral(self, start: float, end: float, max_gap: float) -> float:
        """Integral over [start, end) of the piecewise-linear signal (a gauge's energy)."""
        i = bisect.bisect_right(self._t, start)
        j = bisect.bisect_left(self._t, end)
        xs = [start, *self._t[i:j], end]
        ys = [self.at(x, max_gap) or 0.0 for x in xs]
        return sum((xs[k + 1] - xs[k]) * (ys[k] + ys[k + 1]) / 2.0 for k in range(len(xs) - 1))

    def prune(self, before: float) -> None:
        """Forget samples older than the last one at or before `before` (values stay consistent)."""
        i = bisect.bisect_right(self._t, before) - 1
        if i > 0:
            del self._t[:i]
            del self._y[:i]

    def state(self, since: float) -> dict[str, Any]:
        """What windows from `since` on need: the samples from the last one at or before it, the
        last raw reading (the next reading's delta is taken from it) and the width."""
        i = max(bisect.bisect_right(self._t, since) - 1, 0)
        return {"t": self._t[i:], "y": self._y[i:], "raw": self._last_raw, "width": self.width,
                "resets": self.resets}  # fmt: skip

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Line:
        line = cls(None if state["width"] is None else float(state["width"]))
        line._t = [float(x) for x in state["t"]]
        line._y = [float(x) for x in state["y"]]
        line._last_raw = None if state["raw"] is None else float(state["raw"])
        line.resets = int(state["resets"])
        return line


class CounterBank:
    """Many cumulative counters with `k` columns each (e.g. packets and bytes), vectorised.

    Samples are reset-adjusted on arrival (a decrease counts from zero or wraps, the same rule as
    units.counter_delta); `increase(end)` gives each counter's increase since the previous call.
    """

    def __init__(self, columns: int, max_gap: float, rebase_after: float = math.inf) -> None:
        self.columns = columns
        self.max_gap = max_gap
        self.rebase_after = rebase_after
        """A reading this long after its series' previous one is a new baseline (no increase):
        what a series `forget` dropped does on its return, so replay (which has the return
        already) and the live engine agree."""
        self.keys: list[tuple[str, ...]] = []
        self._index: dict[tuple[str, ...], int] = {}
        self._width: list[float] = []
        self._last_raw = np.full((0, columns), np.nan)
        self._last_cum = np.zeros((0, columns))
        self._last_t = np.full(0, -np.inf)
        self._carry = np.full((0, columns), np.nan)
        self._sid: list[npt.NDArray[np.int64]] = []
        self._t: list[FloatArray] = []
        self._cum: list[FloatArray] = []
        self.resets = 0

    def series_id(self, key: tuple[str, ...], width: float | None = None) -> int:
        sid = self._index.get(key)
        if sid is None:
            sid = len(self.keys)
            self._index[key] = sid
            self.keys.append(key)
            self._width.append(np.inf if width is None else width)
            self._grow()
        return sid

    def index_of(self, key: tuple[str, ...]) -> int | None:
        return self._index.get(key)

    def _grow(self) -> None:
        n = len(self.keys)
        if n <= len(self._last_t):
            return
        cap = max(n, 2 * len(self._last_t), 16)
        pad = cap - len(self._last_t)
        c = self.columns
        self._last_raw = np.vstack([self._last_raw, np.full((pad, c), np.nan)])
        self._last_cum = np.vstack([self._last_cum, np.zeros((pad, c))])
        self._carry = np.vstack([self._carry, np.full((pad, c), np.nan)])
        self._last_t = np.concatenate([self._last_t, np.full(pad, -np.inf)])

    def add(self, sids: npt.NDArray[np.int64], t: FloatArray, raw: FloatArray) -> None:
        """Append samples (any order); samples not newer than a series' last one are ignored."""
        if len(sids) == 0:
            return
        order = np.lexsort((t, sids))
        sids, t, raw = sids[order], t[order], raw[order].reshape(len(order), self.columns)
        newer = t > self._last_t[sids]
        same_prev = np.r_[False, (sids[1:] == sids[:-1]) & (t[1:] <= t[:-1])]
        keep = newer & ~same_prev
        sids, t, raw = sids[keep], t[keep], raw[keep]
        if len(sids) == 0:
            return
        first = np.r_[True, sids[1:] != sids[:-1]]
        prev = np.where(first[:, None], self._last_raw[sids], np.r_[raw[:1], raw[:-1]])
        gap = t - np.where(first, self._last_t[sids], np.r_[t[:1], t[:-1]])
        prev[gap > self.rebase_after] = np.nan
        delta = self._deltas(prev, raw, sids)
        cum = np.cumsum(delta, axis=0)
        starts = np.flatnonzero(first)
        group = np.cumsum(first) - 1
        offset = cum[starts] - delta[starts] - self._last_cum[sids[starts]]
        cum = cum - offset[group]
        last = np.r_[starts[1:] - 1, len(sids) - 1]
        self._last_raw[sids[last]] = raw[last]
        self._last_cum[sids[last]] = cum[last]
        self._last_t[sids[last]] = t[last]
        self._sid.append(sids)
        self._t.append(t)
        self._cum.append(cum)

    def _deltas(self, prev: FloatArray, raw: FloatArray, sids: npt.NDArray[np.int64]) -> FloatArray:
        delta = np.where(np.isnan(prev), 0.0, raw - prev)
        for i, col in zip(*np.nonzero(delta < 0), strict=True):
            width = self._width[sids[i]]
            step = counter_delta(prev[i, col], raw[i, col], None if np.isinf(width) else width)
            delta[i, col] = step.delta
            self.resets += 1
        return delta

    def last_time_at(self, x: float) -> FloatArray:
        """Each series' latest sample time at or before x (-inf when none)."""
        out = np.full(len(self.keys), -np.inf)
        if not self._sid:
            return out
        sid, t, _ = self._consolidate()
        prev = _last_index_per_series(sid, t <= x, len(self.keys))
        has = prev >= 0
        out[has] = t[prev[has]]
        return out

    def values_at(self, x: float) -> FloatArray:
        """Each counter's value at x (nan before its first sample), held across long gaps."""
        n = len(self.keys)
        out = np.full((n, self.columns), np.nan)
        if not self._sid:
            return out
        sid, t, cum = self._consolidate()
        before = t <= x
        prev = _last_index_per_series(sid, before, n)
        has = prev >= 0
        p = prev[has]
        out[has] = cum[p]
        nxt = p + 1
        inside = nxt < len(sid)
        nxt_ok = np.zeros(len(p), dtype=bool)
        nxt_ok[inside] = (sid[nxt[inside]] == sid[p[inside]]) & (
            t[nxt[inside]] - t[p[inside]] <= self.max_gap
        )
        rows = np.flatnonzero(has)[nxt_ok]
        a, b = p[nxt_ok], p[nxt_ok] + 1
        frac = ((x - t[a]) / (t[b] - t[a]))[:, None]
        out[rows] = cum[a] + (cum[b] - cum[a]) * frac
        return out

    def _consolidate(self) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray]:
        if len(self._sid) > 1:
            sid = np.concatenate(self._sid)
            t = np.concatenate(self._t)
            cum = np.vstack(self._cum)
            # Each chunk is in (sid, t) order and holds only samples newer than every earlier
            # one of their series (`add` keeps t > last_t), so a stable sort on sid alone gives
            # the (sid, t) order: a merge of sorted runs, linear, where a lexsort over the
            # whole history (2 x max_gap of every series) cost ~100x more at 1000 agents.
            order = np.argsort(sid, kind="stable")
            self._sid, self._t, self._cum = [sid[order]], [t[order]], [cum[order]]
        return self._sid[0], self._t[0], self._cum[0]

    def increase(self, end: float) -> FloatArray:
        """Each counter's increase from the previous call's edge (or its first sample) to `end`."""
        value = self.values_at(end)
        n = len(self.keys)
        carry = self._carry[:n]
        base = np.where(np.isnan(carry), 0.0, carry)
        out = np.where(np.isnan(value), 0.0, value - base)
        self._carry[:n] = np.where(np.isnan(value), carry, value)
        return np.maximum(out, 0.0)

    def prune(self, before: float) -> None:
        """Drop samples older than each series' last sample at or before `before`."""
        if not self._sid:
            return
        sid, t, cum = self._consolidate()
        prev = _last_index_per_series(sid, t <= before, len(self.keys))
        keep = np.arange(len(sid)) >= np.maximum(prev[sid], 0)
        self._sid, self._t, self._cum = [sid[keep]], [t[keep]], [cum[keep]]

    def forget(self, before: float) -> npt.NDArray[np.int64] | None:
        """Drop the series without a sample since `before` whose increase has all been taken
        (the carry stands at the last value): flows, agents and apps come and go, and a bank
        that kept every series it ever saw would grow for as long as the process runs. Returns
        old id -> new id (-1: dropped), None when nothing was dropped. A dropped series that
        comes back starts afresh: its first reading is its baseline, as a new series'."""
        n = len(self.keys)
        taken = np.all(self._carry[:n] == self._last_cum[:n], axis=1)
        gone = taken & (self._last_t[:n] < before)
        if not gone.any():
            return None
        kept = np.flatnonzero(~gone)
        remap = np.full(n, -1, dtype=np.int64)
        remap[kept] = np.arange(len(kept))
        self.keys = [self.keys[i] for i in kept]
        self._index = {k: i for i, k in enumerate(self.keys)}
        self._width = [self._width[i] for i in kept]
        for name in ("_last_raw", "_last_cum", "_carry", "_last_t"):
            setattr(self, name, getattr(self, name)[kept])
        if self._sid:
            sid, t, cum = self._consolidate()
            mine = ~gone[sid]
            self._sid, self._t, self._cum = [remap[sid[mine]]], [t[mine]], [cum[mine]]
        return remap

    def state(self, since: float) -> dict[str, Any]:
        """What windows from `since` on need: each series' key and width, its last raw reading
        (the next reading's delta), last cumulative value and time, the value at the last edge
        `increase` was asked for (the carry), and its samples from the last one at or before
        `since`; numbers as base64 of their bytes (exact, NaN and infinities included)."""
        n = len(self.keys)
        sid, t, cum = np.zeros(0, np.int64), np.zeros(0), np.zeros((0, self.columns))
        if self._sid:
            sid, t, cum = self._consolidate()
            prev = _last_index_per_series(sid, t <= since, n)
            keep = np.arange(len(sid)) >= np.maximum(prev[sid], 0)
            sid, t, cum = sid[keep], t[keep], cum[keep]
        arrays = {
            "width": np.array(self._width[:n], dtype=float), "last_raw": self._last_raw[:n],
            "last_cum": self._last_cum[:n], "last_t": self._last_t[:n],
            "carry": self._carry[:n], "sid": sid, "t": t, "cum": cum,
        }  # fmt: skip
        # the keys as they are (tuples of strings, JSON arrays alike): a list made of each, per
        # series at every stored window, was the most of what a full garbage collection walked
        return {"keys": list(self.keys)} | {k: _pack(a) for k, a in arrays.items()}

    def restore(self, state: dict[str, Any], keep: Callable[[tuple[str, ...]], bool]) -> None:
        """Continue from `state` (of another process) on an empty bank; only the series whose
        key `keep` accepts are taken (an NF gone from the settings leaves its series behind)."""
        if self.keys:
            raise ValueError("restore needs an empty bank")
        taken: dict[int, int] = {}
        widths = _unpack(state["width"], np.float64)
        for old, (key, width) in enumerate(zip(state["keys"], widths.tolist(), strict=True)):
            if keep(tuple(key)):
                taken[old] = self.series_id(tuple(key), None if math.isinf(width) else width)
        if not taken:
            return
        old_ids, new_ids = list(taken), list(taken.values())
        c = self.columns
        for name in ("last_raw", "last_cum", "carry"):
            rows = _unpack(state[name], np.float64).reshape(-1, c)
            getattr(self, "_" + name)[new_ids] = rows[old_ids]
        self._last_t[new_ids] = _unpack(state["last_t"], np.float64)[old_ids]
        sid = _unpack(state["sid"], np.int64)
        mine = np.isin(sid, old_ids)
        if mine.any():
            remap = np.full(len(state["keys"]), -1, dtype=np.int64)
            remap[old_ids] = new_ids
            t = _unpack(state["t"], np.float64)[mine]
            cum = _unpack(state["cum"], np.float64).reshape(-1, c)[mine]
            new_sid = remap[sid[mine]]
            order = np.lexsort((t, new_sid))
            self._sid, self._t, self._cum = [new_sid[order]], [t[order]], [cum[order]]


def _pack(a: npt.NDArray[Any]) -> str:
    """An array as base64 of its little-endian bytes: exact, and cheap for many series."""
    kind = "<i8" if a.dtype.kind in "iu" else "<f8"
    return base64.b64encode(np.ascontiguousarray(a, dtype=kind).tobytes()).decode("ascii")


def _unpack(text: str, dtype: type[np.generic]) -> npt.NDArray[Any]:
    kind = "<i8" if dtype is np.int64 else "<f8"
    return np.frombuffer(base64.b64decode(text), dtype=kind).astype(dtype)


def _last_index_per_series(
    sid: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_], n: int
) -> npt.NDArray[np.int64]:
    """Index of the last masked row per series in (sid, t)-sorted rows; -1 where none."""
    out = np.full(n, -1, dtype=np.int64)
    same_next = np.r_[sid[1:] == sid[:-1], False]
    is_last = mask & ~(same_next & np.r_[mask[1:], False])
    idx = np.flatnonzero(is_last)
    out[sid[idx]] = idx
    return out
