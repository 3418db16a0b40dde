"""`e2e-energy testbed up|down|status` and `e2e-energy demo`: the namespace testbed's commands.

`collector/cli.py` registers these lazily by name; the collector never imports this package.
The demo sets up the chain, runs agents, the attributor and the UE apps against real models,
prints J per request at RU, DU, CU, UPF and the server with the network's share of energy and
CO2 and each lever's saving, writes a Markdown + PNG report, and removes everything again, also
on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from collector.settings import SettingsError
from testbed.settings import TestbedFile, load_topology

DEFAULT_CONFIG = Path(__file__).resolve().parent / "topology.yaml"
_MAIN_PID = os.getpid()


def load_testbed_settings(config: Path) -> TestbedFile:
    try:
        return load_topology(config)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


config_option = click.option(
    "--config",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="Topology file: the settings format plus a testbed: section.",
)
prefix_option = click.option("--prefix", default=None, help="Name prefix (default: the file's).")


@click.group()
def testbed() -> None:
    """Set up, inspect or tear down the namespace chain UE-RU-DU-CU=GTP-U=UPF-server (root)."""


@testbed.command()
@config_option
@prefix_option
@click.option("--network-only", is_flag=True, help="Only the chain: no processes.")
@click.option("--run-dir", type=click.Path(path_type=Path), default=None)
def up(config: Path, prefix: str | None, network_only: bool, run_dir: Path | None) -> None:
    """Build the chain (idempotent) and start the data plane, model server and power sources."""
    settings = load_testbed_settings(config)
    from testbed import netns
    from testbed.plan import make_plan
    from testbed.runner import Testbed

    reason = netns.unsupported_reason()
    if reason:
        raise click.ClickException(f"testbed unavailable: {reason}")
    plan = make_plan(settings.testbed, prefix)
    if network_only:
        netns.up(settings.testbed, plan)
        click.echo(f"testbed {plan.prefix}: {len(plan.namespaces)} namespaces up")
        return
    _need_models(settings)
    bed = Testbed(settings, run_dir or Path(f"/tmp/e2e-energy-testbed/{plan.prefix}"), prefix)
    bed.start()
    click.echo(json.dumps(bed.endpoints(), indent=2))
    click.echo(f"settings for the attributor: {bed.run_dir / 'collector.yaml'}")
    click.echo(f"stop with: e2e-energy testbed down --prefix {plan.prefix}")


@testbed.command()
@config_option
@prefix_option
def down(config: Path, prefix: str | None) -> None:
    """Stop the testbed's processes and remove its namespaces (also after a crash)."""
    settings = load_testbed_settings(config)
    from testbed import netns

    removed = netns.down(prefix or settings.testbed.prefix)
    click.echo("\n".join(removed) if removed else "nothing to remove")


@testbed.command()
@config_option
@prefix_option
def status(config: Path, prefix: str | None) -> None:
    """Show the namespaces, root-side links and processes of the testbed."""
    settings = load_testbed_settings(config)
    from testbed import netns

    click.echo(json.dumps(netns.status(prefix or settings.testbed.prefix), indent=2))


def _need_models(settings: TestbedFile) -> None:
    from testbed.models import missing

    problems = missing([settings.testbed.models.large, settings.testbed.models.small])
    if problems:
        raise click.ClickException(
            "the model server cannot start:\n  " + "\n  ".join(problems) + "\n(run `make venv`)"
        )


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
    type=click.FloatRange(10, 600),
    default=20.0,
    show_default=True,
    help="Seconds per phase (baseline, model lever, data-rate lever, both), rounded up to "
    "whole attribution windows; the apps send from 2 s in until 2.5 s before its end.",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path),
    default=Path("demo-report"),
    show_default=True,
    help="Where report.md and the PNG charts go.",
)
@config_option
@prefix_option
def demo(duration: float, report_dir: Path, config: Path, prefix: str | None) -> None:
    """Run the end-to-end demo on the network-namespace testbed (root; about 2-3 minutes).

    Four phases of --duration seconds: the baseline (the large model, full data rate), the small
    model, the lower data rate, and both (the what-if). Prints J per request per network function
    and application, the network's share of energy and CO2 next to the paper's, and each lever's
    saving; writes the report with the lever and sensitivity tables.
    """
    settings = load_testbed_settings(config)
    from testbed import netns

    reason = netns.unsupported_reason()
    if reason:
        raise click.ClickException(f"the demo needs the testbed, which cannot run here: {reason}")
    _need_models(settings)
    from testbed.console import run_demo

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    run_dir = Path(tempfile.mkdtemp(prefix="e2e-energy-demo-"))
    t0 = time.monotonic()
    try:
        run_demo(settings, run_dir, prefix, duration, report_dir, t0)
    except KeyboardInterrupt:
        click.echo("interrupted: the testbed was torn down")
        raise SystemExit(130) from None
