"""Snapshots into the store and cumulative totals back out of it (restarts resume counters),
with the engine's state after the newest window (restarts resume the signals).

`StoreWriter` is the one place the live attributor writes: a window reaches the store whole or
not at all, and a window that cannot be written (a full disk) waits in a bounded queue and is
written, in order, at the next attempt that succeeds. Only what the store holds is handed on for
publishing, so a restart never takes back a total that /metrics has shown.
"""

from __future__ import annotations

import math
import sqlite3
import sys
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from collector.attribution.snapshot import APP_COLUMNS, AppRows, NfTotals, Snapshot, Totals
from collector.store import APP_COLS, NF_COLS, NF_TOTAL_COLS, Store, WindowRows, write_error_kind


def _none_if_nan(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else x


def _app_tuples(rows: AppRows) -> list[tuple[Any, ...]]:
    cols = [getattr(rows, c).tolist() for c in APP_COLS]
    return [tuple(_none_if_nan(v) for v in r) for r in zip(*cols, strict=True)]


def window_rows(snap: Snapshot) -> WindowRows:
    """The window's own rows as the store takes them."""
    nfs = [tuple(_none_if_nan(getattr(w, c)) for c in NF_COLS) for w in snap.nfs]
    return WindowRows(
        snap.window_start,
        snap.window_seconds,
        apps=_app_tuples(snap.rows),
        nfs=nfs,
        requests=list(snap.requests.items()),
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


def totals_rows(t: Totals) -> dict[str, Any]:
    """The cumulative totals as the store takes them."""
    return {
        "apps": _app_tuples(t.apps),
        "nfs": [tuple(getattr(n, c) for c in NF_TOTAL_COLS) for n in t.nfs],
        "requests": list(t.requests.items()),
        "missing": list(t.co2_missing_joules.items()),
        "meta": [("windows", float(t.windows)), ("last_window_start", t.last_window_start)],
    }


def write_snapshot(store: Store, snap: Snapshot) -> None:
    """One window's rows plus the totals after it, in one transaction."""
    store.write_windows([window_rows(snap)], totals_rows(snap.totals))


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """What /metrics says about the writer: e2e_energy_store_*."""

    pending_windows: int = 0
    dropped_windows_total: int = 0
    errors_total: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    last_error: str | None = None


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class StoreWriter:
    """Writes snapshots in order; keeps the ones a failed write left behind (at most
    `max_pending`; older ones lose their per-window rows, never their share of the totals)."""

    def __init__(
        self,
        store: Store,
        *,
        max_pending: int = 240,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.max_pending = max_pending
        self.log = log or _stderr
        self._pending: deque[WindowRows] = deque()
        self._latest: Snapshot | None = None
        self._latest_state: str | None = None
        self._errors: dict[str, int] = {}
        self._dropped = 0
        self._last_error: str | None = None
        self.last_written: float | None = None
        """Start of the newest window in the store (written by this process)."""

    def queue(self, snap: Snapshot) -> None:
        """Hold `snap` for the next commit, which writes it in the same transaction as the
        windows after it (a window without the engine's state after it is never the newest in
        the store, so a restart always finds the state of the newest window)."""
        self._pending.append(window_rows(snap))
        self._latest, self._latest_state = snap, None

    def commit(self, snap: Snapshot | None = None, state: str | None = None) -> Snapshot | None:
        """Queue `snap` (if any) with the engine's `state` after it, and write everything queued
        in one transaction. Returns the newest snapshot now in the store (None when nothing was
        written)."""
        if snap is not None:
            self._pending.append(window_rows(snap))
            self._latest, self._latest_state = snap, state
        if not self._pending or self._latest is None:
            return None
        try:
            self.store.write_windows(
                list(self._pending), totals_rows(self._latest.totals), self._latest_state
            )
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
            return None
        if self._last_error is not None:
            self.log(f"store: writing resumed, {len(self._pending)} waiting window(s) written")
            self._last_error = None
        self._pending.clear()
        self.last_written = self._latest.window_start
        return self._latest

    def save_state(self, state: str) -> bool:
        """Write the engine's state alone (newer readings, no window due); only when no window
        waits, since the state must be of the newest window in the store."""
        if self._pending:
            return False
        try:
            self.store.write_state(state)
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
            return False
        return True

    def _failed(self, exc: BaseException) -> None:
        kind = write_error_kind(exc)
        self._errors[kind] = self._errors.get(kind, 0) + 1
        if self._last_error is None:
            self.log(
                f"store: cannot write {self.store.path} ({kind}: {exc}); "
                f"{len(self._pending)} window(s) wait and are retried every tick"
            )
        self._last_error = f"{kind}: {exc}"
        while len(self._pending) > self.max_pending:
            self._pending.popleft()
            self._dropped += 1

    @property
    def pending(self) -> int:
        return len(self._pending)

    def health(self) -> StoreHealth:
        return StoreHealth(
            self.pending, self._dropped, MappingProxyType(dict(self._errors)), self._last_error
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
