"""Response models of the query API (they are the OpenAPI schema)."""

from __future__ import annotations

from pydantic import BaseModel


class Page(BaseModel):
    start: float
    end: float
    total: int
    limit: int
    offset: int


class AppTotal(BaseModel):
    app: str
    joules: float
    static_joules: float
    dynamic_joules: float
    co2_grams: float
    co2_grams_market: float
    co2_missing_joules: float
    embodied_grams: float
    requests: float
    joules_per_request: float | None


class AppsPage(Page):
    items: list[AppTotal]


class SeriesPoint(BaseModel):
    window_start: float
    nf: str
    role: str
    direction: str
    static_joules: float
    dynamic_joules: float
    joules: float
    co2_grams: float | None
    co2_grams_market: float | None


class SeriesPage(Page):
    app: str
    items: list[SeriesPoint]


class PerRequest(BaseModel):
    app: str
    start: float
    end: float
    joules: float
    requests: float
    joules_per_request: float | None
    co2_grams_per_request: float | None
    sci_grams_per_request: float | None


class Unattributed(BaseModel):
    untagged: float
    idle_no_traffic: float
    catch_up: float


class NfTotal(BaseModel):
    nf: str
    role: str
    energy_basis: str
    denominator: str
    measured_joules: float
    attributed_joules: float
    unattributed_joules: float
    unattributed_by_reason: Unattributed
    unmeasured_seconds: float
    max_conservation_error_ratio: float


class NfsPage(Page):
    items: list[NfTotal]


class Health(BaseModel):
    status: str
    windows: int | None = None
    last_window_start: float | None = None


class Problem(BaseModel):
    detail: str
