"""`e2e-energy replay`: attribute recorded inputs (JSON Lines) offline, for what-if and tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from collector.attribution import topology_from_settings
from collector.attribution.records import RecordError
from collector.attribution.replay import load_entries_file, replay_run
from collector.attribution.report import build_report, format_table
from collector.settings import SettingsError, load_settings


@click.command()
@click.option(
    "--inputs",
    "inputs",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON Lines records (energy, traffic, traffic_total, requests, intensity).",
)
@click.option(
    "--config",
    "config",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Settings file (YAML) with nfs, apps, shares, carbon zones.",
)
@click.option("--per-window", is_flag=True, help="Also report every window.")
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="json")
def replay(inputs: Path, config: Path, per_window: bool, fmt: str) -> None:
    """Attribute recorded inputs offline and print per-app and per-NF energy and CO2."""
    try:
        settings = load_settings(config)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    topology = topology_from_settings(settings)
    try:
        records = load_entries_file(inputs, topology)
    except RecordError as exc:
        raise click.ClickException(str(exc)) from None
    snaps = replay_run(topology, records)
    report = build_report(snaps, market=topology.market_configured, per_window=per_window)
    if fmt == "json":
        json.dump(report, sys.stdout, indent=2, sort_keys=False)
        sys.stdout.write("\n")
    else:
        click.echo(format_table(report))
