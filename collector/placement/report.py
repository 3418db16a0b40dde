"""JSON-able reports and plain-text tables of solutions, frontiers and break-even rows.

The CLI and the API both render these, so the two always show the same numbers.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from collector.placement.metrics import BreakEven, FrontierPoint, class_summaries, relocatable_share
from collector.placement.solve import Solution, per_hour
from collector.units import JOULES_PER_KWH


def solution_report(sol: Solution) -> dict[str, Any]:
    """Totals per hour, per-class layer split and per-region load of one solution."""
    p = sol.problem
    cfg = p.config
    overall, _ = relocatable_share(p)
    access_j = float(
        sum(c.access_joules_per_request * p.demand[k].sum() for k, c in enumerate(cfg.classes))
    )
    it_kw = sol.it_power_watts() / 1000.0
    flows: dict[str, dict[str, float]] = {}
    for k, name in enumerate(p.classes):
        per_region = sol.flow[k].sum(axis=0)
        flows[name] = {p.regions[r]: float(v) for r, v in enumerate(per_region) if v > 1e-9}
    return {
        "currency": cfg.currency,
        "objective": cfg.objective.model_dump(),
        "objective_per_hour": per_hour(sol.objective_per_second),
        "cost_per_hour": per_hour(sol.total(p.coef.cost)),
        "energy_kwh_per_hour": per_hour(sol.total(p.coef.energy_joules)) / JOULES_PER_KWH,
        "access_energy_kwh_per_hour": per_hour(access_j) / JOULES_PER_KWH,
        "co2_grams_per_hour": per_hour(sol.total(p.coef.carbon_grams)),
        "relocatable_share": overall,
        "classes": [asdict(c) for c in class_summaries(sol)],
        "regions": [
            {
                "name": r.name,
                "it_kw": float(it_kw[j]),
                "capacity_kw": r.capacity_kw,
                "price_per_kwh": r.price_per_kwh,
                "grams_per_kwh_average": r.grams_per_kwh_average,
                "grams_per_kwh_marginal": r.grams_per_kwh_marginal,
            }
            for j, r in enumerate(cfg.regions)
        ],
        "flows_rps": flows,
        "solver": {"variables": sol.variables, "seconds": sol.solve_seconds},
    }


def frontier_report(frontiers: dict[str, list[FrontierPoint]]) -> dict[str, Any]:
    return {name: [asdict(pt) for pt in pts] for name, pts in frontiers.items()}


def break_even_report(rows: list[BreakEven]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        v = v + 0.0 if abs(v) > 1e-12 else 0.0
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
            return f"{v:.3g}"
        return f"{v:.3f}".rstrip("0").rstrip(".") if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def _pct(share: float) -> str:
    value = share * 100.0
    return f"{0.0 if abs(value) < 0.05 else value:.1f}%"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain fixed-width table (no colour, so it stays readable in logs and files)."""
    cells = [headers] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def layer_table(report: dict[str, Any]) -> str:
    cur = report["currency"]
    rows = [
        [
            c["name"],
            c["budget_ms"],
            c["demand_rps"],
            f"{c['relocatable_share'] * 100:.1f}%",
            f"{c['local_share'] * 100:.1f}%",
            f"{c['regional_share'] * 100:.1f}%",
            f"{c['energy_oriented_share'] * 100:.1f}%",
            c["cost_per_million"],
            c["kwh_per_million"],
            c["grams_per_thousand"],
        ]
        for c in report["classes"]
    ]
    return table(
        [
            "class",
            "budget_ms",
            "req/s",
            "relocatable",
            "local",
            "regional",
            "energy-oriented",
            f"{cur}/1M req",
            "kWh/1M req",
            "gCO2e/1k req",
        ],
        rows,
    )


def summary_lines(report: dict[str, Any]) -> str:
    cur = report["currency"]
    return (
        f"objective {report['objective']['kind']} ({report['objective']['signal']} intensity, "
        f"λ = {report['objective']['carbon_price_per_tonne']:g} {cur}/t): "
        f"{report['cost_per_hour']:.4g} {cur}/h, "
        f"{report['energy_kwh_per_hour']:.4g} kWh/h facility+transport "
        f"(+{report['access_energy_kwh_per_hour']:.4g} kWh/h access network), "
        f"{report['co2_grams_per_hour'] / 1000:.4g} kgCO2e/h; "
        f"relocatable demand {report['relocatable_share'] * 100:.1f}%"
    )


def frontier_table(frontiers: dict[str, list[FrontierPoint]], currency: str) -> str:
    rows = []
    for name, pts in frontiers.items():
        for pt in pts:
            if not pt.feasible:
                continue
            rows.append(
                [
                    name,
                    pt.budget_ms,
                    pt.cost_per_million,
                    pt.grams_per_thousand,
                    None if pt.cost_saving_share is None else _pct(pt.cost_saving_share),
                    None if pt.carbon_saving_share is None else _pct(pt.carbon_saving_share),
                    pt.erl_cost_per_million_per_ms,
                    pt.erl_kwh_per_million_per_ms,
                    pt.crl_grams_per_thousand_per_ms,
                ]
            )
    return table(
        [
            "class",
            "budget_ms",
            f"{currency}/1M",
            "g/1k",
            "cost saved",
            "CO2 saved",
            f"ERL {currency}/1M/ms",
            "ERL kWh/1M/ms",
            "CRL g/1k/ms",
        ],
        rows,
    )


def break_even_table_text(rows: list[BreakEven], limit: int = 20) -> str:
    best = sorted(rows, key=lambda r: -r.margin)[:limit]
    return table(
        [
            "class",
            "home",
            "target",
            "km",
            "meter savings/1M",
            "frictions/1M",
            "transport/1M",
            "margin/1M",
            "relocate",
            "break-even bytes",
        ],
        [
            [
                r.cls,
                r.home,
                r.target,
                r.km,
                r.meter_savings,
                r.egress_and_migration,
                r.extra_transport,
                r.margin,
                "yes" if r.relocate else "no",
                r.break_even_payload_bytes,
            ]
            for r in best
        ],
    )
