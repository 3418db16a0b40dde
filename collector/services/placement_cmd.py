"""`e2e-energy placement solve|frontier|simulate`: wiring only (files -> advisor -> output)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import click

from collector.models import IntensitySample
from collector.placement.inputs import (
    PlacementConfig,
    PlacementInputError,
    load_config,
    load_default,
)
from collector.placement.live import apply_intensities
from collector.placement.measured import apply_measured
from collector.placement.metrics import break_even_table, class_frontiers, frontier
from collector.placement.model import InfeasibleError, Problem, build_problem
from collector.placement.report import (
    break_even_report,
    break_even_table_text,
    frontier_report,
    frontier_table,
    layer_table,
    solution_report,
    summary_lines,
)
from collector.placement.solve import Solution, solve

_config_opt = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Placement YAML (default: the bundled global dataset).",
)
_format_opt = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
_settings_opt = click.option(
    "--settings",
    "settings_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Collector settings: refresh live intensities for regions with a carbon_zone.",
)


def _load(config_path: Path | None, settings_path: Path | None) -> PlacementConfig:
    try:
        cfg = load_default() if config_path is None else load_config(config_path)
        cfg = apply_measured(cfg)
    except PlacementInputError as exc:
        raise click.ClickException(str(exc)) from None
    if settings_path is not None:
        cfg = apply_intensities(cfg, _live_samples(settings_path))
    return cfg


def _live_samples(settings_path: Path) -> list[IntensitySample]:
    """Intensities from the collector's carbon providers, one per zone that answered."""
    from collector.carbon.service import build_carbon
    from collector.settings import SettingsError, load_settings

    try:
        settings = load_settings(settings_path)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    return asyncio.run(build_carbon(settings).refresh(time.time()))


def _solved(cfg: PlacementConfig) -> tuple[Problem, Solution]:
    """The LP and its solution; infeasible or solver failures end the command with the reason."""
    try:
        problem = build_problem(cfg)
        return problem, solve(problem)
    except (InfeasibleError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None


def _emit(fmt: str, data: Any, text: str) -> None:
    click.echo(json.dumps(data, indent=2) if fmt == "json" else text)


@click.group()
def placement() -> None:
    """Advise where inference should run: LP placement, frontier, break-even, layer split."""


@placement.command("solve")
@_config_opt
@_format_opt
@_settings_opt
def solve_cmd(config_path: Path | None, fmt: str, settings_path: Path | None) -> None:
    """Solve the placement LP and print the layer split per class."""
    problem, sol = _solved(_load(config_path, settings_path))
    report = solution_report(sol)
    report["break_even"] = break_even_report(break_even_table(problem))
    _emit(
        fmt,
        report,
        summary_lines(report)
        + "\n\n"
        + layer_table(report)
        + "\n\nbest relocations:\n"
        + break_even_table_text(break_even_table(problem), limit=10),
    )


@placement.command("frontier")
@_config_opt
@_format_opt
@_settings_opt
@click.option("--budgets", default=None, help="Comma-separated budgets in ms applied to --class.")
@click.option("--class", "classes", multiple=True, help="Class(es) to sweep (default: each).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def frontier_cmd(
    config_path: Path | None,
    fmt: str,
    settings_path: Path | None,
    budgets: str | None,
    classes: tuple[str, ...],
    plot_path: Path | None,
) -> None:
    """Sweep latency budgets: the energy-latency frontier with ERL and CRL."""
    cfg = _load(config_path, settings_path)
    known = [c.name for c in cfg.classes]
    for name in classes:
        if name not in known:
            raise click.BadParameter(
                f"no class named {name!r} (known: {', '.join(known)})", param_hint="--class"
            )
    if budgets is not None:
        try:
            values = [float(b) for b in budgets.split(",") if b.strip()]
        except ValueError:
            raise click.BadParameter(
                "budgets must be numbers in ms", param_hint="--budgets"
            ) from None
        names = list(classes) or known
        fronts = {"+".join(names): frontier(cfg, values, classes=names)}
    else:
        fronts = class_frontiers(cfg)
        if classes:
            fronts = {n: fronts[n] for n in classes}
    if plot_path is not None:
        from collector.placement.plot import plot_budget_sweep, plot_frontiers

        draw = plot_frontiers if budgets is None else plot_budget_sweep
        draw(cfg, fronts, plot_path)
    _emit(fmt, frontier_report(fronts), frontier_table(fronts, cfg.currency))


@placement.command("simulate")
@_config_opt
@_format_opt
@_settings_opt
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("placement-frontier.png"),
    show_default=True,
)
def simulate_cmd(
    config_path: Path | None, fmt: str, settings_path: Path | None, plot_path: Path
) -> None:
    """Solve at each class's own budget, sweep the frontier, print the layer split, plot."""
    from collector.placement.plot import plot_frontiers

    cfg = _load(config_path, settings_path)
    _, sol = _solved(cfg)
    fronts = class_frontiers(cfg)
    plot_frontiers(cfg, fronts, plot_path)
    report = solution_report(sol)
    report["frontier"] = frontier_report(fronts)
    report["plot"] = str(plot_path)
    text = "\n\n".join(
        [
            summary_lines(report),
            "layer split at each class's own budget:\n" + layer_table(report),
            "frontier (per class):\n" + frontier_table(fronts, cfg.currency),
            f"plot written to {plot_path}",
        ]
    )
    _emit(fmt, report, text)
