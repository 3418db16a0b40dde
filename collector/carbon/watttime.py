"""WattTime v3: marginal intensity (lbs CO2/MWh -> g/kWh via collector.units) and the
signal-index percentile, which is a relative 0-100 index exposed as such and never as grams.

Login is HTTP Basic on /login and returns a bearer token valid ~30 minutes; the token is
renewed before `token_refresh_seconds` and once more when a data call answers 401.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from collector.carbon.base import ProviderError, ProviderReading, get_json, iso_ts, number
from collector.models import IntensitySample, Signal, SignalIndexSample
from collector.settings import WattTimeProvider, read_secret
from collector.units import grams_per_kwh_from_lbs_per_mwh

LBS_UNITS = "lbs_co2_per_mwh"


def _points(doc: Any, what: str) -> list[tuple[float, float]]:
    try:
        data = doc["data"]
        pts = [(iso_ts(p["point_time"]), number(p["value"], what)) for p in data]
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError("parse", f"watttime {what}: unexpected shape ({exc!r})") from None
    if not pts:
        raise ProviderError("empty", f"watttime {what}: no data points")
    return sorted(pts)


def _units(doc: Any) -> str:
    meta = doc.get("meta") if isinstance(doc, dict) else None
    return str(meta.get("units", "")) if isinstance(meta, dict) else ""


def parse_marginal(doc: Any, zone: str, now: float) -> IntensitySample:
    """The point in force at `now` (the last at or before it, else the first) in g/kWh."""
    units = _units(doc)
    if units != LBS_UNITS:
        raise ProviderError("parse", f"watttime: units {units!r}, expected {LBS_UNITS!r}")
    pts = _points(doc, "marginal")
    past = [p for p in pts if p[0] <= now]
    t, lbs = past[-1] if past else pts[0]
    grams = grams_per_kwh_from_lbs_per_mwh(lbs)
    return IntensitySample(zone, "watttime", "marginal", t, grams, now, t > now)


def parse_signal_index(doc: Any, zone: str) -> SignalIndexSample:
    units = _units(doc)
    if units != "percentile":
        raise ProviderError("parse", f"watttime signal-index: units {units!r}, not percentile")
    t, value = _points(doc, "signal-index")[-1]
    return SignalIndexSample(zone, "watttime", t, value, "percentile")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


class WattTime:
    kind = "watttime"
    signal: Signal = "marginal"

    def __init__(self, s: WattTimeProvider) -> None:
        self._s = s
        self._token: str | None = None
        self._token_at = 0.0
        self.logins = 0

    async def _login(self, c: httpx.AsyncClient, now: float) -> str:
        password = read_secret(self._s.password, self._s.password_file, "watttime password")
        auth = httpx.BasicAuth(self._s.username or "", password or "")
        doc = await get_json(c, f"{self._s.url.rstrip('/')}/login", auth=auth)
        token = doc.get("token") if isinstance(doc, dict) else None
        if not isinstance(token, str):
            raise ProviderError("auth", "watttime /login: no token in the answer")
        self._token, self._token_at = token, now
        self.logins += 1
        return token

    async def _get(
        self, c: httpx.AsyncClient, path: str, params: dict[str, str], now: float
    ) -> Any:
        if self._token is None or now - self._token_at >= self._s.token_refresh_seconds:
            await self._login(c, now)
        url = f"{self._s.url.rstrip('/')}{path}"
        try:
            return await get_json(c, url, params=params, headers=self._auth())
        except ProviderError as exc:
            if exc.kind != "auth":
                raise
        await self._login(c, now)  # expired early: one fresh login, then give up
        return await get_json(c, url, params=params, headers=self._auth())

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def fetch(self, zone: str, now: float) -> ProviderReading:
        params = {"region": self._s.region, "signal_type": "co2_moer"}
        if self._s.endpoint == "historical":
            params["start"] = _iso(now - 3600.0)
            params["end"] = _iso(now)
        async with httpx.AsyncClient(timeout=self._s.timeout_seconds) as c:
            doc = await self._get(c, f"/v3/{self._s.endpoint}", params, now)
            sample = parse_marginal(doc, zone, now)
            indices: tuple[SignalIndexSample, ...] = ()
            if self._s.signal_index:
                idx = await self._get(c, "/v3/signal-index", params, now)
                indices = (parse_signal_index(idx, zone),)
        return ProviderReading((sample,), indices)
