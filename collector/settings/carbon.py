"""Grid carbon intensity (`carbon:`): provider chains per zone, one class per provider `kind`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from collector.models import Signal
from collector.settings.base import Secret, Strict


class ProviderBase(Strict):
    ttl_seconds: float = Field(300.0, gt=0)
    """A fetched value is reused this long (s) before the provider is asked again."""
    max_age_seconds: float = Field(3600.0, gt=0)
    """A value older than this (s, by its own timestamp) is not used; the chain moves on."""
    timeout_seconds: float = Field(10.0, gt=0)
    backoff_seconds: float = Field(60.0, ge=0)
    """After a failure (429, 5xx, timeout) the provider is skipped this long (s), doubling
    on each further failure up to 16x; Retry-After wins when the server sends it."""


class StaticProvider(ProviderBase):
    kind: Literal["static"]
    grams_per_kwh: float = Field(ge=0)
    """Fixed intensity (gCO2e/kWh)."""
    signal: Signal = "average"


class ElectricityMapsProvider(ProviderBase):
    kind: Literal["electricitymaps"]
    zone: str
    """Electricity Maps zone code (DE, FR, US-CAL-CISO ...)."""
    token: Secret | None = None
    token_file: Path | None = None
    """File holding the API key, sent as the `auth-token` header."""
    url: str = "https://api.electricitymap.org"
    endpoint: Literal["latest", "history"] = "latest"
    """`history` reads the last 24 h and keeps every point (the window mean uses them)."""

    @property
    def signal(self) -> Signal:
        return "average"


class WattTimeProvider(ProviderBase):
    kind: Literal["watttime"]
    region: str
    """WattTime balancing-authority region (CAISO_NORTH ...)."""
    username: str | None = None
    password: Secret | None = None
    password_file: Path | None = None
    """File holding the WattTime password (HTTP Basic on /login)."""
    url: str = "https://api.watttime.org"
    endpoint: Literal["forecast", "historical"] = "forecast"
    """Where marginal grams come from (lbs_co2_per_mwh, converted in collector.units)."""
    signal_index: bool = False
    """Also read /v3/signal-index (a 0-100 percentile, exposed as an index, never grams)."""
    token_refresh_seconds: float = Field(1500.0, gt=0)
    """Log in again after this long (s); WattTime tokens expire after ~30 min."""

    @property
    def signal(self) -> Signal:
        return "marginal"


class UkCarbonProvider(ProviderBase):
    kind: Literal["uk"]
    url: str = "https://api.carbonintensity.org.uk"
    """GB national /intensity; `actual` when published, else `forecast`."""

    @property
    def signal(self) -> Signal:
        return "average"


class CsvProvider(ProviderBase):
    kind: Literal["csv"]
    path: Path
    """Rows `timestamp,grams_per_kwh` (unix seconds or ISO 8601), in time order."""
    signal: Signal = "average"
    max_age_seconds: float = Field(3600.0, gt=0)


ProviderSettings = Annotated[
    StaticProvider | ElectricityMapsProvider | WattTimeProvider | UkCarbonProvider | CsvProvider,
    Field(discriminator="kind"),
]


class ZoneSettings(Strict):
    providers: list[ProviderSettings] = Field(min_length=1)
    market_grams_per_kwh: float | None = Field(None, ge=0)
    """Market-based factor (renewable contracts), reported as carbon_basis="market"."""

    @model_validator(mode="after")
    def _one_signal(self) -> ZoneSettings:
        signals = {p.signal for p in self.providers}
        if len(signals) > 1:
            raise ValueError(
                "providers mix average and marginal signals; a zone's chain must be of one signal"
            )
        return self

    @property
    def signal(self) -> Signal:
        return self.providers[0].signal


class CarbonSettings(Strict):
    zones: dict[str, ZoneSettings] = {}
