"""The advice's measured inputs recomputed by hand from a store's rows: plain Python loops over
every row of the period, written apart from collector/placement/store_source.py's SQL.

A window counts (is *covered*) for an app when it starts inside the period and every NF the app
had energy or traffic at in the period has a fresh (not stale) row in it.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Rows:
    seconds: dict[float, float] = field(default_factory=dict)
    stale: dict[tuple[float, str], bool] = field(default_factory=dict)
    energy: list[tuple[float, str, str, str, float]] = field(default_factory=list)
    """(window, app, nf, role, joules)"""
    requests: dict[tuple[float, str], float] = field(default_factory=dict)
    traffic: dict[tuple[float, str, str], float] = field(default_factory=dict)
    """(window, app, nf) -> bytes"""


def read_rows(path: Path, start: float, end: float) -> Rows:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = Rows()
    inside = "WHERE window_start >= ? AND window_start < ?"
    for ws, s in db.execute(
        f"SELECT window_start, window_seconds FROM windows {inside}", (start, end)
    ):
        rows.seconds[ws] = s
    for ws, nf, stale in db.execute(
        f"SELECT window_start, nf, stale FROM nf_window {inside}", (start, end)
    ):
        rows.stale[(ws, nf)] = bool(stale)
    for ws, app, nf, role, st, dy in db.execute(
        "SELECT window_start, app, nf, role, static_joules, dynamic_joules"
        f" FROM app_window {inside}",
        (start, end),
    ):
        rows.energy.append((ws, app, nf, role, st + dy))
    for ws, app, n in db.execute(
        f"SELECT window_start, app, requests FROM requests_window {inside}", (start, end)
    ):
        rows.requests[(ws, app)] = rows.requests.get((ws, app), 0.0) + n
    for ws, app, nf, b in db.execute(
        f"SELECT window_start, app, nf, bytes FROM traffic_window {inside}", (start, end)
    ):
        rows.traffic[(ws, app, nf)] = rows.traffic.get((ws, app, nf), 0.0) + b
    db.close()
    return rows


def covered(rows: Rows, nfs: set[str]) -> list[float]:
    return [ws for ws in rows.seconds if all(rows.stale.get((ws, nf)) is False for nf in nfs)]


def app_inputs(rows: Rows, app: str, period_seconds: float) -> dict[str, float]:
    """Coverage, requests, model/access J per request and bytes per request of `app`."""
    nfs = {nf for _, a, nf, _, _ in rows.energy if a == app}
    nfs |= {nf for (_, a, nf) in rows.traffic if a == app}
    windows = set(covered(rows, nfs))
    model = access = 0.0
    for ws, a, _, role, joules in rows.energy:
        if a == app and ws in windows:
            if role == "inference":
                model += joules
            else:
                access += joules
    n = sum(v for (ws, a), v in rows.requests.items() if a == app and ws in windows)
    per_nf: dict[str, float] = defaultdict(float)
    for (ws, a, nf), b in rows.traffic.items():
        if a == app and ws in windows:
            per_nf[nf] += b
    seconds = sum(rows.seconds[ws] for ws in windows)
    return {
        "covered_seconds": seconds,
        "coverage_ratio": seconds / period_seconds,
        "requests": n,
        "model_joules_per_request": model / n,
        "access_joules_per_request": access / n,
        "bytes_per_request": max(per_nf.values()) / n,
    }


def transport_per_byte_km(rows: Rows, nfs: list[str], km: float) -> float:
    """Attributed joules at the segment / the bytes each app carried through it / km."""
    windows = set(covered(rows, set(nfs)))
    joules = sum(j for ws, _, nf, _, j in rows.energy if nf in nfs and ws in windows)
    per_app: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (ws, app, nf), b in rows.traffic.items():
        if nf in nfs and ws in windows:
            per_app[app][nf] += b
    carried = sum(max(by_nf.values()) for by_nf in per_app.values())
    return joules / (carried * km)
