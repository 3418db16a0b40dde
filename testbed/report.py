"""The demo's numbers: per-application rows, the models' cost, each lever's change.

Input: the attributor's run reports (collector.attribution.report.build_report) for each phase,
the phases' server counters, and the topology. Nothing here measures anything: it arranges
numbers and sets them next to what the seed paper reports ("E2E energy monitoring for AI
inference in mobile networks", its abstract: the only part that is public; see
docs/explanation/background.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from collector.settings import Settings
from collector.units import JOULES_PER_KWH
from testbed.models import MODELS
from testbed.settings import TestbedFile

if TYPE_CHECKING:
    from testbed.demo import Phase

NETWORK_ROLES = ("ru", "du", "cu", "upf")
ROLE_ORDER = ("ru", "du", "cu", "upf", "inference")
ROLE_LABEL = {"ru": "RU", "du": "DU", "cu": "CU", "upf": "UPF", "inference": "server"}

PAPER_SOURCE = "E2E energy monitoring for AI inference in mobile networks (abstract)"
PAPER_RATIO = {"simple": "on par with the model", "complex": "20-30 % of the model's"}
PAPER_ENERGY_SHARE = {"simple": (0.45, 0.55), "complex": (0.17, 0.23)}
PAPER_CO2_SHARE = {"simple": (0.70, 0.89), "complex": (0.60, 0.84)}
PAPER_MAX_REDUCTION = 0.68
"""Energy shares derived from the ratios: 1:1 -> about 50 %; 20-30 % of the model -> 17-23 %."""


@dataclass(frozen=True, slots=True)
class AppRow:
    app: str
    requests: float
    joules_per_request_by_role: dict[str, float]
    network_energy_share: float | None
    network_co2_share: dict[str, float | None]
    dynamic_per_request_by_role: dict[str, float]

    @property
    def joules_per_request(self) -> float:
        return sum(self.joules_per_request_by_role.values())

    @property
    def dynamic_joules_per_request(self) -> float:
        return sum(self.dynamic_per_request_by_role.values())


def app_rows(settings: Settings, run: dict[str, Any]) -> list[AppRow]:
    """Per-app J/request per role and network shares of energy and CO2 (each basis)."""
    role_of = {nf.name: nf.role for nf in settings.nfs}
    rows = []
    for app, entry in sorted(run["apps"].items()):
        if app not in {a.name for a in settings.apps}:
            continue
        n = float(entry.get("requests") or 0.0)
        by_role = {r: 0.0 for r in ROLE_ORDER}
        co2 = {r: 0.0 for r in ROLE_ORDER}
        dynamic = {r: 0.0 for r in ROLE_ORDER}
        for nf, d in entry["nfs"].items():
            role = role_of.get(nf, "inference")
            by_role[role] += float(d["joules"])
            dynamic[role] += float(d.get("dynamic_joules", 0.0))
            co2[role] += float(d["co2_grams"] or 0.0)
        total = sum(by_role.values())
        net = sum(by_role[r] for r in NETWORK_ROLES)
        shares: dict[str, float | None] = {}
        total_co2 = sum(co2.values())
        shares["location"] = sum(co2[r] for r in NETWORK_ROLES) / total_co2 if total_co2 else None
        market = _market_share(settings, entry, dict(role_of))
        if market is not None:
            shares["market"] = market
        rows.append(
            AppRow(
                app=app,
                requests=n,
                joules_per_request_by_role={r: (v / n if n else 0.0) for r, v in by_role.items()},
                network_energy_share=net / total if total else None,
                network_co2_share=shares,
                dynamic_per_request_by_role={r: (v / n if n else 0.0) for r, v in dynamic.items()},
            )
        )
    return rows


def _market_share(
    settings: Settings, entry: dict[str, Any], role_of: dict[str, str]
) -> float | None:
    """Market-basis CO2: each NF's joules times its zone's market factor (location if none)."""
    zones = settings.carbon.zones
    if not any(z.market_grams_per_kwh is not None for z in zones.values()):
        return None
    zone_of = {nf.name: nf.zone for nf in settings.nfs}
    net = total = 0.0
    for nf, d in entry["nfs"].items():
        zone = zones.get(zone_of.get(nf) or "")
        if zone is None:
            continue
        factor = zone.market_grams_per_kwh
        if factor is None:
            first = zone.providers[0]
            factor = float(getattr(first, "grams_per_kwh", 0.0))
        grams = float(d["joules"]) / JOULES_PER_KWH * factor
        total += grams
        if role_of.get(nf) in NETWORK_ROLES:
            net += grams
    return net / total if total else None


def format_pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f} %"


SHORT_HEAD = [
    "app",
    "req",
    "RU",
    "DU",
    "CU",
    "UPF",
    "server",
    "total",
    "net E",
    "net CO2 loc",
    "net CO2 mkt",
]
"""Console headers (J per request for the NF columns; `net` = RU+DU+CU+UPF share)."""


def table_rows(rows: list[AppRow]) -> tuple[list[str], list[list[str]]]:
    head = [
        "app",
        "requests",
        *(f"{ROLE_LABEL[r]} J/req" for r in ROLE_ORDER),
        "total J/req",
        "network share of energy",
        "network share of CO2 (location)",
        "network share of CO2 (market)",
    ]
    body = []
    for r in rows:
        body.append(
            [
                r.app,
                f"{r.requests:.0f}",
                *(f"{r.joules_per_request_by_role[role]:.3f}" for role in ROLE_ORDER),
                f"{r.joules_per_request:.3f}",
                format_pct(r.network_energy_share),
                format_pct(r.network_co2_share.get("location")),
                format_pct(r.network_co2_share.get("market")),
            ]
        )
    return head, body


def change(
    before: list[AppRow], after: list[AppRow], *, dynamic: bool = False
) -> dict[str, float | None]:
    """Relative change of J/request per app (E2E, or its dynamic part), what-if against baseline
    (negative = saving); key "all" is the whole run's energy over all requests."""

    def value(r: AppRow) -> float:
        return r.dynamic_joules_per_request if dynamic else r.joules_per_request

    b = {r.app: value(r) for r in before if r.requests}
    out: dict[str, float | None] = {}
    for r in after:
        base = b.get(r.app)
        out[r.app] = (value(r) - base) / base if base and r.requests else None
    totals = [
        sum(value(r) * r.requests for r in rows) / max(1.0, sum(r.requests for r in rows))
        for rows in (before, after)
    ]
    out["all"] = (totals[1] - totals[0]) / totals[0] if totals[0] else None
    return out


