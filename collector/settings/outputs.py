"""Where results go: the store (`store:`) and the query API with /metrics (`api:`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from collector.settings.base import Secret, Strict


class StoreSettings(Strict):
    path: Path = Path("/var/lib/e2e-energy/store.sqlite")
    """SQLite file (WAL); one writer, so the attributor runs as one replica."""
    retention_days: float = Field(30.0, gt=0)
    """Per-window rows older than this are deleted; cumulative totals are kept."""
    max_pending_windows: int = Field(240, gt=0)
    """Computed windows kept in memory while the store cannot be written (a full disk), retried
    every tick; past this the oldest lose their per-window rows (never their totals)."""


class ApiSettings(Strict):
    listen: str = "0.0.0.0:8080"
    """HOST:PORT of the query API and /metrics."""
    token: Secret | None = None
    """Bearer token inline (tests only); use token_file in production."""
    token_file: Path | None = None
    """File holding the bearer token for /v1; unset = no auth (the API is read-only)."""
    max_range_seconds: float = Field(31 * 86_400.0, gt=0)
    """Longest range one request may ask for (s); longer ranges get a 400."""
    page_size: int = Field(100, gt=0, le=10_000)
    """Largest (and default) `limit` of list endpoints."""
