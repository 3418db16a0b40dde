"""Placement endpoints under /v1/placement, included by the query API's app factory.

Read-only advice: a request body carries a whole placement problem (or none, for the bundled
dataset); nothing is stored. A body that breaks the schema is a 422 (FastAPI's validation
detail); a valid problem the advisor cannot answer (infeasible class and origin, short capacity,
unknown names, numbers HiGHS cannot handle) is a 400 whose `detail` names it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from collector.placement.inputs import PlacementConfig, PlacementInputError, load_default
from collector.placement.measured import apply_measured
from collector.placement.metrics import break_even_table, class_frontiers, frontier
from collector.placement.model import InfeasibleError, build_problem
from collector.placement.report import break_even_report, frontier_report, solution_report
from collector.placement.solve import solve

router = APIRouter(prefix="/v1/placement", tags=["placement"])


class ErrorBody(BaseModel):
    """A request the advisor cannot answer: the message names the class, origin or key."""

    detail: str


_ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorBody}}
MAX_TRIPLES = 2_000_000
"""Posted problems above this size are refused (the 10 000-origin benchmark is 2 000 000)."""


class FrontierRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: PlacementConfig | None = None
    budgets_ms: list[Annotated[float, Field(gt=0, allow_inf_nan=False)]] | None = Field(
        None, min_length=1, max_length=200
    )
    """Budgets applied to `classes` (all when empty); per-class allowance sweep when omitted."""
    classes: list[str] = []


def _config(cfg: PlacementConfig | None) -> PlacementConfig:
    if cfg is None:
        return load_default()
    triples = len(cfg.classes) * len(cfg.origins) * len(cfg.regions)
    if triples > MAX_TRIPLES:
        raise HTTPException(
            400,
            f"problem too large for the API: {triples} (class, origin, region) "
            f"triples, limit {MAX_TRIPLES}; use the CLI",
        )
    if cfg.measured is not None or cfg.csv is not None:
        raise HTTPException(400, "measured/csv: files are read by the CLI only, not over the API")
    try:
        return apply_measured(cfg)
    except PlacementInputError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/dataset")
def dataset() -> dict[str, Any]:
    """The bundled default dataset (sources: collector/placement/data/README.md)."""
    return load_default().model_dump(mode="json")


@router.post("/solve", responses=_ERRORS)
def solve_placement(config: PlacementConfig | None = None) -> dict[str, Any]:
    """Solve the LP for the posted problem (default dataset without a body)."""
    cfg = _config(config)
    try:
        problem = build_problem(cfg)
        report = solution_report(solve(problem))
    except (InfeasibleError, RuntimeError) as exc:
        raise HTTPException(400, str(exc)) from None
    report["break_even"] = break_even_report(break_even_table(problem))
    return report


@router.post("/frontier", responses=_ERRORS)
def frontier_placement(request: FrontierRequest) -> dict[str, Any]:
    """The energy-latency frontier with ERL and CRL."""
    cfg = _config(request.config)
    known = {c.name for c in cfg.classes}
    unknown = [n for n in request.classes if n not in known]
    if unknown:
        raise HTTPException(400, f"classes: no class named {unknown[0]!r}")
    if request.budgets_ms is None:
        fronts = class_frontiers(cfg)
        if request.classes:
            fronts = {n: fronts[n] for n in request.classes}
    else:
        names = request.classes or [c.name for c in cfg.classes]
        fronts = {"+".join(names): frontier(cfg, request.budgets_ms, classes=names)}
    return frontier_report(fronts)


@router.get("/simulate")
def simulate() -> dict[str, Any]:
    """The default dataset at each class's own budget: layer split and relocatable demand."""
    return solution_report(solve(build_problem(load_default())))