def per_request_all(rows: list[AppRow], *, dynamic: bool = False) -> float:
    """The whole run's attributed energy (or its dynamic part) over all requests."""
    n = sum(r.requests for r in rows)
    if not n:
        return 0.0
    return (
        sum(
            (r.dynamic_joules_per_request if dynamic else r.joules_per_request) * r.requests
            for r in rows
        )
        / n
    )


@dataclass(frozen=True, slots=True)
class ModelRow:
    """One model in one phase and app: measured CPU time per request, its joules at the
    server's watts per busy core, and the server energy the attributor gave each request."""

    model: str
    parameters: int
    phase: str
    app: str
    requests: float
    cpu_seconds_per_request: float
    model_joules_per_request: float
    server_joules_per_request: float


def model_rows(
    settings: TestbedFile, phases: Sequence[Phase], rows: dict[str, list[AppRow]]
) -> list[ModelRow]:
    """Baseline and what-if: each model's measured cost per request, per app."""
    server = next(n.name for n in settings.testbed.nodes if n.role == "inference")
    watts = settings.testbed.power.cpu[server].watts_per_core.value
    out = []
    for phase in phases:
        if phase.name not in ("baseline", "whatif"):
            continue
        attributed = {r.app: r.joules_per_request_by_role["inference"] for r in rows[phase.name]}
        for app, (n, cpu) in sorted(phase.model_usage.items()):
            per = cpu / n if n else 0.0
            out.append(
                ModelRow(
                    model=phase.model,
                    parameters=MODELS[phase.model].parameters,
                    phase=phase.name,
                    app=app,
                    requests=n,
                    cpu_seconds_per_request=per,
                    model_joules_per_request=per * watts,
                    server_joules_per_request=attributed.get(app, 0.0),
                )
            )
    return out
