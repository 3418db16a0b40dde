"""`e2e-energy demo`: the testbed end to end, a per-application table and a report, then teardown.

Sets up the namespace chain, runs the agents, the attributor and the UE apps against a real
sentence-embedding model (all-MiniLM-L6-v2), prints J per request at RU, DU, CU, UPF and the
server with the network's share of energy and CO2, writes a Markdown + PNG report with a what-if
phase, and removes everything again, also on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from collector.services.testbed_cmd import (
    DEFAULT_CONFIG,
    load_testbed_settings,
    use_testbed_package,
)

_MAIN_PID = os.getpid()


def _terminate(signum: int, frame: Any) -> None:
    """SIGINT/SIGTERM tear the testbed down; a forked helper (pyroute2's netns child) just exits,
    so it never waits on an exception its parent is handling."""
    if os.getpid() != _MAIN_PID:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise KeyboardInterrupt


@click.command()
@click.option(
    "--duration",
    type=click.FloatRange(5, 600),
    default=35.0,
    show_default=True,
    help="Seconds of traffic per phase (baseline, then what-if).",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path),
    default=Path("demo-report"),
    show_default=True,
    help="Where report.md and the PNG charts go.",
)
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="Topology file.",
)
@click.option("--prefix", default=None, help="Namespace name prefix (default: the file's).")
def demo(duration: float, report_dir: Path, config: Path, prefix: str | None) -> None:
    """Run the end-to-end demo on the network-namespace testbed (root; about 2-3 minutes)."""
    settings = load_testbed_settings(config)
    use_testbed_package()
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from testbed import netns
    from testbed.demo import (
        WHATIF,
        Workload,
        phase_reports,
        run_phase,
        settings_of,
        start_agents,
        start_attributor,
    )
    from testbed.report import MODEL_LABEL, app_rows
    from testbed.report_write import write_report
    from testbed.runner import Testbed

    reason = netns.unsupported_reason()
    if reason:
        raise click.ClickException(f"the demo needs the testbed, which cannot run here: {reason}")
    console = Console()
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    run_dir = Path(tempfile.mkdtemp(prefix="e2e-energy-demo-"))
    columns = (TextColumn("{task.description:<44}"), BarColumn(), TimeElapsedColumn())
    t0 = time.monotonic()
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            console.print(f"model: {MODEL_LABEL}; power: modelled (no meters on this machine)")
            steps = progress.add_task("setting up testbed, agents, attributor", total=3)
            bed = Testbed(settings, run_dir, prefix)
            with bed:
                progress.advance(steps)
                start_agents(bed)
                progress.advance(steps)
                record = start_attributor(bed)
                progress.advance(steps)
                phases = []
                for name, work in (("baseline", Workload()), ("whatif", WHATIF)):
                    task = progress.add_task(f"{name}: apps sending", total=duration)
                    began = time.monotonic()

                    def tick(task: Any = task, began: float = began) -> None:
                        progress.update(task, completed=min(duration, time.monotonic() - began))

                    phases.append(run_phase(bed, name, duration, work, tick))
                    progress.update(task, completed=duration)
                time.sleep(1.0)
                bed.stop("attributor")
                config_used = bed.run_dir / "topology.yaml"
                runtime = settings_of(bed)
        reports = phase_reports(config_used, record, phases)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: the testbed was torn down[/yellow]")
        raise SystemExit(130) from None
    base = app_rows(runtime, reports["baseline"])
    whatif = app_rows(runtime, reports["whatif"])
    _print_table(console, base, "Per application, baseline (modelled power; measured traffic)")
    _print_table(console, whatif, "What-if: " + WHATIF.describe())
    meta = {"duration": duration, "whatif_description": "What-if workload: " + WHATIF.describe()}
    path = write_report(report_dir, runtime, base, whatif, reports, meta)
    console.print(f"report: {path} (and PNG charts next to it); run files: {run_dir}")
    console.print(f"done in {time.monotonic() - t0:.0f} s; nothing left running")


def _print_table(console: Any, rows: list[Any], title: str) -> None:
    from rich import box
    from rich.table import Table

    from testbed.report import SHORT_HEAD, table_rows

    _, body = table_rows(rows)
    head = SHORT_HEAD
    body = [[row[0], row[1], *(_short(c) for c in row[2:])] for row in body]
    table = Table(
        title=title,
        caption="J per request; net = RU+DU+CU+UPF share",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for h in head:
        table.add_column(h, justify="left" if h == "app" else "right", no_wrap=h == "app")
    for row in body:
        table.add_row(*row)
    console.print(table)


def _short(cell: str) -> str:
    """Console cells: J/request with two decimals, percentages without the space."""
    if cell.endswith(" %"):
        return cell.replace(" %", "%")
    try:
        return f"{float(cell):.2f}"
    except ValueError:
        return cell
