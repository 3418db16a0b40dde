"""The SQL behind the query API: sums over the windows that start inside [start, end)."""

from __future__ import annotations

import threading
from typing import Any

from collector.outputs import api_models as m
from collector.store import Store


class Reader:
    """Read-only queries; one lock because a sqlite3 connection is not safe across threads."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()

    def _q(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.store.query(sql, params)

    def window_count(self) -> tuple[int, float | None]:
        ((n, last),) = self._q("SELECT count(*), max(window_start) FROM windows")
        return int(n or 0), None if last is None else float(last)

    def app_exists(self, app: str) -> bool:
        found = self._q("SELECT 1 FROM app_window WHERE app = ? LIMIT 1", (app,))
        found = found or self._q("SELECT 1 FROM requests_window WHERE app = ? LIMIT 1", (app,))
        return bool(found)

    def _requests(self, start: float, end: float) -> dict[str, float]:
        rows = self._q(
            "SELECT app, sum(requests) FROM requests_window"
            " WHERE window_start >= ? AND window_start < ? GROUP BY app",
            (start, end),
        )
        return {str(a): float(n or 0.0) for a, n in rows}

    def app_totals(self, start: float, end: float) -> list[m.AppTotal]:
        rows = self._q(
            "SELECT app, sum(static_joules), sum(dynamic_joules), total(co2_grams),"
            " total(co2_market_grams),"
            " total(CASE WHEN co2_grams IS NULL THEN static_joules + dynamic_joules END),"
            " total(embodied_grams)"
            " FROM app_window WHERE window_start >= ? AND window_start < ?"
            " GROUP BY app ORDER BY app",
            (start, end),
        )
        requests = self._requests(start, end)
        out: dict[str, m.AppTotal] = {}
        for app, st, dy, co2, mkt, missing, emb in rows:
            joules = float(st) + float(dy)
            n = requests.get(str(app), 0.0)
            out[str(app)] = m.AppTotal(
                app=str(app),
                joules=joules,
                static_joules=st,
                dynamic_joules=dy,
                co2_grams=co2,
                co2_grams_market=mkt,
                co2_missing_joules=missing,
                embodied_grams=emb,
                requests=n,
                joules_per_request=joules / n if n > 0 else None,
            )
        for app, n in requests.items():
            if app not in out:
                out[app] = m.AppTotal(
                    app=app,
                    joules=0,
                    static_joules=0,
                    dynamic_joules=0,
                    co2_grams=0,
                    co2_grams_market=0,
                    co2_missing_joules=0,
                    embodied_grams=0,
                    requests=n,
                    joules_per_request=0.0,
                )
        return [out[k] for k in sorted(out)]

    def app_series(
        self, app: str, start: float, end: float, limit: int, offset: int
    ) -> tuple[int, list[m.SeriesPoint]]:
        where = "WHERE app = ? AND window_start >= ? AND window_start < ?"
        ((total,),) = self._q(f"SELECT count(*) FROM app_window {where}", (app, start, end))
        rows = self._q(
            "SELECT window_start, nf, role, direction, static_joules, dynamic_joules, co2_grams,"
            f" co2_market_grams FROM app_window {where}"
            " ORDER BY window_start, nf, direction LIMIT ? OFFSET ?",
            (app, start, end, limit, offset),
        )
        items = [
            m.SeriesPoint(
                window_start=w,
                nf=nf,
                role=role,
                direction=d,
                static_joules=st,
                dynamic_joules=dy,
                joules=float(st) + float(dy),
                co2_grams=co2,
                co2_grams_market=mkt,
            )
            for w, nf, role, d, st, dy, co2, mkt in rows
        ]
        return int(total), items

    def per_request(self, app: str, start: float, end: float) -> m.PerRequest:
        totals = {t.app: t for t in self.app_totals(start, end)}
        t = totals.get(app)
        joules = t.joules if t else 0.0
        n = t.requests if t else 0.0
        co2 = t.co2_grams if t else 0.0
        emb = t.embodied_grams if t else 0.0
        # Missing CO2 is never zero (docs/explanation/attribution.md): with any of it missing,
        # per-request CO2 and SCI are undefined rather than understated.
        known = n > 0 and not (t and t.co2_missing_joules > 0)
        return m.PerRequest(
            app=app,
            start=start,
            end=end,
            joules=joules,
            requests=n,
            joules_per_request=joules / n if n > 0 else None,
            co2_grams_per_request=co2 / n if known else None,
            sci_grams_per_request=(co2 + emb) / n if known else None,
        )

    def nf_totals(self, start: float, end: float) -> list[m.NfTotal]:
        rows = self._q(
            "SELECT nf, role, max(energy_basis), max(denominator), sum(measured_joules),"
            " sum(attributed_joules), sum(untagged_joules), sum(idle_no_traffic_joules),"
            " sum(catch_up_joules), sum(unmeasured_seconds), max(conservation_error_ratio)"
            " FROM nf_window WHERE window_start >= ? AND window_start < ?"
            " GROUP BY nf, role ORDER BY nf",
            (start, end),
        )
        out = []
        for nf, role, basis, den, meas, attr, unt, idle, catch, unmeas, err in rows:
            reasons = m.Unattributed(untagged=unt, idle_no_traffic=idle, catch_up=catch)
            out.append(
                m.NfTotal(
                    nf=nf,
                    role=role,
                    energy_basis=basis,
                    denominator=den,
                    measured_joules=meas,
                    attributed_joules=attr,
                    unattributed_joules=float(unt) + float(idle) + float(catch),
                    unattributed_by_reason=reasons,
                    unmeasured_seconds=unmeas,
                    max_conservation_error_ratio=err,
                )
            )
        return out
