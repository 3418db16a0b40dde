"""Measured inputs from the attributor's store over a period: energy per request of the model and
of the access network, bytes per request, request rates, and transport J per byte and km.

Only *covered* windows count: windows inside the period in which every NF the app used was
measured (none stale). A stale NF's energy is not estimated while its requests still count, so
including those windows would make a request look cheaper than it was. Each app's figures come
with the share of the period covered and, when they cannot be trusted, a named refusal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from collector.placement.inputs import MeasuredClass
from collector.placement.measured import split_per_request
from collector.settings import PlacementSettings
from collector.store import Store

REASONS = (
    "period_not_covered",
    "no_requests",
    "too_few_requests",
    "mostly_unattributed",
    "no_inference_energy",
    "no_solution",
)
"""Every named reason an app's advice can be refused for (the `reason` label)."""


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class AppInputs:
    """What the store says about one app over the covered windows of a period."""

    app: str
    covered_seconds: float
    coverage_ratio: float
    requests: float
    requests_per_second: float | None
    model_joules_per_request: float | None
    access_joules_per_request: float | None
    bytes_per_request: float | None
    co2_grams_per_request: float | None
    """Location basis, measured at the app's own NFs; None when any of its CO2 was missing."""
    unattributed_ratio: float | None
    """Unattributed / measured energy of the app's NFs in the covered windows."""
    nfs: tuple[str, ...]
    model_nfs: tuple[str, ...]
    energy_basis: tuple[str, ...]
    refusal: Refusal | None = None


@dataclass(frozen=True, slots=True)
class TransportInputs:
    """The configured wide-area segment: its NFs' attributed joules over the bytes they carried."""

    nfs: tuple[str, ...]
    path_km: float
    covered_seconds: float
    joules: float
    bytes: float
    joules_per_byte_km: float | None
    """None when the segment carried no tagged bytes in covered windows."""


def _placeholders(n: int) -> str:
    return ", ".join("?" * n)


