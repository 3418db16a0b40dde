"""The SQLite store: per-window results for the API, cumulative totals for restarts.

WAL mode so that API readers never block the writer; exactly one writer (an exclusive lock file
beside the database), which is why the attributor runs as one replica with a Recreate strategy.
Rows are plain tuples in the column order below; the attribution stage converts snapshots.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

APP_COLS = (
    "app", "nf", "role", "direction", "static_joules", "dynamic_joules", "co2_grams",
    "co2_market_grams", "embodied_grams",
)  # fmt: skip
NF_COLS = (
    "nf", "role", "zone", "energy_basis", "denominator", "stale", "measured_joules",
    "attributed_joules", "untagged_joules", "idle_no_traffic_joules", "catch_up_joules",
    "unmeasured_seconds", "conservation_error_ratio", "co2_missing_joules",
)  # fmt: skip
TRAFFIC_COLS = ("app", "nf", "packets", "bytes")
"""Tagged traffic per (app, NF) in a window, both directions summed: the placement advisor's
bytes per request and transport J per byte and km (added after the first release: stores
written before it simply have no rows here)."""
NF_TOTAL_COLS = (
    "nf", "role", "energy_basis", "denominator", "measured_joules", "attributed_joules",
    "untagged_joules", "idle_no_traffic_joules", "catch_up_joules", "unmeasured_seconds",
)  # fmt: skip


_TEXT = {"app", "nf", "role", "direction", "zone", "energy_basis", "denominator"}


def _ddl(table: str, cols: Sequence[str], prefix: str = "", key: str = "") -> str:
    body = ", ".join(f"{c} {'TEXT' if c in _TEXT else 'REAL'}" for c in cols)
    pk = f", PRIMARY KEY ({key})" if key else ""
    return f"CREATE TABLE IF NOT EXISTS {table} ({prefix}{body}{pk})"


SCHEMA = (
    "CREATE TABLE IF NOT EXISTS windows (window_start REAL PRIMARY KEY, window_seconds REAL)",
    _ddl("app_window", APP_COLS, "window_start REAL, "),
    "CREATE INDEX IF NOT EXISTS app_window_app ON app_window (app, window_start)",
    "CREATE INDEX IF NOT EXISTS app_window_start ON app_window (window_start)",
    _ddl("nf_window", NF_COLS, "window_start REAL, "),
    "CREATE INDEX IF NOT EXISTS nf_window_start ON nf_window (window_start)",
    "CREATE TABLE IF NOT EXISTS requests_window (window_start REAL, app TEXT, requests REAL)",
    "CREATE INDEX IF NOT EXISTS requests_window_start ON requests_window (app, window_start)",
    _ddl("traffic_window", TRAFFIC_COLS, "window_start REAL, "),
    "CREATE INDEX IF NOT EXISTS traffic_window_start ON traffic_window (window_start)",
    _ddl("totals_app", APP_COLS, key="app, nf, direction"),
    _ddl("totals_nf", NF_TOTAL_COLS, key="nf"),
    "CREATE TABLE IF NOT EXISTS totals_requests (app TEXT PRIMARY KEY, requests REAL)",
    "CREATE TABLE IF NOT EXISTS totals_missing (zone TEXT PRIMARY KEY, joules REAL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value REAL)",
)
WINDOW_TABLES = ("windows", "app_window", "nf_window", "requests_window", "traffic_window")


class StoreLocked(RuntimeError):
    """Another writer holds the store: only one attributor may write it."""


class Store:
    """One SQLite database. `writer=True` takes the exclusive writer lock and creates tables."""

    def __init__(
        self,
        path: str | Path,
        *,
        writer: bool = False,
        retention_seconds: float = 30 * 86_400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.retention_seconds = retention_seconds
        self.clock = clock
        self._lock_fd: int | None = None
        if writer:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            self.db = sqlite3.connect(self.path, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            for stmt in SCHEMA:
                self.db.execute(stmt)
            self.db.commit()
        else:
            uri = f"file:{self.path}?mode=ro"
            self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)

    def _take_lock(self) -> None:
        fd = os.open(f"{self.path}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLocked(f"{self.path}: another writer holds the store") from None
        self._lock_fd = fd

    def close(self) -> None:
        self.db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def write_window(
        self,
        window_start: float,
        window_seconds: float,
        *,
        apps: Iterable[Sequence[Any]],
        nfs: Iterable[Sequence[Any]],
        requests: Iterable[tuple[str, float]],
        totals: dict[str, Any],
        traffic: Iterable[Sequence[Any]] = (),
    ) -> None:
        """Write one window and replace the cumulative totals, in one transaction."""
        with self.db:
            c = self.db
            c.execute(
                "INSERT OR REPLACE INTO windows VALUES (?, ?)", (window_start, window_seconds)
            )
            for table in WINDOW_TABLES[1:]:
                c.execute(f"DELETE FROM {table} WHERE window_start = ?", (window_start,))
            c.executemany(
                _insert("app_window", 1 + len(APP_COLS)), ((window_start, *r) for r in apps)
            )
            c.executemany(_insert("nf_window", 1 + len(NF_COLS)), ((window_start, *r) for r in nfs))
            c.executemany(_insert("requests_window", 3), ((window_start, *r) for r in requests))
            c.executemany(
                _insert("traffic_window", 1 + len(TRAFFIC_COLS)),
                ((window_start, *r) for r in traffic),
            )
            self._replace_totals(totals)
            self._retain()

    def _replace_totals(self, totals: dict[str, Any]) -> None:
        c = self.db
        for table in ("totals_app", "totals_nf", "totals_requests", "totals_missing", "meta"):
            c.execute(f"DELETE FROM {table}")
        c.executemany(_insert("totals_app", len(APP_COLS)), totals["apps"])
        c.executemany(_insert("totals_nf", len(NF_TOTAL_COLS)), totals["nfs"])
        c.executemany(_insert("totals_requests", 2), totals["requests"])
        c.executemany(_insert("totals_missing", 2), totals["missing"])
        c.executemany(_insert("meta", 2), totals["meta"])

    def _retain(self) -> None:
        cutoff = self.clock() - self.retention_seconds
        for table in WINDOW_TABLES:
            self.db.execute(f"DELETE FROM {table} WHERE window_start < ?", (cutoff,))

    def load_totals(self) -> dict[str, Any] | None:
        """The cumulative totals as written last, or None for an empty store."""
        meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            return None
        return {
            "apps": self.db.execute(f"SELECT {', '.join(APP_COLS)} FROM totals_app").fetchall(),
            "nfs": self.db.execute(f"SELECT {', '.join(NF_TOTAL_COLS)} FROM totals_nf").fetchall(),
            "requests": self.db.execute("SELECT app, requests FROM totals_requests").fetchall(),
            "missing": self.db.execute("SELECT zone, joules FROM totals_missing").fetchall(),
            "meta": meta,
        }

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query (the API's reads); parameters always bound, never formatted."""
        return self.db.execute(sql, params).fetchall()


def _insert(table: str, n: int) -> str:
    return f"INSERT INTO {table} VALUES ({', '.join('?' * n)})"
