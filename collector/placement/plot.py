"""The energy-latency frontier plot: savings against home-only placement per class, over the
network allowance (budget minus processing time), with each class's own budget marked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from collector.placement.inputs import PlacementConfig
from collector.placement.metrics import FrontierPoint


def plot_frontiers(
    cfg: PlacementConfig, frontiers: dict[str, list[FrontierPoint]], path: Path
) -> None:
    """Write a two-panel PNG: cost saving and CO2 saving (%) vs network allowance (ms)."""
    proc = {c.name: c.processing_ms for c in cfg.classes}
    own = {c.name: c.latency_budget_ms for c in cfg.classes}
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.6), sharex=True)
    for ax, field, label in _panels(axes, cfg.currency):
        for i, (name, pts) in enumerate(frontiers.items()):
            _plot_class(ax, pts, field, proc[name], own[name], name, _STYLES[i % len(_STYLES)])
        ax.set_xlabel("network allowance = latency budget − processing time (ms)")
        ax.set_ylabel(label)
        ax.set_xlim(40, 430)
        ax.grid(True, alpha=0.3)
        ax.axhline(0.0, color="black", linewidth=0.8)
    fig.suptitle(
        "Energy-latency frontier vs. home-only placement "
        f"(objective {cfg.objective.kind}, {cfg.objective.signal} intensity; "
        "circle = class's own budget; ▶ = own budget beyond 400 ms)",
        fontsize=11,
    )
    _save(fig, axes[0], path)


def _panels(axes: list[Axes], currency: str) -> Iterator[tuple[Axes, str, str]]:
    """The two panels: (axes, FrontierPoint field, y label) for cost and carbon savings."""
    yield axes[0], "cost_saving_share", f"electricity + friction cost saved ({currency}), %"
    yield axes[1], "carbon_saving_share", "gCO2e saved, %"


def _save(fig: Figure, legend_from: Axes, path: Path) -> None:
    """One legend under both panels (from the first panel's lines), then write the PNG."""
    handles, labels = legend_from.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


_STYLES = [("-", "o"), ("--", "s"), ("-.", "^"), (":", "D")]
"""Line style and marker per class, so overlapping lines (e.g. two at 0 %) stay visible."""


def _plot_class(
    ax: Axes,
    pts: list[FrontierPoint],
    field: str,
    proc_ms: float,
    own_ms: float,
    name: str,
    style: tuple[str, str],
) -> None:
    """One class's line; its own budget circled, or shown as ▶ at the right edge when far out."""
    xs, ys = [], []
    own_y = None
    for pt in pts:
        if not pt.feasible:
            continue
        y = 100.0 * (getattr(pt, field) or 0.0)
        if pt.budget_ms == own_ms:
            own_y = y
        if pt.budget_ms - proc_ms <= 400:
            xs.append(pt.budget_ms - proc_ms)
            ys.append(y)
    flat = all(abs(y) < 0.05 for y in ys)
    (line,) = ax.plot(
        xs,
        ys,
        linestyle=style[0],
        marker=style[1],
        markersize=4,
        fillstyle="none",
        label=f"{name} (processing {proc_ms:g} ms)" + (": stays local" if flat else ""),
    )
    if own_y is None:
        return
    if own_ms - proc_ms <= 400:
        ax.plot(
            own_ms - proc_ms,
            own_y,
            marker="o",
            markersize=11,
            color=line.get_color(),
            fillstyle="none",
        )
    else:
        ax.plot(420, own_y, marker=">", markersize=9, color=line.get_color())


def plot_budget_sweep(
    cfg: PlacementConfig, frontiers: dict[str, list[FrontierPoint]], path: Path
) -> None:
    """Savings (%) against the raw latency budget on a log axis, for explicit --budgets sweeps."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.6), sharex=True)
    for ax, field, label in _panels(axes, cfg.currency):
        for i, (name, pts) in enumerate(frontiers.items()):
            ok = [pt for pt in pts if pt.feasible]
            style = _STYLES[i % len(_STYLES)]
            ax.plot(
                [pt.budget_ms for pt in ok],
                [100.0 * (getattr(pt, field) or 0.0) for pt in ok],
                linestyle=style[0],
                marker=style[1],
                label=name,
            )
        ax.set_xscale("log")
        ax.set_xlabel("latency budget (ms, log scale)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    fig.suptitle(
        "Savings vs. home-only placement over the swept budgets (infeasible points omitted)"
    )
    _save(fig, axes[0], path)