class StoreSource:
    """Reads one period [start, end) of a store (a window belongs to it when it starts inside).

    Implements `MeasuredSource` (`roles`, `app`) over the covered windows, so the replay path's
    model/access split applies unchanged.
    """

    def __init__(self, store: Store, start: float, end: float) -> None:
        self.store, self.start, self.end = store, start, end
        self.seconds = end - start
        self.roles: dict[str, str] = {
            str(nf): str(role)
            for nf, role in self._q(
                "SELECT DISTINCT nf, role FROM nf_window"
                " WHERE window_start >= ? AND window_start < ?",
                (start, end),
            )
        }
        self._has_traffic = bool(
            self._q("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'traffic_window'")
        )
        self._entries: dict[str, dict[str, Any]] = {}

    def _q(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.store.query(sql, params)

    def _covered(self, nfs: tuple[str, ...]) -> tuple[str, tuple[Any, ...], float]:
        """SQL selecting the covered window starts, its parameters, and the covered seconds."""
        if nfs:
            sql = (
                "SELECT window_start FROM nf_window WHERE window_start >= ? AND window_start < ?"
                f" AND nf IN ({_placeholders(len(nfs))}) GROUP BY window_start"
                " HAVING sum(stale = 0) = ?"
            )
            params: tuple[Any, ...] = (self.start, self.end, *nfs, len(nfs))
        else:
            sql = "SELECT window_start FROM windows WHERE window_start >= ? AND window_start < ?"
            params = (self.start, self.end)
        ((seconds,),) = self._q(
            f"SELECT total(window_seconds) FROM windows WHERE window_start IN ({sql})", params
        )
        return sql, params, float(seconds)

    def app_nfs(self, app: str) -> tuple[str, ...]:
        """NFs where the app had energy or tagged traffic in the period."""
        sql = (
            "SELECT DISTINCT nf FROM app_window"
            " WHERE app = ? AND window_start >= ? AND window_start < ?"
        )
        if self._has_traffic:
            sql += " UNION " + sql.replace("app_window", "traffic_window")
        params = (app, self.start, self.end) * (2 if self._has_traffic else 1)
        return tuple(sorted(str(nf) for (nf,) in self._q(sql, params)))

    def app(self, name: str) -> dict[str, Any]:
        """The replay-shaped entry over the app's covered windows (`MeasuredSource`)."""
        if name not in self._entries:
            self._entries[name] = self._entry(name)
        return self._entries[name]

    def _entry(self, app: str) -> dict[str, Any]:
        nfs = self.app_nfs(app)
        cov, params, seconds = self._covered(nfs)
        energy = self._q(
            "SELECT nf, role, total(static_joules + dynamic_joules), total(co2_grams),"
            " count(co2_grams) < count(*) FROM app_window WHERE app = ?"
            f" AND window_start IN ({cov}) GROUP BY nf, role",
            (app, *params),
        )
        ((requests,),) = self._q(
            "SELECT total(requests) FROM requests_window"
            f" WHERE app = ? AND window_start IN ({cov})",
            (app, *params),
        )
        per_nf: dict[str, dict[str, Any]] = {
            str(nf): {"joules": float(j), "role": str(role), "bytes": 0.0}
            for nf, role, j, _, _ in energy
        }
        if self._has_traffic:
            for nf, b in self._q(
                "SELECT nf, total(bytes) FROM traffic_window WHERE app = ?"
                f" AND window_start IN ({cov}) GROUP BY nf",
                (app, *params),
            ):
                per_nf.setdefault(str(nf), {"joules": 0.0, "role": self.roles.get(str(nf))})
                per_nf[str(nf)]["bytes"] = float(b)
        co2_missing = any(bool(m) for *_, m in energy)
        return {
            "requests": float(requests),
            "joules": sum(v["joules"] for v in per_nf.values()),
            "co2_grams": None if co2_missing else sum(float(c) for *_, c, _ in energy),
            "bytes": max((v["bytes"] for v in per_nf.values()), default=0.0),
            "nfs": per_nf,
            "covered_seconds": seconds,
            "app_nfs": nfs,
            "unattributed": self._unattributed(nfs, cov, params),
        }

    def _unattributed(
        self, nfs: tuple[str, ...], cov: str, params: tuple[Any, ...]
    ) -> tuple[float, float, str | None, tuple[str, ...]]:
        """(measured J, unattributed J, the NF with the largest unattributed share, bases)."""
        if not nfs:
            return 0.0, 0.0, None, ()
        rows = self._q(
            "SELECT nf, max(energy_basis), total(measured_joules),"
            " total(untagged_joules + idle_no_traffic_joules + catch_up_joules)"
            f" FROM nf_window WHERE nf IN ({_placeholders(len(nfs))})"
            f" AND window_start IN ({cov}) GROUP BY nf",
            (*nfs, *params),
        )
        measured = sum(float(m) for _, _, m, _ in rows)
        unattributed = sum(float(u) for *_, u in rows)
        worst = max(rows, key=lambda r: float(r[3]) / float(r[2]) if r[2] else 0.0, default=None)
        bases = tuple(sorted({str(b) for _, b, _, _ in rows}))
        return measured, unattributed, None if worst is None else str(worst[0]), bases

    def measure(self, app: str, spec: MeasuredClass, limits: PlacementSettings) -> AppInputs:
        """The app's inputs, refused with a named reason when they cannot be trusted."""
        e = self.app(app)
        n = e["requests"]
        covered = e["covered_seconds"]
        measured, unattributed, worst, bases = e["unattributed"]
        roles = {nf: v["role"] for nf, v in e["nfs"].items() if v["role"]} | self.roles
        model_nfs = {nf for nf, r in roles.items() if r == "inference"} | set(spec.inference_nfs)
        model_nfs &= {nf for nf, v in e["nfs"].items() if v["joules"] > 0}
        model = access = None
        if n > 0 and model_nfs:
            model, access = split_per_request(self, spec, f"store {self.store.path}")
        inputs = AppInputs(
            app=app,
            covered_seconds=covered,
            coverage_ratio=covered / self.seconds,
            requests=n,
            requests_per_second=n / covered if covered > 0 else None,
            model_joules_per_request=model,
            access_joules_per_request=access,
            bytes_per_request=e["bytes"] / n if n > 0 and e["bytes"] > 0 else None,
            co2_grams_per_request=None if e["co2_grams"] is None or n <= 0 else e["co2_grams"] / n,
            unattributed_ratio=unattributed / measured if measured > 0 else None,
            nfs=e["app_nfs"],
            model_nfs=tuple(sorted(model_nfs)),
            energy_basis=bases,
        )
        refusal = self._refusal(inputs, limits, worst)
        return inputs if refusal is None else replace(inputs, refusal=refusal)

    def _refusal(
        self, a: AppInputs, limits: PlacementSettings, worst: str | None
    ) -> Refusal | None:
        span = f"[{self.start:.0f}, {self.end:.0f})"
        if a.coverage_ratio < limits.min_coverage_ratio:
            return Refusal(
                "period_not_covered",
                f"{a.app}: windows in which all of its NFs ({', '.join(a.nfs) or 'none seen'})"
                f" were measured cover {a.covered_seconds:.0f} s of the {self.seconds:.0f} s"
                f" period {span} ({a.coverage_ratio:.1%}; minimum {limits.min_coverage_ratio:.0%})",
            )
        if a.requests <= 0:
            return Refusal(
                "no_requests",
                f"{a.app}: no requests in the covered windows of {span}, so energy per request is"
                " undefined",
            )
        if a.requests < limits.min_requests:
            return Refusal(
                "too_few_requests",
                f"{a.app}: {a.requests:.0f} requests in the covered windows of {span}"
                f" (minimum {limits.min_requests:.0f})",
            )
        if (
            a.unattributed_ratio is not None
            and a.unattributed_ratio > limits.max_unattributed_ratio
        ):
            return Refusal(
                "mostly_unattributed",
                f"{a.app}: {a.unattributed_ratio:.1%} of the energy measured at its NFs in {span}"
                f" is unattributed (maximum {limits.max_unattributed_ratio:.0%}; most at {worst})",
            )
        if not a.model_nfs:
            return Refusal(
                "no_inference_energy",
                f"{a.app}: no energy at an inference NF among {', '.join(a.nfs) or 'none'}"
                " in the covered windows; name its model's NFs in"
                f" placement.apps.{a.app}.inference_nfs",
            )
        return None

    def transport(self, nfs: list[str], path_km: float) -> TransportInputs:
        """Attributed joules of all apps at the segment's NFs over the bytes they carried there
        (per app the largest over the segment's NFs: each NF on a path counts the same packets),
        in the windows where every segment NF was measured, per km of the segment."""
        seg = tuple(nfs)
        cov, params, seconds = self._covered(seg)
        marks = _placeholders(len(seg))
        ((joules,),) = self._q(
            "SELECT total(static_joules + dynamic_joules) FROM app_window"
            f" WHERE nf IN ({marks}) AND window_start IN ({cov})",
            (*seg, *params),
        )
        per_app: dict[str, float] = {}
        if self._has_traffic:
            for app, _, b in self._q(
                "SELECT app, nf, total(bytes) FROM traffic_window"
                f" WHERE nf IN ({marks}) AND window_start IN ({cov}) GROUP BY app, nf",
                (*seg, *params),
            ):
                per_app[str(app)] = max(per_app.get(str(app), 0.0), float(b))
        total_bytes = sum(per_app.values())
        return TransportInputs(
            nfs=seg,
            path_km=path_km,
            covered_seconds=seconds,
            joules=float(joules),
            bytes=total_bytes,
            joules_per_byte_km=float(joules) / (total_bytes * path_km) if total_bytes > 0 else None,
        )
