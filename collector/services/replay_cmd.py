"""`e2e-energy replay`: attribute recorded inputs (JSON Lines) offline, for what-if and tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

import click

from collector.attribution import Engine, Snapshot, Topology, topology_from_settings
from collector.attribution.grid import windows_between
from collector.attribution.records import Record, RecordError, read_records
from collector.attribution.report import build_report, format_table
from collector.settings import SettingsError, load_settings

MAX_REPLAY_WINDOWS = 1_000_000
"""About 174 days of 15 s windows; a wider span is a bad timestamp (ms, not s), not a run."""


def load_records(stream: TextIO, topology: Topology, origin: str) -> list[Record]:
    """Read every record; a malformed line or an unknown NF is reported with its line number."""
    known = set(topology.nf_names())
    records: list[Record] = []
    lines: list[int] = []
    try:
        for lineno, rec in read_records(stream):
            nf = getattr(rec, "nf", None)
            if nf is not None and nf not in known:
                raise RecordError(
                    f"line {lineno}: unknown nf {nf!r} (configured: {', '.join(sorted(known))})"
                )
            records.append(rec)
            lines.append(lineno)
        _check_span(records, lines, topology.window_seconds)
    except RecordError as exc:
        raise click.ClickException(f"{origin}: {exc}") from None
    return records


def _check_span(records: list[Record], lines: list[int], window_seconds: float) -> None:
    """Refuse a time span of more than MAX_REPLAY_WINDOWS windows, naming the two lines."""
    if not records:
        return
    lo = min(range(len(records)), key=lambda i: records[i].t)
    hi = max(range(len(records)), key=lambda i: records[i].t)
    windows = (records[hi].t - records[lo].t) / window_seconds
    if windows > MAX_REPLAY_WINDOWS:
        raise RecordError(
            f"line {lines[lo]} (t={records[lo].t:g}) and line {lines[hi]} (t={records[hi].t:g})"
            f" span {windows:.3g} windows, more than {MAX_REPLAY_WINDOWS}: is a `t` in"
            " milliseconds?"
        )


def replay_run(topology: Topology, records: list[Record]) -> list[Snapshot]:
    """Every window from the first record's to the last one ending at or before the last record."""
    if not records:
        return []
    first = min(r.t for r in records)
    last = max(r.t for r in records)
    engine = Engine(topology)
    engine.ingest(records)
    return [engine.compute(s) for s in windows_between(first, last, topology.window_seconds)]


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
        with inputs.open(encoding="utf-8", errors="surrogateescape") as stream:
            records = load_records(stream, topology, str(inputs))
    except OSError as exc:
        raise click.ClickException(f"{inputs}: cannot read: {exc.strerror}") from None
    snaps = replay_run(topology, records)
    report = build_report(snaps, market=topology.market_configured, per_window=per_window)
    if fmt == "json":
        json.dump(report, sys.stdout, indent=2, sort_keys=False)
        sys.stdout.write("\n")
    else:
        click.echo(format_table(report))
