"""The store: SQLite by default (WAL, retention, one writer), written by the attributor and read
by the query API and the placement advisor."""

from collector.store.sqlite import (
    APP_COLS,
    NF_COLS,
    NF_TOTAL_COLS,
    TRAFFIC_COLS,
    Store,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    WindowRows,
    write_error_kind,
)

__all__ = [
    "APP_COLS",
    "NF_COLS",
    "NF_TOTAL_COLS",
    "TRAFFIC_COLS",
    "Store",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "WindowRows",
    "write_error_kind",
]
