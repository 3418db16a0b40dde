"""The demo run with its console output: progress, the per-application tables, each model's
measured energy per request and each lever's saving, then the report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from testbed.settings import TestbedFile


def run_demo(
    settings: TestbedFile,
    run_dir: Path,
    prefix: str | None,
    duration: float,
    report_dir: Path,
    t0: float,
) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from testbed.demo import (
        PHASES,
        Phase,
        fetch_advice,
        phase_reports,
        phase_seconds,
        run_phase,
        settings_of,
        start_agents,
        start_attributor,
    )
    from testbed.report import app_rows, model_rows
    from testbed.report_write import write_report
    from testbed.runner import Testbed

    console = Console()
    models = settings.testbed.models
    names = {"large": models.large, "small": models.small}
    columns = (TextColumn("{task.description:<44}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        console.print(
            f"models: {models.large} (baseline), {models.small} (what-if); "
            "power: modelled (no meters on this machine)"
        )
        steps = progress.add_task("setting up testbed, agents, attributor", total=3)
        bed = Testbed(settings, run_dir, prefix)
        try:
            bed.start(wait_for_server=False)  # the models load while the rest starts
            progress.advance(steps)
            start_agents(bed)
            record = start_attributor(bed)
            progress.advance(steps)
            bed.wait_for_server()
            progress.advance(steps)
            phases: list[Phase] = []
            duration = phase_seconds(duration, settings.window_seconds)
            for work in PHASES:
                task = progress.add_task(work.short(names), total=duration)
                began = time.monotonic()

                def tick(task: Any = task, began: float = began) -> None:
                    progress.update(task, completed=min(duration, time.monotonic() - began))

                start = phases[-1].end if phases else None
                phases.append(run_phase(bed, duration, work, tick, start))
                progress.update(task, completed=duration)
            time.sleep(1.0)
            advice = _advice(fetch_advice, bed, phases[0])
            bed.stop("attributor")
            runtime = settings_of(bed)
        finally:
            bed.close()
    reports = phase_reports(run_dir / "collector.yaml", record, phases)
    rows = {name: app_rows(runtime, run) for name, run in reports.items()}
    described = {w.name: w.describe(names) for w in PHASES}
    _print_table(console, rows["baseline"], "Baseline: " + described["baseline"])
    _print_table(console, rows["whatif"], "What-if: " + described["whatif"])
    _print_models(console, model_rows(runtime, phases, rows))
    _print_levers(console, rows, {w.name: w.short(names) for w in PHASES})
    _print_advice(console, advice)
    late = {p.name: p.unanswered for p in phases if p.unanswered}
    if late:
        console.print(
            "[yellow]warning: requests left unanswered (the server fell behind on a busy "
            f"machine), so later phases carry earlier work: {late}[/yellow]"
        )
    meta = {
        "duration": phases[0].end - phases[0].start,
        "described": described,
        "unanswered": late,
        "advice": advice,
    }
    path = write_report(report_dir, runtime, rows, phases, reports, meta)
    console.print(f"report: {path} (and PNG charts next to it); run files: {run_dir}")
    console.print(f"done in {time.monotonic() - t0:.0f} s; nothing left running")


def _advice(fetch: Any, bed: Any, phase: Any) -> dict[str, Any] | str:
    """The attributor's advice over the baseline, or why there is none (printed, reported)."""
    try:
        doc: dict[str, Any] = fetch(bed, phase)
    except (OSError, RuntimeError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return doc


def _print_advice(console: Any, advice: dict[str, Any] | str) -> None:
    from collector.placement.advice_report import (
        alternative_lines,
        compact_rows,
        provenance,
        refusal_lines,
    )

    if isinstance(advice, str):
        console.print(f"[yellow]no placement advice: {advice}[/yellow]")
        return
    head, body = compact_rows(advice)
    caption = "over the baseline; J or g per request; saved = home minus advised"
    table = _table("Where could it run (placement advice)", head, body, caption)
    table.padding = (0, 0)  # one space between columns: fits an 80-column terminal
    for column in table.columns:
        column.no_wrap = True
    console.print(table)
    for line in [*provenance(advice), *alternative_lines(advice), *refusal_lines(advice)]:
        console.print(f"  {line}")


def _table(title: str, head: list[str], body: list[list[str]], caption: str = "") -> Any:
    from rich import box
    from rich.table import Table

    table = Table(
        title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
    )
    for i, h in enumerate(head):
        table.add_column(h, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in body:
        table.add_row(*row)
    return table


def _print_table(console: Any, rows: list[Any], title: str) -> None:
    from testbed.report import SHORT_HEAD, table_rows

    _, body = table_rows(rows)
    body = [[row[0], row[1], *(_short(c) for c in row[2:])] for row in body]
    console.print(_table(title, SHORT_HEAD, body, "J per request; net = RU+DU+CU+UPF share"))


def _print_models(console: Any, rows: list[Any]) -> None:
    head = ["model", "phase", "app", "req", "CPU ms/req", "model J/req", "server J/req"]
    body = [
        [
            f"{r.model} ({r.parameters / 1e6:.0f} M)",
            r.phase,
            r.app,
            f"{r.requests:.0f}",
            f"{1000 * r.cpu_seconds_per_request:.0f}",
            f"{r.model_joules_per_request:.3f}",
            f"{r.server_joules_per_request:.3f}",
        ]
        for r in rows
    ]
    caption = "CPU time measured by the server; J = CPU s x W per busy core; server = attributed"
    console.print(_table("The two models, measured", head, body, caption))


def _print_levers(console: Any, rows: dict[str, list[Any]], described: dict[str, str]) -> None:
    from testbed.report import PAPER_MAX_REDUCTION, change, format_pct

    head = ["lever (phase: model, payload)", "E2E J/req", "dynamic J/req"]
    body = []
    for name in ("model", "data_rate", "whatif"):
        total = change(rows["baseline"], rows[name]).get("all")
        dynamic = change(rows["baseline"], rows[name], dynamic=True).get("all")
        body.append([described[name], format_pct(total), format_pct(dynamic)])
    caption = (
        f"change per request over all apps against the baseline; the paper: up to "
        f"-{100 * PAPER_MAX_REDUCTION:.0f} % from model choice and data rate"
    )
    console.print(_table("Levers", head, body, caption))


def _short(cell: str) -> str:
    """Console cells: J/request with two decimals, percentages without the space."""
    if cell.endswith(" %"):
        return cell.replace(" %", "%")
    try:
        return f"{float(cell):.2f}"
    except ValueError:
        return cell
