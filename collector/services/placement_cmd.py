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
from collector.placement.model import InfeasibleError, build_problem
from collector.placement.report import (
    break_even_report,
    break_even_table_text,
    frontier_report,
    frontier_table,
    layer_table,
    solution_report,
    summary_lines,
)
from collector.placement.solve import solve

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
    cfg = _load(config_path, settings_path)
    try:
        problem = build_problem(cfg)
        sol = solve(problem)
    except (InfeasibleError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
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
        _plotter(plot_path)  # a clear error without matplotlib
        from collector.placement.plot import plot_budget_sweep, plot_frontiers

        draw = plot_frontiers if budgets is None else plot_budget_sweep
        draw(cfg, fronts, plot_path)
    _emit(fmt, frontier_report(fronts), frontier_table(fronts, cfg.currency))


def _plotter(plot_path: Path | None) -> Any | None:
    """plot_frontiers when matplotlib is installed; None (no plot) when it is not and no
    --plot was asked for, as in the attributor image."""
    try:
        from collector.placement.plot import plot_frontiers
    except ModuleNotFoundError as exc:
        if plot_path is not None:
            raise click.ClickException(
                f"--plot needs matplotlib ({exc.name} is missing): "
                "pip install 'e2e-energy-collector[plot]'"
            ) from None
        return None
    return plot_frontiers


@placement.command("simulate")
@_config_opt
@_format_opt
@_settings_opt
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where the frontier plot goes [default: placement-frontier.png when matplotlib, the "
    "`plot` extra, is installed; no plot otherwise].",
)
def simulate_cmd(
    config_path: Path | None, fmt: str, settings_path: Path | None, plot_path: Path | None
) -> None:
    """Solve at each class's own budget, sweep the frontier, print the layer split, plot."""
    plot = _plotter(plot_path)
    cfg = _load(config_path, settings_path)
    try:
        problem = build_problem(cfg)
        sol = solve(problem)
    except (InfeasibleError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    fronts = class_frontiers(cfg)
    report = solution_report(sol)
    report["frontier"] = frontier_report(fronts)
    sections = [
        summary_lines(report),
        "layer split at each class's own budget:\n" + layer_table(report),
        "frontier (per class):\n" + frontier_table(fronts, cfg.currency),
    ]
    if plot is not None:
        path = plot_path or Path("placement-frontier.png")
        plot(cfg, fronts, path)
        report["plot"] = str(path)
        sections.append(f"plot written to {path}")
    else:
        report["plot"] = None
        sections.append("no plot: matplotlib is not installed (the `plot` extra)")
    text = "\n\n".join(sections)
    _emit(fmt, report, text)
