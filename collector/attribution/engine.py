"""The engine: records in, one immutable Snapshot per window out, cumulative totals kept.

Replay and the live attributor drive the same engine: ingest records, then compute windows in
order. Counters are evaluated at window edges, gauges integrated, and the split is vectorised.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from collector.attribution.energy import EnergyState, NfEnergy
from collector.attribution.inputs import NfInput, WindowInputs
from collector.attribution.intensity import IntensitySeries
from collector.attribution.records import (
    EnergyRecord,
    IntensityRecord,
    Record,
    RequestsRecord,
    TrafficRecord,
    TrafficTotalRecord,
)
from collector.attribution.signals import CounterBank
from collector.attribution.snapshot import IntensityStatus, Snapshot, Totals
from collector.attribution.split import split_window
from collector.attribution.topology import Topology, ZoneSpec
from collector.attribution.totals import Accumulator, make_snapshot

_ALIGN_TOLERANCE = 1e-6
"""Fraction of a window by which a start may miss the grid (float rounding, not a real offset)."""
STATE_VERSION = 1
"""Version of `Engine.state()`; a state of another version is not restored."""


FORGET_SERIES_SECONDS = 3600.0
"""A traffic, traffic-total or requests series without a sample for this long is dropped (its
increase all taken): agents restart under new names, flows and apps come and go, and months of
them must not pile up in memory and in the state written with every window. One that comes back
starts from its first reading again, as a new series does; so does any reading this long after
its series' previous one (replay, which holds the return already, then agrees with the live
engine, and an hour's increase never lands in the one window of the return)."""


class UnknownNf(KeyError):
    """A record names an NF that the topology does not have."""


