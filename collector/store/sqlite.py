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
from dataclasses import dataclass
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
    # The engine's state after the newest window (its signals' last readings, carries), so that a
    # restarted attributor continues them; written with the windows and totals it belongs to.
    "CREATE TABLE IF NOT EXISTS engine_state (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT)",
)
WAL_SIZE_LIMIT = 16 << 20
"""Bytes the write-ahead log is truncated to after a checkpoint."""
WINDOW_TABLES = ("windows", "app_window", "nf_window", "requests_window", "traffic_window")


class StoreError(RuntimeError):
    """The store cannot be opened: the message names the file and why."""


class StoreLocked(StoreError):
    """Another writer holds the store: only one attributor may write it."""


class StoreCorrupt(StoreError):
    """The file is not a SQLite database (or its header is damaged); it is never overwritten."""


@dataclass(frozen=True, slots=True)
class WindowRows:
    """One window's rows as the tables take them (the attribution stage builds them)."""

    window_start: float
    window_seconds: float
    apps: Sequence[Sequence[Any]] = ()
    nfs: Sequence[Sequence[Any]] = ()
    requests: Sequence[tuple[str, float]] = ()
    traffic: Sequence[Sequence[Any]] = ()


def write_error_kind(exc: BaseException) -> str:
    """A bounded label for a failed write: disk_full, io, read_only, busy or other."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_FULL") or "disk is full" in str(exc):
        return "disk_full"
    if name.startswith("SQLITE_IOERR") or isinstance(exc, OSError):
        return "io"
    if name.startswith("SQLITE_READONLY"):
        return "read_only"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return "busy"
    return "other"


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
        try:
            self.db = self._open(writer)
        except sqlite3.DatabaseError as exc:
            self._release_lock()
            if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
                raise StoreCorrupt(f"{self.path}: not a SQLite database ({exc})") from None
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from None

    def _open(self, writer: bool) -> sqlite3.Connection:
        if not writer:
            uri = f"file:{self.path}?mode=ro"
            db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            db.execute("SELECT count(*) FROM sqlite_master").fetchall()  # reads the header
            return db
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        db = sqlite3.connect(self.path, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a commit survives the process being killed (the WAL is in the page
            # cache); only a power loss may take back the latest commits, never a torn window.
            db.execute("PRAGMA synchronous=NORMAL")
            # The WAL keeps the size of its largest transaction (a backlog written after a full
            # disk) unless told otherwise: cut it back after each checkpoint.
            db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            for stmt in SCHEMA:
                db.execute(stmt)
            db.commit()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _take_lock(self) -> None:
        fd = os.open(f"{self.path}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLocked(f"{self.path}: another writer holds the store") from None
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def close(self) -> None:
        self.db.close()
        self._release_lock()

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
        rows = WindowRows(
            window_start, window_seconds, list(apps), list(nfs), list(requests), list(traffic)
        )
        self.write_windows([rows], totals)

    def write_windows(
        self, windows: Sequence[WindowRows], totals: dict[str, Any], state: str | None = None
    ) -> None:
        """Write windows and replace the cumulative totals (those after the last of them) and,
        when given, the engine's state after them, in one transaction: after a crash or a
        failed write the store holds all of them or none."""
        with self.db:
            if state is not None:
                self.db.execute("INSERT OR REPLACE INTO engine_state VALUES (1, ?)", (state,))
            c = self.db
            for w in windows:
                start = w.window_start
                c.execute("INSERT OR REPLACE INTO windows VALUES (?, ?)", (start, w.window_seconds))
                for table in WINDOW_TABLES[1:]:
                    c.execute(f"DELETE FROM {table} WHERE window_start = ?", (start,))
                c.executemany(
                    _insert("app_window", 1 + len(APP_COLS)), ((start, *r) for r in w.apps)
                )
                c.executemany(_insert("nf_window", 1 + len(NF_COLS)), ((start, *r) for r in w.nfs))
                c.executemany(_insert("requests_window", 3), ((start, *r) for r in w.requests))
                c.executemany(
                    _insert("traffic_window", 1 + len(TRAFFIC_COLS)),
                    ((start, *r) for r in w.traffic),
                )
            self._replace_totals(totals)
            self._retain()

    def write_state(self, state: str) -> None:
        """Replace the engine's state alone (its newer readings, no new window)."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO engine_state VALUES (1, ?)", (state,))

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

    def load_state(self) -> str | None:
        """The engine state written with the newest windows, None when none was."""
        row = self.db.execute("SELECT state FROM engine_state WHERE id = 1").fetchone()
        return None if row is None else str(row[0])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query (the API's reads); parameters always bound, never formatted."""
        return self.db.execute(sql, params).fetchall()


def _insert(table: str, n: int) -> str:
    return f"INSERT INTO {table} VALUES ({', '.join('?' * n)})"
