"""The replay report: per-app and per-NF sums over a run of snapshots, as JSON-able dicts.

Shared by `e2e-energy replay` and anything else that prints a run (the demo's table).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from collector.attribution.snapshot import APP_COLUMNS, REASONS, Snapshot
from collector.attribution.totals import NO_ZONE


def _num(x: float) -> float:
    return round(float(x), 9)


def _co2(x: float) -> float | None:
    """Grams, or None where the intensity was missing for all of it (never 0: see
    docs/explanation/attribution.md)."""
    return None if math.isnan(x) else _num(x)


def _rows_frame(snaps: Sequence[Snapshot]) -> pd.DataFrame:
    frames = []
    for s in snaps:
        r = s.rows
        data: dict[str, Any] = {"app": r.app, "nf": r.nf}
        data.update({c: getattr(r, c) for c in APP_COLUMNS})
        frames.append(pd.DataFrame(data))
    cols = ["app", "nf", *APP_COLUMNS]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    df["joules"] = df["static_joules"] + df["dynamic_joules"]
    df["co2_missing_joules"] = df["joules"].where(df["co2_grams"].isna(), 0.0)
    return df


def _traffic_frame(snaps: Sequence[Snapshot]) -> pd.DataFrame:
    """Tagged packets and bytes per (app, NF), summed over the run's windows."""
    frames = [
        pd.DataFrame({"app": t.app, "nf": t.nf, "packets": t.packets, "bytes": t.bytes})
        for t in (s.traffic for s in snaps)
        if len(t)
    ]
    if not frames:
        empty = pd.MultiIndex.from_arrays([[], []], names=["app", "nf"])
        return pd.DataFrame({"packets": [], "bytes": []}, index=empty)
    df = pd.concat(frames, ignore_index=True)
    return df.groupby(["app", "nf"], sort=True)[["packets", "bytes"]].sum()


def _per_nf(snaps: Sequence[Snapshot]) -> pd.DataFrame:
    """Energy, CO2 and traffic per (app, NF); an NF where the app had traffic but no energy
    (a stale NF, say) has zero joules and zero CO2."""
    df = _rows_frame(snaps)
    per_nf = df.groupby(["app", "nf"], sort=True).sum(numeric_only=True, min_count=0)
    # CO2 stays nan where every row of an (app, nf) had missing intensity: never zero.
    for c in ("co2_grams", "co2_market_grams"):
        per_nf[c] = df.groupby(["app", "nf"], sort=True)[c].sum(min_count=1)
    traffic = _traffic_frame(snaps)
    out = per_nf.join(traffic, how="outer")
    energy_only = out.index.isin(per_nf.index)
    for c in ("packets", "bytes"):
        out[c] = out[c].fillna(0.0)
    for c in out.columns.difference(["packets", "bytes"]):
        out.loc[~energy_only, c] = 0.0
    return out.sort_index()


def _nf_entry(row: pd.Series) -> dict[str, Any]:
    return {
        "static_joules": _num(row["static_joules"]),
        "dynamic_joules": _num(row["dynamic_joules"]),
        "joules": _num(row["joules"]),
        "co2_grams": _co2(row["co2_grams"]),
        "packets": _num(row["packets"]),
        "bytes": _num(row["bytes"]),
    }


def _apps(snaps: Sequence[Snapshot], market: bool) -> dict[str, Any]:
    requests: dict[str, float] = {}
    for s in snaps:
        for app, n in s.requests.items():
            requests[app] = requests.get(app, 0.0) + n
    out: dict[str, Any] = {}
    per_nf = _per_nf(snaps)
    apps = set(per_nf.index.get_level_values(0)) | set(requests)
    for app in sorted(apps):
        sub = per_nf.loc[app] if app in per_nf.index.get_level_values(0) else per_nf.iloc[0:0]
        joules = float(sub["joules"].sum())
        co2 = float(sub["co2_grams"].sum(min_count=1)) if joules > 0 else 0.0
        embodied = float(sub["embodied_grams"].sum())
        missing = float(sub["co2_missing_joules"].sum())
        n_req = requests.get(app, 0.0)
        entry: dict[str, Any] = {"joules": _num(joules), "co2_grams": _co2(co2)}
        if market:
            co2_m = float(sub["co2_market_grams"].sum(min_count=1)) if joules > 0 else 0.0
            entry["co2_grams_market"] = _co2(co2_m)
        entry.update(
            co2_missing_joules=_num(missing),
            embodied_grams=_num(embodied),
            requests=_num(n_req),
            joules_per_request=_num(joules / n_req) if n_req > 0 else None,
            sci_grams_per_request=_num((co2 + embodied) / n_req)
            if n_req > 0 and missing == 0
            else None,
            # every packet is counted at each NF on its path: the busiest NF sees all of it
            packets=_num(sub["packets"].max()) if len(sub) else 0.0,
            bytes=_num(sub["bytes"].max()) if len(sub) else 0.0,
            nfs={str(nf): _nf_entry(row) for nf, row in sub.iterrows()},
        )
        out[app] = entry
    return out


