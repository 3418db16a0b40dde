"""Static, Electricity Maps v3, UK Carbon Intensity and CSV replay providers (average signal).

WattTime (marginal, with login) lives in watttime.py. Each parse_* is pure over the documented
response shape and raises ProviderError("parse") on anything else.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import httpx

from collector.carbon.base import ProviderError, ProviderReading, get_json, iso_ts, number
from collector.models import IntensitySample, Signal
from collector.settings import (
    CsvProvider,
    ElectricityMapsProvider,
    StaticProvider,
    UkCarbonProvider,
    read_secret,
)


class Static:
    kind = "static"

    def __init__(self, s: StaticProvider) -> None:
        self.signal: Signal = s.signal
        self._grams = s.grams_per_kwh

    async def fetch(self, zone: str, now: float) -> ProviderReading:
        return ProviderReading((IntensitySample(zone, self.kind, self.signal, now, self._grams),))


def _em_point(zone: str, p: Any, now: float) -> IntensitySample:
    if not isinstance(p, dict):
        raise ProviderError("parse", f"electricitymaps: expected an object, got {p!r}")
    try:
        t = iso_ts(p.get("datetime"))
    except ValueError as exc:
        raise ProviderError("parse", f"electricitymaps: {exc}") from None
    grams = number(p.get("carbonIntensity"), "electricitymaps carbonIntensity")
    est = bool(p.get("isEstimated", False))
    return IntensitySample(zone, "electricitymaps", "average", t, grams, now, est)


def parse_electricitymaps(doc: Any, zone: str, now: float) -> tuple[IntensitySample, ...]:
    """`/latest` -> one point; `/history` -> {history: [...]} in time order."""
    if isinstance(doc, dict) and "history" in doc:
        hist = doc["history"]
        if not isinstance(hist, list) or not hist:
            raise ProviderError("parse", "electricitymaps: empty history")
        points = [
            _em_point(zone, p, now)
            for p in hist
            if not isinstance(p, dict) or p.get("carbonIntensity") is not None
        ]
        return tuple(sorted(points, key=lambda s: s.t))
    return (_em_point(zone, doc, now),)


class ElectricityMaps:
    kind = "electricitymaps"
    signal: Signal = "average"

    def __init__(self, s: ElectricityMapsProvider) -> None:
        self._s = s

    async def fetch(self, zone: str, now: float) -> ProviderReading:
        url = f"{self._s.url.rstrip('/')}/v3/carbon-intensity/{self._s.endpoint}"
        token = read_secret(self._s.token, self._s.token_file, "electricitymaps token")
        headers = {"auth-token": token} if token else {}
        async with httpx.AsyncClient(timeout=self._s.timeout_seconds) as c:
            doc = await get_json(c, url, params={"zone": self._s.zone}, headers=headers)
        return ProviderReading(parse_electricitymaps(doc, zone, now))


def parse_uk(doc: Any, zone: str, now: float) -> tuple[IntensitySample, ...]:
    """GB `/intensity`: {data: [{from, to, intensity: {forecast, actual|null, index}}]}."""
    try:
        entry = doc["data"][0]
        inten = entry["intensity"]
        t = iso_ts(entry["from"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ProviderError("parse", f"uk: unexpected shape ({exc!r})") from None
    if not isinstance(inten, dict):
        raise ProviderError("parse", f"uk: intensity is not an object: {inten!r}")
    actual = inten.get("actual")
    estimated = actual is None
    grams = number(inten.get("forecast") if estimated else actual, "uk intensity")
    return (IntensitySample(zone, "uk", "average", t, grams, now, estimated),)


class UkCarbon:
    kind = "uk"
    signal: Signal = "average"

    def __init__(self, s: UkCarbonProvider) -> None:
        self._s = s

    async def fetch(self, zone: str, now: float) -> ProviderReading:
        async with httpx.AsyncClient(timeout=self._s.timeout_seconds) as c:
            doc = await get_json(c, f"{self._s.url.rstrip('/')}/intensity")
        return ProviderReading(parse_uk(doc, zone, now))


def load_csv(path: Path) -> list[tuple[float, float]]:
    """(timestamp, g/kWh) rows; a header row is allowed; bad rows name their line."""
    rows: list[tuple[float, float]] = []
    with path.open(newline="", encoding="utf-8") as f:
        for lineno, row in enumerate(csv.reader(f), start=1):
            if not row or row[0].startswith("#"):
                continue
            try:
                ts = float(row[0]) if row[0].replace(".", "", 1).isdigit() else iso_ts(row[0])
                rows.append((ts, float(row[1])))
            except (ValueError, IndexError):
                if lineno == 1:
                    continue  # header
                raise ValueError(f"{path}:{lineno}: expected timestamp,grams_per_kwh") from None
    return sorted(rows)


class CsvReplay:
    """Replays a recorded series: the value in force at `now` is the last row at or before it."""

    kind = "csv"

    def __init__(self, s: CsvProvider) -> None:
        self.signal: Signal = s.signal
        self._path = s.path
        self._rows: list[tuple[float, float]] | None = None

    async def fetch(self, zone: str, now: float) -> ProviderReading:
        if self._rows is None:  # loaded on first use: a bad file is this provider's error
            try:
                self._rows = load_csv(self._path)
            except OSError as exc:
                raise ProviderError("config", f"csv: cannot read {self._path}: {exc}") from None
            except ValueError as exc:
                raise ProviderError("parse", str(exc)) from None
        past = [r for r in self._rows if r[0] <= now]
        if not past:
            raise ProviderError("empty", "csv: no row at or before now")
        t, g = past[-1]
        return ProviderReading((IntensitySample(zone, self.kind, self.signal, t, g, now),))
