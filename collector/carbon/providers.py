"""Static, Electricity Maps v3, UK Carbon Intensity and CSV replay providers (average signal).

WattTime (marginal, with login) lives in watttime.py. Each parse_* is pure over the documented
response shape and raises a `parse` PayloadError on anything else, `invalid_value` on a
negative or non-finite intensity.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from collector.carbon.base import HttpZoneProvider, ZoneProvider
from collector.models import IntensitySample, ReadResult
from collector.settings import (
    CsvProvider,
    ElectricityMapsProvider,
    StaticProvider,
    UkCarbonProvider,
    read_secret,
)
from collector.sources import PayloadError, SourceFailure
from collector.sources.values import intensity, iso_timestamp


class Static(ZoneProvider):
    kind = "static"

    def __init__(self, s: StaticProvider, zone: str, clock: Callable[[], float]) -> None:
        super().__init__(s, zone, clock)
        self._grams = s.grams_per_kwh

    async def fetch(self) -> None:
        return None

    def parse(self, raw: None, t: float) -> ReadResult:
        return self.result((IntensitySample(self.zone, self.kind, self.signal, t, self._grams),))


def _em_point(zone: str, p: Any, now: float) -> IntensitySample:
    if not isinstance(p, dict):
        raise PayloadError(f"electricitymaps: expected an object, got {p!r}")
    t = iso_timestamp(p.get("datetime"))
    grams = intensity(p.get("carbonIntensity"), "electricitymaps carbonIntensity")
    est = bool(p.get("isEstimated", False))
    return IntensitySample(zone, "electricitymaps", "average", t, grams, now, est)


def parse_electricitymaps(doc: Any, zone: str, now: float) -> tuple[IntensitySample, ...]:
    """`/latest` -> one point; `/history` -> {history: [...]} in time order."""
    if isinstance(doc, dict) and "history" in doc:
        hist = doc["history"]
        if not isinstance(hist, list) or not hist:
            raise PayloadError("electricitymaps: empty history")
        points = [
            _em_point(zone, p, now)
            for p in hist
            if not isinstance(p, dict) or p.get("carbonIntensity") is not None
        ]
        return tuple(sorted(points, key=lambda s: s.t))
    return (_em_point(zone, doc, now),)


class ElectricityMaps(HttpZoneProvider):
    kind = "electricitymaps"

    def __init__(self, s: ElectricityMapsProvider, zone: str, clock: Callable[[], float]) -> None:
        super().__init__(s, zone, clock)
        self._s = s

    async def fetch(self) -> Any:
        url = f"{self._s.url.rstrip('/')}/v3/carbon-intensity/{self._s.endpoint}"
        token = read_secret(self._s.token, self._s.token_file, "electricitymaps token")
        headers = {"auth-token": token} if token else {}
        return await self.http.get_json(url, params={"zone": self._s.zone}, headers=headers)

    def parse(self, raw: Any, t: float) -> ReadResult:
        return self.result(parse_electricitymaps(raw, self.zone, t))


def parse_uk(doc: Any, zone: str, now: float) -> tuple[IntensitySample, ...]:
    """GB `/intensity`: {data: [{from, to, intensity: {forecast, actual|null, index}}]}."""
    try:
        entry = doc["data"][0]
        inten = entry["intensity"]
        t = iso_timestamp(entry["from"])
    except (KeyError, IndexError, TypeError, PayloadError) as exc:
        raise PayloadError(f"uk: unexpected shape ({exc!r})") from None
    if not isinstance(inten, dict):
        raise PayloadError(f"uk: intensity is not an object: {inten!r}")
    actual = inten.get("actual")
    estimated = actual is None
    grams = intensity(inten.get("forecast") if estimated else actual, "uk intensity")
    return (IntensitySample(zone, "uk", "average", t, grams, now, estimated),)


class UkCarbon(HttpZoneProvider):
    kind = "uk"

    def __init__(self, s: UkCarbonProvider, zone: str, clock: Callable[[], float]) -> None:
        super().__init__(s, zone, clock)
        self._url = f"{s.url.rstrip('/')}/intensity"

    async def fetch(self) -> Any:
        return await self.http.get_json(self._url)

    def parse(self, raw: Any, t: float) -> ReadResult:
        return self.result(parse_uk(raw, self.zone, t))


def load_csv(path: Path) -> list[tuple[float, float]]:
    """(timestamp, g/kWh) rows; a header row is allowed; bad rows name their line."""
    rows: list[tuple[float, float]] = []
    with path.open(newline="", encoding="utf-8") as f:
        for lineno, row in enumerate(csv.reader(f), start=1):
            if not row or row[0].startswith("#"):
                continue
            try:
                digits = row[0].replace(".", "", 1).isdigit()
                ts = float(row[0]) if digits else iso_timestamp(row[0])
                grams = float(row[1])
            except (ValueError, IndexError):
                if lineno == 1:
                    continue  # header
                raise ValueError(f"{path}:{lineno}: expected timestamp,grams_per_kwh") from None
            rows.append((ts, intensity(grams, f"{path}:{lineno}: grams_per_kwh")))
    return sorted(rows)


class CsvReplay(ZoneProvider):
    """Replays a recorded series: the value in force at `now` is the last row at or before it."""

    kind = "csv"

    def __init__(self, s: CsvProvider, zone: str, clock: Callable[[], float]) -> None:
        super().__init__(s, zone, clock)
        self._path = s.path
        self._rows: list[tuple[float, float]] | None = None

    async def fetch(self) -> list[tuple[float, float]]:
        if self._rows is None:  # loaded on first use: a bad file is this provider's error
            try:
                self._rows = load_csv(self._path)
            except OSError as exc:
                raise SourceFailure("config", f"csv: cannot read {self._path}: {exc}") from None
            except PayloadError:
                raise
            except ValueError as exc:
                raise PayloadError(str(exc)) from None
        return self._rows

    def parse(self, raw: list[tuple[float, float]], t: float) -> ReadResult:
        past = [r for r in raw if r[0] <= t]
        if not past:
            raise PayloadError("csv: no row at or before now", "empty")
        ts, grams = past[-1]
        point = IntensitySample(self.zone, self.kind, self.signal, ts, grams, t)
        return self.result((point,))
