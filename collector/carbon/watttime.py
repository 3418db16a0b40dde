"""WattTime v3: marginal intensity (lbs CO2/MWh -> g/kWh via collector.units) and the
signal-index percentile, which is a relative 0-100 index exposed as such and never as grams.

Login is HTTP Basic on /login and returns a bearer token valid ~30 minutes; the token is
renewed before `token_refresh_seconds` and once more when a data call answers 401.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from collector.carbon.base import HttpZoneProvider
from collector.models import IntensitySample, ReadResult, SignalIndexSample
from collector.settings import WattTimeProvider, read_secret
from collector.sources import PayloadError, SourceFailure
from collector.sources.values import intensity, iso_timestamp, reading
from collector.units import grams_per_kwh_from_lbs_per_mwh

LBS_UNITS = "lbs_co2_per_mwh"


def _points(doc: Any, what: str) -> list[tuple[float, float]]:
    try:
        data = doc["data"]
        pts = [(iso_timestamp(p["point_time"]), p["value"]) for p in data]
    except (KeyError, TypeError, PayloadError) as exc:
        raise PayloadError(f"watttime {what}: unexpected shape ({exc!r})") from None
    if not pts:
        raise PayloadError(f"watttime {what}: no data points", "empty")
    pts = [(t, reading(v, f"watttime {what} value")) for t, v in pts]
    return sorted(pts)


def _units(doc: Any) -> str:
    meta = doc.get("meta") if isinstance(doc, dict) else None
    return str(meta.get("units", "")) if isinstance(meta, dict) else ""


def parse_marginal(doc: Any, zone: str, now: float) -> IntensitySample:
    """The point in force at `now` (the last at or before it, else the first) in g/kWh."""
    units = _units(doc)
    if units != LBS_UNITS:
        raise PayloadError(f"watttime: units {units!r}, expected {LBS_UNITS!r}")
    pts = _points(doc, "marginal")
    past = [p for p in pts if p[0] <= now]
    t, lbs = past[-1] if past else pts[0]
    grams = intensity(grams_per_kwh_from_lbs_per_mwh(lbs), "watttime marginal g/kWh")
    return IntensitySample(zone, "watttime", "marginal", t, grams, now, t > now)


def parse_signal_index(doc: Any, zone: str) -> SignalIndexSample:
    units = _units(doc)
    if units != "percentile":
        raise PayloadError(f"watttime signal-index: units {units!r}, not percentile")
    t, value = _points(doc, "signal-index")[-1]
    return SignalIndexSample(zone, "watttime", t, value, "percentile")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


class WattTime(HttpZoneProvider):
    kind = "watttime"

    def __init__(self, s: WattTimeProvider, zone: str, clock: Callable[[], float]) -> None:
        super().__init__(s, zone, clock)
        self._s = s
        self._base = s.url.rstrip("/")
        self._token: str | None = None
        self._token_at = 0.0

    async def _login(self, now: float) -> None:
        password = read_secret(self._s.password, self._s.password_file, "watttime password")
        basic = (self._s.username or "", password or "")
        doc = await self.http.get_json(f"{self._base}/login", basic=basic)
        token = doc.get("token") if isinstance(doc, dict) else None
        if not isinstance(token, str):
            raise SourceFailure("auth", "watttime /login: no token in the answer")
        self._token, self._token_at = token, now

    async def _get(self, path: str, params: dict[str, str], now: float) -> Any:
        if self._token is None or now - self._token_at >= self._s.token_refresh_seconds:
            await self._login(now)
        try:
            return await self.http.get_json(self._base + path, params=params, headers=self._auth())
        except SourceFailure as exc:
            if exc.kind != "auth":
                raise
        await self._login(now)  # expired early: one fresh login, then give up
        return await self.http.get_json(self._base + path, params=params, headers=self._auth())

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def fetch(self) -> tuple[Any, Any]:
        """The marginal document and, when asked for, the signal-index one."""
        now = self.clock()
        params = {"region": self._s.region, "signal_type": "co2_moer"}
        if self._s.endpoint == "historical":
            params["start"] = _iso(now - 3600.0)
            params["end"] = _iso(now)
        doc = await self._get(f"/v3/{self._s.endpoint}", params, now)
        index = await self._get("/v3/signal-index", params, now) if self._s.signal_index else None
        return doc, index

    def parse(self, raw: tuple[Any, Any], t: float) -> ReadResult:
        doc, index = raw
        sample = parse_marginal(doc, self.zone, t)
        indices = () if index is None else (parse_signal_index(index, self.zone),)
        return self.result((sample,), indices)
