"""Cumulative totals and the assembly of a Snapshot from one window's split."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from collector.attribution.inputs import WindowInputs
from collector.attribution.snapshot import (
    APP_COLUMNS,
    AppRows,
    AppTraffic,
    IntensityStatus,
    NfTotals,
    NfWindow,
    Snapshot,
    Totals,
)
from collector.attribution.split import WindowSplit
from collector.attribution.topology import Topology
from collector.models import DIRECTIONS

if TYPE_CHECKING:
    from collector.attribution.energy import NfEnergy

NO_ZONE = "none"
"""Zone label for NFs configured without a carbon zone (their CO2 is always missing)."""
_KEY = ["app", "nf", "direction"]


class Accumulator:
    """Running sums since the first window; seeded from stored totals after a restart."""

    def __init__(self, topology: Topology, totals: Totals | None = None) -> None:
        self.topology = topology
        self.roles = {nf.name: nf.role for nf in topology.nfs}
        t = totals or Totals(apps=AppRows.empty())
        self.apps = _frame(t.apps)
        self.nfs: dict[str, NfTotals] = {n.nf: n for n in t.nfs}
        self.requests = dict(t.requests)
        self.missing = dict(t.co2_missing_joules)
        self.windows = t.windows
        self.last_window_start = t.last_window_start

    def add(self, rows: AppRows, nfs: tuple[NfWindow, ...], requests: Mapping[str, float]) -> None:
        win = _frame(rows).fillna(0.0)  # missing CO2 is counted in co2_missing, not summed
        if len(win):
            self.apps = win if self.apps.empty else self.apps.add(win, fill_value=0.0)
        for w in nfs:
            prev = self.nfs.get(w.nf) or NfTotals(w.nf, w.role, w.energy_basis, w.denominator)
            self.nfs[w.nf] = replace(
                prev,
                energy_basis=w.energy_basis,
                denominator=w.denominator,
                measured_joules=prev.measured_joules + w.measured_joules,
                attributed_joules=prev.attributed_joules + w.attributed_joules,
                untagged_joules=prev.untagged_joules + w.untagged_joules,
                idle_no_traffic_joules=prev.idle_no_traffic_joules + w.idle_no_traffic_joules,
                catch_up_joules=prev.catch_up_joules + w.catch_up_joules,
                unmeasured_seconds=prev.unmeasured_seconds + w.unmeasured_seconds,
            )
            if w.co2_missing_joules > 0:
                zone = w.zone or NO_ZONE
                self.missing[zone] = self.missing.get(zone, 0.0) + w.co2_missing_joules
        for app, count in requests.items():
            self.requests[app] = self.requests.get(app, 0.0) + count
        self.windows += 1

    def totals(self) -> Totals:
        a = self.apps.reset_index()
        rows = AppRows.build(
            app=a["app"].to_numpy(),
            nf=a["nf"].to_numpy(),
            role=a["nf"].map(self.roles).fillna("").to_numpy(dtype=object),
            direction=a["direction"].to_numpy(),
            **{c: a[c].to_numpy() for c in APP_COLUMNS},
        )
        return Totals(
            apps=rows,
            nfs=tuple(self.nfs[k] for k in sorted(self.nfs)),
            requests=MappingProxyType(dict(self.requests)),
            co2_missing_joules=MappingProxyType(dict(self.missing)),
            windows=self.windows,
            last_window_start=self.last_window_start,
        )


def _frame(rows: AppRows) -> pd.DataFrame:
    data = {k: getattr(rows, k) for k in _KEY}
    data.update({c: getattr(rows, c) for c in APP_COLUMNS})
    return pd.DataFrame(data).set_index(_KEY)  # rows are unique per (app, nf, direction)


def _nf_windows(
    inp: WindowInputs, s: WindowSplit, energies: Mapping[str, NfEnergy]
) -> tuple[NfWindow, ...]:
    out = []
    for i, nf in enumerate(inp.nfs):
        spec = nf.spec
        out.append(
            NfWindow(
                nf=spec.name,
                role=spec.role,
                zone=spec.zone,
                energy_basis=energies[spec.name].energy_basis,
                denominator="tagged_only" if s.tagged_only[i] else "all",
                stale=bool(s.stale[i]),
                method=energies[spec.name].method,
                measured_joules=float(s.measured_joules[i]),
                static_joules=float(s.static_nf_joules[i]),
                dynamic_joules=float(s.dynamic_nf_joules[i]),
                attributed_joules=float(s.attributed_joules[i]),
                untagged_joules=float(s.untagged_joules[i]),
                idle_no_traffic_joules=float(s.idle_no_traffic_joules[i]),
                catch_up_joules=float(s.catch_up_joules[i]),
                unmeasured_seconds=inp.seconds if s.stale[i] else 0.0,
                conservation_error_ratio=float(s.conservation_error_ratio[i]),
                co2_missing_joules=float(s.co2_missing_joules[i]),
                untagged_clamps=int(s.clamps[i]),
                embodied_grams=float(s.embodied_nf_grams[i]),
            )
        )
    return tuple(out)


def make_snapshot(
    acc: Accumulator,
    inp: WindowInputs,
    s: WindowSplit,
    energies: Mapping[str, NfEnergy],
    requests: Mapping[str, float],
    intensity: tuple[IntensityStatus, ...],
) -> Snapshot:
    """Freeze one window's result and fold it into the running totals."""
    names = np.array(["", *(nf.spec.name for nf in inp.nfs)], dtype=object)[1:]
    roles = np.array(["", *(nf.spec.role for nf in inp.nfs)], dtype=object)[1:]
    rows = AppRows.build(
        app=s.entry_app,
        nf=names[s.entry_nf],
        role=roles[s.entry_nf],
        direction=np.array(DIRECTIONS, dtype=object)[s.entry_dir],
        static_joules=s.static_joules,
        dynamic_joules=s.dynamic_joules,
        co2_grams=s.co2_grams,
        co2_market_grams=s.co2_market_grams,
        embodied_grams=s.embodied_grams,
    )
    nfs = _nf_windows(inp, s, energies)
    acc.add(rows, nfs, requests)
    acc.last_window_start = inp.start
    return Snapshot(
        window_start=inp.start,
        window_seconds=inp.seconds,
        rows=rows,
        nfs=nfs,
        requests=MappingProxyType(dict(requests)),
        totals=acc.totals(),
        intensity=intensity,
        market_configured=acc.topology.market_configured,
        traffic=AppTraffic.build(
            app=s.traffic_app,
            nf=names[s.traffic_nf],
            packets=s.traffic_packets,
            bytes=s.traffic_bytes,
        ),
    )
