"""`e2e-energy placement solve|frontier|simulate`: wiring only (files -> advisor -> output)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import click

from collector.models import IntensitySample
from collector.placement.advice import advice_and_config, load_dataset, period_ending
from collector.placement.advice_report import advice_text
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
from collector.settings import Settings
from collector.units import seconds_from_duration

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


_store_opts = [
    click.option(
        "--from-store",
        "store_path",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        default=None,
        help="Advise on the apps of the --settings' placement section from this attributor store.",
    ),
    click.option(
        "--period",
        default=None,
        help="With --from-store: how much history, e.g. 1h, 15m, 1d (default: placement."
        "period_seconds).",
    ),
    click.option(
        "--end",
        type=float,
        default=None,
        help="With --from-store: the period's end, unix seconds (default: the newest window's"
        " end).",
    ),
]


def _with_store_opts(f: Any) -> Any:
    for opt in reversed(_store_opts):
        f = opt(f)
    return f


def _advice_from_store(
    store_path: Path,
    settings_path: Path | None,
    config_path: Path | None,
    period: str | None,
    end: float | None,
) -> tuple[dict[str, Any], PlacementConfig | None]:
    """The advice document the live attributor would compute for that period, offline."""
    from collector.store import Store

    if settings_path is None:
        raise click.UsageError(
            "--from-store needs --settings (its placement section names the apps)"
        )
    settings = _settings(settings_path)
    spec = settings.placement
    if spec is None:
        raise click.UsageError(f"{settings_path}: no placement section (placement.apps)")
    if config_path is not None:
        spec = spec.model_copy(update={"config": config_path})
    try:
        seconds = spec.period_seconds if period is None else seconds_from_duration(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None
    samples = _live_samples(settings)
    store = Store(store_path)
    try:
        start, stop = period_ending(store, seconds, end, time.time())
        return advice_and_config(
            store, load_dataset(spec), spec, start=start, end=stop, now=time.time(),
            intensities=samples,
        )  # fmt: skip
    except PlacementInputError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()


def _load(config_path: Path | None, settings_path: Path | None) -> PlacementConfig:
    try:
        cfg = load_default() if config_path is None else load_config(config_path)
        cfg = apply_measured(cfg)
    except PlacementInputError as exc:
        raise click.ClickException(str(exc)) from None
    if settings_path is not None:
        cfg = apply_intensities(cfg, _live_samples(_settings(settings_path)))
    return cfg


def _settings(settings_path: Path) -> Settings:
    from collector.settings import SettingsError, load_settings

    try:
        return load_settings(settings_path)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _live_samples(settings: Settings) -> list[IntensitySample]:
    """Intensities from the collector's carbon providers, one per zone that answered."""
    from collector.carbon.service import build_carbon

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
@_with_store_opts
def solve_cmd(
    config_path: Path | None,
    fmt: str,
    settings_path: Path | None,
    store_path: Path | None,
    period: str | None,
    end: float | None,
) -> None:
    """Solve the placement LP and print the layer split per class (with --from-store: the
    advice for the measured apps, as GET /v1/placement/advice gives it)."""
    if store_path is not None:
        doc, _ = _advice_from_store(store_path, settings_path, config_path, period, end)
        _emit(fmt, doc, advice_text(doc))
        return
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
        _plotter()  # a clear error without matplotlib
        from collector.placement.plot import plot_budget_sweep, plot_frontiers

        draw = plot_frontiers if budgets is None else plot_budget_sweep
        draw(cfg, fronts, plot_path)
    _emit(fmt, frontier_report(fronts), frontier_table(fronts, cfg.currency))


def _plotter() -> Any:
    """plot_frontiers, or a clear error naming the extra when matplotlib is not installed (the
    attributor image has none): only --plot needs it."""
    try:
        from collector.placement.plot import plot_frontiers
    except ModuleNotFoundError as exc:
        raise click.ClickException(
            f"--plot needs matplotlib ({exc.name} is missing): "
            "pip install 'e2e-energy-collector[plot]'"
        ) from None
    return plot_frontiers


@placement.command("simulate")
@_config_opt
@_format_opt
@_settings_opt
@_with_store_opts
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the frontier plot to this PNG file (nothing is written without it).",
)
def simulate_cmd(
    config_path: Path | None,
    fmt: str,
    settings_path: Path | None,
    store_path: Path | None,
    period: str | None,
    end: float | None,
    plot_path: Path | None,
) -> None:
    """Solve at each class's own budget, sweep the frontier, print the layer split (with
    --from-store: for the measured apps, after their advice); plot only with --plot."""
    advice: dict[str, Any] | None = None
    if store_path is not None:
        advice, measured = _advice_from_store(store_path, settings_path, config_path, period, end)
        if measured is None:
            _emit(fmt, advice, advice_text(advice))
            return
        cfg = measured
    else:
        cfg = _load(config_path, settings_path)
    _, sol = _solved(cfg)
    fronts = class_frontiers(cfg)
    report = solution_report(sol)
    report["frontier"] = frontier_report(fronts)
    parts = [
        summary_lines(report),
        "layer split at each class's own budget:\n" + layer_table(report),
        "frontier (per class):\n" + frontier_table(fronts, cfg.currency),
    ]
    if advice is not None:
        report["advice"] = advice
        parts.insert(0, advice_text(advice))
    if plot_path is not None:
        plot_frontiers = _plotter()  # a clear error without matplotlib
        plot_frontiers(cfg, fronts, plot_path)
        report["plot"] = str(plot_path)
        parts.append(f"plot written to {plot_path}")
    _emit(fmt, report, "\n\n".join(parts))