def _empty_nf(role: str) -> dict[str, Any]:
    reasons = dict.fromkeys(REASONS, 0.0)
    return {
        "role": role,
        "measured_joules": 0.0,
        "attributed_joules": 0.0,
        "unattributed_joules": 0.0,
        "unattributed_by_reason": reasons,
        "unmeasured_seconds": 0.0,
        "max_conservation_error_ratio": 0.0,
    }


def _nfs(snaps: Sequence[Snapshot]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in snaps:
        for w in s.nfs:
            d = out.setdefault(w.nf, _empty_nf(w.role))
            d["measured_joules"] += w.measured_joules
            d["attributed_joules"] += w.attributed_joules
            d["unattributed_joules"] += w.unattributed_joules
            reasons = d["unattributed_by_reason"]
            for reason, v in w.unattributed_by_reason().items():
                reasons[reason] += v
            d["unmeasured_seconds"] += w.unmeasured_seconds
            d["energy_basis"] = w.energy_basis
            d["denominator"] = w.denominator
            d["max_conservation_error_ratio"] = max(
                d["max_conservation_error_ratio"], w.conservation_error_ratio
            )
    for d in out.values():
        for key in ("measured_joules", "attributed_joules", "unattributed_joules"):
            d[key] = _num(d[key])
        d["unattributed_by_reason"] = {k: _num(v) for k, v in d["unattributed_by_reason"].items()}
    return out


def build_report(
    snaps: Sequence[Snapshot], *, market: bool, per_window: bool = False
) -> dict[str, Any]:
    """Sum a run: `apps`, `nfs`, `totals`, and `windows` (one entry per window) on request."""
    apps = _apps(snaps, market)
    nfs = _nfs(snaps)
    missing: dict[str, float] = {}
    for s in snaps:
        for w in s.nfs:
            if w.co2_missing_joules > 0:
                zone = w.zone or NO_ZONE
                missing[zone] = missing.get(zone, 0.0) + w.co2_missing_joules
    totals = {
        "windows": len(snaps),
        "start": snaps[0].window_start if snaps else None,
        "end": snaps[-1].window_end if snaps else None,
        "measured_joules": _num(sum(d["measured_joules"] for d in nfs.values())),
        "attributed_joules": _num(sum(d["attributed_joules"] for d in nfs.values())),
        "unattributed_joules": _num(sum(d["unattributed_joules"] for d in nfs.values())),
        "unmeasured_seconds": _num(sum(d["unmeasured_seconds"] for d in nfs.values())),
        "co2_grams": _num(sum(a["co2_grams"] or 0.0 for a in apps.values())),
        "co2_missing_joules": {z: _num(v) for z, v in sorted(missing.items())},
        "requests": _num(sum(a["requests"] for a in apps.values())),
    }
    report: dict[str, Any] = {"apps": apps, "nfs": nfs, "totals": totals}
    if per_window:
        report["windows"] = [
            {
                "start": s.window_start,
                "end": s.window_end,
                "apps": _apps([s], market),
                "nfs": _nfs([s]),
            }
            for s in snaps
        ]
    return report


def format_table(report: dict[str, Any]) -> str:
    """A plain-text table of the per-app E2E energy and the per-NF accounting."""
    lines = [f"{'app':<24}{'joules':>14}{'gCO2e':>12}{'requests':>10}{'J/request':>12}"]
    for app, a in report["apps"].items():
        jpr = a["joules_per_request"]
        jpr_s = "-" if jpr is None or math.isnan(jpr) else f"{jpr:.3f}"
        co2_s = "-" if a["co2_grams"] is None else f"{a['co2_grams']:.4f}"
        lines.append(f"{app:<24}{a['joules']:>14.3f}{co2_s:>12}{a['requests']:>10.0f}{jpr_s:>12}")
    lines.append("")
    lines.append(
        f"{'nf':<16}{'basis':<10}{'denominator':<13}{'measured J':>14}{'attributed J':>14}"
        f"{'unattributed J':>16}{'unmeasured s':>14}"
    )
    for nf, d in report["nfs"].items():
        lines.append(
            f"{nf:<16}{d['energy_basis']:<10}{d['denominator']:<13}{d['measured_joules']:>14.3f}"
            f"{d['attributed_joules']:>14.3f}{d['unattributed_joules']:>16.3f}"
            f"{d['unmeasured_seconds']:>14.0f}"
        )
    return "\n".join(lines)
