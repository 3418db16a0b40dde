"""Write the demo report: Markdown with the tables and two PNG charts (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from testbed.report import (
    PAPER_CO2_SHARE,
    PAPER_ENERGY_SHARE,
    ROLE_LABEL,
    ROLE_ORDER,
    AppRow,
    format_pct,
)
from testbed.report_sections import sections
from testbed.settings import TestbedFile

if TYPE_CHECKING:
    from testbed.demo import Phase

COLOURS = {
    "ru": "#4c72b0",
    "du": "#55a868",
    "cu": "#8172b2",
    "upf": "#ccb974",
    "inference": "#c44e52",
}


def chart_energy(base: list[AppRow], whatif: list[AppRow], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.app}\nbaseline" for r in base] + [f"{r.app}\nwhat-if" for r in whatif]
    rows = base + whatif
    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    left = [0.0] * len(rows)
    for role in ROLE_ORDER:
        vals = [r.joules_per_request_by_role[role] for r in rows]
        ax.barh(labels, vals, left=left, color=COLOURS[role], label=ROLE_LABEL[role])
        left = [a + b for a, b in zip(left, vals, strict=True)]
    for y, total in enumerate(left):
        ax.text(total, y, f" {total:.2f} J", va="center", fontsize=9)
    ax.set_xlabel("energy per request (J), modelled power, measured traffic and CPU time")
    ax.set_title("E2E energy per request by network function")
    ax.invert_yaxis()
    ax.set_xlim(0, max(left or [1.0]) * 1.2)
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def chart_shares(base: list[AppRow], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    kinds = [("energy", "#4c72b0"), ("CO2 location", "#dd8452"), ("CO2 market", "#55a868")]
    width = 0.25
    for i, r in enumerate(base):
        vals = [
            r.network_energy_share,
            r.network_co2_share.get("location"),
            r.network_co2_share.get("market"),
        ]
        for k, ((name, colour), v) in enumerate(zip(kinds, vals, strict=True)):
            x = i + (k - 1) * width
            ax.bar(x, 100 * (v or 0.0), width, color=colour, label=name if i == 0 else None)
            ax.text(x, 100 * (v or 0.0) + 1, format_pct(v), ha="center", fontsize=8)
        styles: tuple[tuple[dict[str, tuple[float, float]], Literal["dashed", "dotted"]], ...]
        styles = ((PAPER_ENERGY_SHARE, "dashed"), (PAPER_CO2_SHARE, "dotted"))
        for ranges, style in styles:
            if r.app in ranges:
                lo, hi = ranges[r.app]
                ax.hlines(
                    [100 * lo, 100 * hi],
                    i - 0.45,
                    i + 0.45,
                    colors="black",
                    linestyles=style,
                    linewidth=1,
                )
    ax.set_xticks(range(len(base)), [r.app for r in base])
    ax.plot([], [], color="black", linestyle="--", linewidth=1, label="paper: energy")
    ax.plot([], [], color="black", linestyle=":", linewidth=1, label="paper: CO2")
    ax.set_ylim(0, 125)
    ax.set_ylabel("network (RU+DU+CU+UPF) share, %")
    ax.set_title("Network share: testbed bars; paper ranges as lines (-- energy, : CO2)")
    ax.legend(fontsize=8, loc="upper center", ncol=5)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(
    out: Path,
    settings: TestbedFile,
    rows: dict[str, list[AppRow]],
    phases: Sequence[Phase],
    runs: dict[str, dict[str, Any]],
    meta: dict[str, Any],
) -> Path:
    """report.md, energy_per_request.png and network_shares.png under `out`; returns report.md.
    `rows` and `runs` are keyed by phase (baseline, model, data_rate, whatif)."""
    out.mkdir(parents=True, exist_ok=True)
    chart_energy(rows["baseline"], rows["whatif"], out / "energy_per_request.png")
    chart_shares(rows["baseline"], out / "network_shares.png")
    text = "\n\n".join(sections(settings, rows, phases, runs, meta)) + "\n"
    path = out / "report.md"
    path.write_text(text, encoding="utf-8")
    return path