class Engine:
    """Stateful window computation over one topology."""

    def __init__(self, topology: Topology, *, totals: Totals | None = None) -> None:
        self.topology = topology
        self.max_gap = topology.max_gap_seconds
        self._nf_index = {nf.name: i for i, nf in enumerate(topology.nfs)}
        self._energy = {nf.name: EnergyState(nf) for nf in topology.nfs}
        self._traffic = CounterBank(2, self.max_gap, FORGET_SERIES_SECONDS)
        self._totals_bank = CounterBank(2, self.max_gap, FORGET_SERIES_SECONDS)
        self._link_header: dict[int, int] = {}
        self._requests = CounterBank(1, self.max_gap, FORGET_SERIES_SECONDS)
        self._intensity: dict[str, IntensitySeries] = {}
        self._acc = Accumulator(topology, totals)
        self.next_window: float | None = None
        if totals is not None and totals.last_window_start is not None:
            self.next_window = totals.last_window_start + topology.window_seconds

    def ingest(self, records: Iterable[Record]) -> None:
        """Add records (any order: they are sorted by time here, since an energy line ignores a
        sample older than its latest); unknown NF names raise UnknownNf."""
        traffic: list[tuple[int, float, float, float]] = []
        totals: list[tuple[int, float, float, float]] = []
        requests: list[tuple[int, float, float, float]] = []
        for rec in sorted(records, key=lambda r: r.t):
            if isinstance(rec, IntensityRecord):
                self._zone(rec.zone).add(rec)
                continue
            nf = getattr(rec, "nf", None)
            if nf is not None and nf not in self._nf_index:
                raise UnknownNf(nf)
            if isinstance(rec, EnergyRecord):
                self._energy[rec.nf].add(rec)
            elif isinstance(rec, TrafficRecord):
                sid = self._traffic.series_id((rec.nf, rec.app, rec.direction, rec.series))
                traffic.append((sid, rec.t, rec.packets_total, rec.bytes_total))
            elif isinstance(rec, TrafficTotalRecord):
                sid = self._totals_bank.series_id((rec.nf, rec.series), rec.counter_width)
                self._link_header[sid] = rec.link_header_bytes
                totals.append((sid, rec.t, rec.packets_total, rec.bytes_total))
            elif isinstance(rec, RequestsRecord):
                sid = self._requests.series_id((rec.app, rec.nf or "", rec.series))
                requests.append((sid, rec.t, rec.requests_total, 0.0))
        for bank, rows in ((self._traffic, traffic), (self._totals_bank, totals)):
            if rows:
                a = np.array(rows)
                bank.add(a[:, 0].astype(np.int64), a[:, 1], a[:, 2:4])
        if requests:
            a = np.array(requests)
            self._requests.add(a[:, 0].astype(np.int64), a[:, 1], a[:, 2:3])

    def _zone(self, zone: str) -> IntensitySeries:
        series = self._intensity.get(zone)
        if series is None:
            spec = self.topology.zones.get(zone, ZoneSpec(zone))
            series = self._intensity[zone] = IntensitySeries(spec.max_age_seconds)
        return series

    def compute(self, start: float) -> Snapshot:
        """Compute the window starting at `start` (aligned); windows go strictly in order."""
        w = self.topology.window_seconds
        # k × W, floor(t / W) × W and start + W can differ in the last bit when W is not a
        # binary fraction (7.3 s), so alignment and order are checked to a tolerance.
        if abs(start / w - round(start / w)) > _ALIGN_TOLERANCE:
            raise ValueError(f"window start {start} is not a multiple of {w}")
        if self.next_window is not None and start < self.next_window - _ALIGN_TOLERANCE * w:
            raise ValueError(f"window {start} was already computed")
        end = start + w
        energies = {n: s.window(start, end, self.max_gap) for n, s in self._energy.items()}
        inputs, requests = self._inputs(start, end, energies)
        split = split_window(inputs)
        snapshot = make_snapshot(self._acc, inputs, split, energies, requests, self._status(end))
        self.next_window = end
        self._prune(start)
        return snapshot

    def _inputs(
        self, start: float, end: float, energies: dict[str, NfEnergy]
    ) -> tuple[WindowInputs, dict[str, float]]:
        traffic = self._traffic.increase(end)
        keys = self._traffic.keys
        tot = self._totals_bank.increase(end)
        lh = np.array([self._link_header.get(i, 0) for i in range(len(tot))], dtype=float)
        ipv6 = np.maximum(tot[:, 1] - lh * tot[:, 0], 0.0) if len(tot) else np.zeros(0)
        per_nf_p: dict[str, float] = {}
        per_nf_b: dict[str, float] = {}
        for i, (nf, _series) in enumerate(self._totals_bank.keys):
            per_nf_p[nf] = per_nf_p.get(nf, 0.0) + float(tot[i, 0])
            per_nf_b[nf] = per_nf_b.get(nf, 0.0) + float(ipv6[i])
        fresh_totals = self._fresh_totals(start, end)
        req = self._requests.increase(end)
        req_keys = self._requests.keys
        own = {k[1] for k in req_keys if k[1]}
        nfs = []
        for spec in self.topology.nfs:
            en = energies[spec.name]
            zone = spec.zone
            loc = self._zone(zone).mean(start, end) if zone is not None else None
            zspec = self.topology.zones.get(zone) if zone is not None else None
            market = zspec.market_grams_per_kwh if zspec is not None else None
            has_total = spec.name in fresh_totals
            nfs.append(
                NfInput(
                    spec=spec,
                    energy_joules=en.regular_joules,
                    catch_up_joules=en.catch_up_joules,
                    idle_joules=en.idle_joules,
                    total_packets=per_nf_p.get(spec.name) if has_total else None,
                    total_bytes=per_nf_b.get(spec.name) if has_total else None,
                    has_requests_source=spec.name in own,
                    intensity=loc,
                    market_intensity=market if market is not None else loc,
                )
            )
        inputs = WindowInputs(
            start=start,
            seconds=end - start,
            nfs=tuple(nfs),
            traffic_nf=np.array([self._nf_index[k[0]] for k in keys], dtype=np.int64),
            traffic_app=np.array([k[1] for k in keys], dtype=object),
            traffic_dir=np.array([0 if k[2] == "uplink" else 1 for k in keys], dtype=np.int64),
            traffic_packets=traffic[:, 0],
            traffic_bytes=traffic[:, 1],
            req_nf=np.array([self._nf_index.get(k[1], -1) for k in req_keys], dtype=np.int64),
            req_app=np.array([k[0] for k in req_keys], dtype=object),
            req_count=req[:, 0],
        )
        return inputs, _app_requests(req_keys, req[:, 0])

    def _fresh_totals(self, start: float, end: float) -> set[str]:
        """NFs whose traffic-total source covers the window: a sample at or before its start and
        one within max_gap before its end."""
        bank = self._totals_bank
        first, last = bank.last_time_at(start), bank.last_time_at(end)
        covered = np.isfinite(first) & (end - last <= self.max_gap)
        return {nf for i, (nf, _s) in enumerate(bank.keys) if covered[i]}

    def _status(self, end: float) -> tuple[IntensityStatus, ...]:
        out = []
        for zone, series in sorted(self._intensity.items()):
            rec = series.latest
            if rec is not None:
                out.append(
                    IntensityStatus(zone, rec.provider, rec.signal, rec.grams_per_kwh, end - rec.t)
                )
        return tuple(out)

    def _prune(self, start: float) -> None:
        before = start - 2 * self.max_gap
        for st in self._energy.values():
            st.prune(before)
        for bank in (self._traffic, self._totals_bank, self._requests):
            bank.prune(before)
            remap = bank.forget(start - FORGET_SERIES_SECONDS)
            if remap is not None and bank is self._totals_bank:
                self._link_header = {
                    int(remap[sid]): h for sid, h in self._link_header.items() if remap[sid] >= 0
                }
        for series in self._intensity.values():
            series.prune(before)

    def totals(self) -> Totals:
        return self._acc.totals()

    def state(self) -> dict[str, Any]:
        """What a restarted process needs to continue the signals where this one stands after
        its last computed window (written with that window and its totals, in one transaction):
        each signal's last readings (a counter needs two), its carry and reset state, the
        latest intensities. Readings taken since then are in it too; they are readings."""
        since = self.next_window
        if since is None:
            raise ValueError("no window computed yet")
        return {
            "version": STATE_VERSION,
            "next_window": since,
            "energy": {nf: st.state(since) for nf, st in self._energy.items()},
            "traffic": self._traffic.state(since),
            "traffic_totals": self._totals_bank.state(since),
            "link_header": [[self._totals_bank.keys[i], h] for i, h in self._link_header.items()],
            "requests": self._requests.state(since),
            "intensity": {zone: series.state(since) for zone, series in self._intensity.items()},
        }

    def restore(self, state: dict[str, Any]) -> bool:
        """Continue from the `state()` of the process that wrote the totals this engine resumed
        from, so the first reading after a restart yields a delta across the downtime, which
        the gap rules (max_gap, stale windows, catch-up) then treat as any other gap. Returns
        False, restoring nothing, for a state of another version or of another window; signals
        of NFs the topology no longer has are left out."""
        w = self.topology.window_seconds
        nxt = self.next_window
        if state.get("version") != STATE_VERSION or nxt is None:
            return False
        if abs(float(state["next_window"]) - nxt) > _ALIGN_TOLERANCE * w:
            return False
        for nf, st in state["energy"].items():
            if nf in self._energy:
                self._energy[nf].restore(st)
        known = self._nf_index.__contains__
        self._traffic.restore(state["traffic"], lambda k: known(k[0]))
        self._totals_bank.restore(state["traffic_totals"], lambda k: known(k[0]))
        for key, header in state["link_header"]:
            sid = self._totals_bank.index_of(tuple(key))
            if sid is not None:
                self._link_header[sid] = int(header)
        self._requests.restore(state["requests"], lambda k: not k[1] or known(k[1]))
        for zone, series in state["intensity"].items():
            self._zone(zone).restore(series)
        return True


def _app_requests(keys: list[tuple[str, ...]], counts: np.ndarray) -> dict[str, float]:
    """Requests per app in the window: its app-level series when it has any, else the sum of
    its NF-level series (docs/explanation/attribution.md, "requests")."""
    app_level: dict[str, float] = {}
    nf_level: dict[str, float] = {}
    for (app, nf, _series), count in zip(keys, counts, strict=True):
        target = nf_level if nf else app_level
        target[app] = target.get(app, 0.0) + float(count)
    return {**nf_level, **app_level}
