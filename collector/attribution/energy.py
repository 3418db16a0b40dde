"""Per-NF energy in a window: counter or gauge, the coarse-counter rule, stale windows, catch-up
energy and the idle policies (docs/explanation/attribution.md)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from collector.attribution.records import EnergyRecord
from collector.attribution.signals import Line
from collector.attribution.topology import NfSpec

COARSE_FRACTION = 0.01
"""A counter step above 1 % of the window's energy at current power makes the gauge preferred."""


@dataclass(frozen=True, slots=True)
class NfEnergy:
    """Regular energy E_n − C_n (None when stale), catch-up C_n, idle P_idle × W, the method."""

    regular_joules: float | None
    catch_up_joules: float
    idle_joules: float
    method: str
    energy_basis: str = "measured"


class EnergyState:
    """The signals of one NF and what must survive between windows (carry, rolling minimum)."""

    def __init__(self, spec: NfSpec) -> None:
        self.spec = spec
        self.counter: Line | None = None
        self.gauge: Line | None = None
        self.idle: Line | None = None
        self.gpu: Line | None = None
        self._gpu_carry: tuple[float, float] | None = None
        self.resolution_joules = spec.counter_resolution_joules
        self.energy_basis: str = spec.energy_basis
        self._carry: float | None = None
        self._carry_end: float | None = None
        self._window_means: deque[tuple[float, float]] = deque()

    def add(self, rec: EnergyRecord) -> None:
        if rec.energy_basis is not None:
            self.energy_basis = rec.energy_basis
        if rec.resolution_joules is not None:
            self.resolution_joules = rec.resolution_joules
        if rec.watts is not None:
            self.gauge = self.gauge or Line()
            self.gauge.add_gauge(rec.t, rec.watts)
        elif rec.mode == "idle":
            self.idle = self.idle or Line(rec.counter_width_joules)
            self.idle.add_counter(rec.t, rec.joules_total or 0.0)
        elif rec.mode == "gpu":
            self.gpu = self.gpu or Line(rec.counter_width_joules)
            self.gpu.add_counter(rec.t, rec.joules_total or 0.0)
        else:
            self.counter = self.counter or Line(rec.counter_width_joules)
            self.counter.add_counter(rec.t, rec.joules_total or 0.0)

    def window(self, start: float, end: float, max_gap: float) -> NfEnergy:
        """Compute the window [start, end); windows must be asked for in order."""
        counter_ok = self.counter is not None and self.counter.fresh(start, end, max_gap)
        gauge_ok = self.gauge is not None and self.gauge.fresh(start, end, max_gap)
        gauge_j = self.gauge.integral(start, end, max_gap) if self.gauge and gauge_ok else 0.0
        coarse = bool(
            counter_ok
            and gauge_ok
            and self.resolution_joules
            and self.resolution_joules > COARSE_FRACTION * gauge_j
        )
        catch = 0.0
        regular: float | None = None
        method = "none"
        if counter_ok and not coarse and self.counter is not None:
            f_s = self.counter.at(start, max_gap) or 0.0
            f_e = self.counter.at(end, max_gap) or 0.0
            if self._carry is not None and self._carry_end == start:
                regular = max(f_e - self._carry, 0.0)
            else:
                regular = f_e - f_s
                if self._carry is not None:
                    catch = max(f_s - self._carry, 0.0)
            method = "counter"
        elif gauge_ok:
            regular, method = gauge_j, "gauge"
        self._update_carry(method, counter_ok, end, max_gap)
        if regular is not None:
            gpu_regular, gpu_catch = self._gpu_part(start, end, max_gap)
            regular, catch = regular + gpu_regular, catch + gpu_catch
        idle = self._idle_joules(start, end, max_gap, regular)
        return NfEnergy(regular, catch, idle, method, self.energy_basis)

    def _update_carry(self, method: str, counter_ok: bool, end: float, max_gap: float) -> None:
        """Remember the counter's value at the last measured edge; a gauge-measured window with
        a stale counter forgets it, so energy the gauge measured is never caught up again."""
        if method == "none":
            return
        if counter_ok and self.counter is not None:
            self._carry, self._carry_end = self.counter.at(end, max_gap), end
        else:
            self._carry, self._carry_end = None, None

    def _gpu_part(self, start: float, end: float, max_gap: float) -> tuple[float, float]:
        """GPU energy (Kepler's GPU counter) added to a measured window, with its own carry and
        catch-up; a stale GPU counter adds nothing now and is caught up when it returns."""
        if self.gpu is None or not self.gpu.fresh(start, end, max_gap):
            return 0.0, 0.0
        f_s = self.gpu.at(start, max_gap) or 0.0
        f_e = self.gpu.at(end, max_gap) or 0.0
        carry = self._gpu_carry
        self._gpu_carry = (f_e, end)
        if carry is not None and carry[1] == start:
            return max(f_e - carry[0], 0.0), 0.0
        return f_e - f_s, max(f_s - carry[0], 0.0) if carry is not None else 0.0

    def _idle_joules(
        self, start: float, end: float, max_gap: float, regular: float | None
    ) -> float:
        seconds = end - start
        policy = self.spec.idle_policy
        if regular is None:
            return 0.0
        if policy == "fixed":
            return self.spec.idle_watts * seconds
        if policy == "source":
            if self.idle is None or not self.idle.fresh(start, end, max_gap):
                return 0.0
            return max(
                (self.idle.at(end, max_gap) or 0.0) - (self.idle.at(start, max_gap) or 0.0), 0.0
            )
        if policy == "rolling_min":
            # only the means that can still be the lowest: each below every later one (the
            # first is the minimum), so the horizon's 5,760 windows of 24 h are a few entries
            means, mean = self._window_means, regular / seconds
            while means and means[-1][1] >= mean:
                means.pop()
            means.append((start, mean))
            while means[0][0] < end - self.spec.idle_horizon_seconds:
                means.popleft()
            return means[0][1] * seconds
        return 0.0

    def prune(self, before: float) -> None:
        for line in (self.counter, self.gauge, self.idle, self.gpu):
            if line is not None:
                line.prune(before)

    def state(self, since: float) -> dict[str, Any]:
        """What windows from `since` on need (a restarted process continues from it): the
        signals' samples from the last one at or before `since`, the counters' carries, the
        source's resolution and basis, and the rolling minimum's candidate window means (its
        horizon continues across a restart)."""
        lines = {
            name: line.state(since)
            for name, line in (("counter", self.counter), ("gauge", self.gauge),
                               ("idle", self.idle), ("gpu", self.gpu))
            if line is not None
        }  # fmt: skip
        return {
            "lines": lines, "carry": self._carry, "carry_end": self._carry_end,
            "gpu_carry": self._gpu_carry, "resolution_joules": self.resolution_joules,
            "energy_basis": self.energy_basis,
            "idle_means": [list(m) for m in self._window_means],
        }  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        lines = {name: Line.from_state(d) for name, d in state["lines"].items()}
        self.counter, self.gauge = lines.get("counter"), lines.get("gauge")
        self.idle, self.gpu = lines.get("idle"), lines.get("gpu")
        self._carry, self._carry_end = state["carry"], state["carry_end"]
        gpu = state["gpu_carry"]
        self._gpu_carry = None if gpu is None else (float(gpu[0]), float(gpu[1]))
        self.resolution_joules = state["resolution_joules"]
        self.energy_basis = state["energy_basis"]
        means = state.get("idle_means", [])  # absent from states written before it was kept
        self._window_means = deque((float(a), float(m)) for a, m in means)
