"""Snapshots into the store and cumulative totals back out of it (restarts resume counters)."""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

from collector.attribution.snapshot import APP_COLUMNS, AppRows, NfTotals, Snapshot, Totals
from collector.store import APP_COLS, NF_COLS, NF_TOTAL_COLS, Store


def _none_if_nan(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else x


def _app_tuples(rows: AppRows) -> list[tuple[Any, ...]]:
    cols = [getattr(rows, c).tolist() for c in APP_COLS]
    return [tuple(_none_if_nan(v) for v in r) for r in zip(*cols, strict=True)]


def write_snapshot(store: Store, snap: Snapshot) -> None:
    """One window's rows plus the totals after it, in one transaction."""
    nfs = [tuple(_none_if_nan(getattr(w, c)) for c in NF_COLS) for w in snap.nfs]
    t = snap.totals
    totals = {
        "apps": _app_tuples(t.apps),
        "nfs": [tuple(getattr(n, c) for c in NF_TOTAL_COLS) for n in t.nfs],
        "requests": list(t.requests.items()),
        "missing": list(t.co2_missing_joules.items()),
        "meta": [("windows", float(t.windows)), ("last_window_start", t.last_window_start)],
    }
    store.write_window(
        snap.window_start,
        snap.window_seconds,
        apps=_app_tuples(snap.rows),
        nfs=nfs,
        requests=list(snap.requests.items()),
        totals=totals,
        traffic=list(
            zip(
                snap.traffic.app.tolist(),
                snap.traffic.nf.tolist(),
                snap.traffic.packets.tolist(),
                snap.traffic.bytes.tolist(),
                strict=True,
            )
        ),
    )


def load_totals(store: Store) -> Totals | None:
    """The totals the last run wrote, so that `_total` counters continue instead of resetting."""
    data = store.load_totals()
    if data is None:
        return None
    rows = data["apps"]
    columns: dict[str, Any] = {c: [r[i] for r in rows] for i, c in enumerate(APP_COLS)}
    for c in APP_COLUMNS:
        columns[c] = [float("nan") if v is None else v for v in columns[c]]
    nfs = tuple(NfTotals(*r) for r in data["nfs"])
    meta = data["meta"]
    last = meta.get("last_window_start")
    return Totals(
        apps=AppRows.build(**columns),
        nfs=nfs,
        requests=MappingProxyType(dict(data["requests"])),
        co2_missing_joules=MappingProxyType(dict(data["missing"])),
        windows=int(meta.get("windows", 0)),
        last_window_start=None if last is None else float(last),
    )
