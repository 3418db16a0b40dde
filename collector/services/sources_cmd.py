"""`e2e-energy sources probe`: read every configured source and carbon zone once and print it."""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from typing import Any

import click

from collector.carbon.service import CarbonService, build_carbon
from collector.models import IntensitySample, ReadResult
from collector.settings import Settings, SettingsError, load_settings


def _row(target: str, value: float | None, unit: str, t: float, **extra: Any) -> dict[str, Any]:
    row = {
        "target": target,
        "value": value,
        "unit": unit,
        "kind": "counter",
        "t": t,
        "basis": "",
        "unsupported": False,
    }
    row.update(extra)
    return row


def _rows(result: ReadResult) -> list[dict[str, Any]]:
    """Every reading of one source as flat rows (value, unit, target, time, basis)."""
    rows = [
        _row(
            e.target + "".join(f"{{{k}={v}}}" for k, v in e.labels),
            None if e.unsupported or math.isnan(e.value) else e.value,
            "J" if e.kind == "counter" else "W",
            e.t,
            kind=e.kind,
            basis=e.energy_basis,
            unsupported=e.unsupported,
            resolution_joules=e.resolution_joules,
        )
        for e in result.energy
    ]
    for tr in result.traffic_totals:
        rows.append(_row(tr.target, tr.bytes_total, "bytes", tr.t))
        rows.append(_row(tr.target, tr.packets_total, "packets", tr.t))
    rows.extend(
        _row(f"app={rq.app} ({rq.label_value})", rq.requests_total, "requests", rq.t)
        for rq in result.requests
    )
    return rows


def _zones(carbon: CarbonService, intensity: list[IntensitySample], now: float) -> list[Any]:
    by_zone = {s.zone: s for s in intensity}
    health = carbon.health()
    out = []
    for zone, chain in carbon.chains.items():
        s = by_zone.get(zone)
        out.append(
            {
                "zone": zone,
                "grams_per_kwh": None if s is None else s.grams_per_kwh,
                "provider": None if s is None else s.provider,
                "signal": None if s is None else s.signal,
                "t": None if s is None else s.t,
                "age_seconds": carbon.age_seconds(zone, now),
                "errors": [
                    {"provider": p.label, "message": health[p.label].last_error}
                    for p in chain
                    if health[p.label].last_error
                ],
            }
        )
    return out


async def probe(settings: Settings) -> dict[str, Any]:
    """Read all sources concurrently (each with its deadline) and every carbon zone once."""
    from collector.power.registry import build_poller

    poller = build_poller(settings)
    carbon = build_carbon(settings)
    now = time.time()
    try:
        results, intensity = await asyncio.gather(poller.poll_once(), carbon.refresh(now))
    finally:
        await poller.aclose()
        await carbon.aclose()
    sources = [
        {
            "source": r.source,
            "up": r.up,
            "duration_seconds": round(r.duration_seconds, 4),
            "readings": _rows(r),
            "errors": [{"kind": e.kind, "message": e.message} for e in r.errors],
        }
        for r in results
    ]
    indices = [
        {"zone": i.zone, "provider": i.provider, "value": i.value, "units": i.units}
        for i in carbon.indices
    ]
    return {"sources": sources, "carbon": _zones(carbon, intensity, now), "indices": indices}


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def print_table(report: dict[str, Any]) -> None:
    click.echo(f"{'SOURCE':<16} {'TARGET':<22} {'VALUE':>14} {'UNIT':<8} {'BASIS':<9} TIME")
    for s in report["sources"]:
        if not s["readings"] and not s["errors"]:
            click.echo(f"{s['source']:<16} (no readings)")
        for r in s["readings"]:
            value = "unsupported" if r["unsupported"] else _fmt(r["value"])
            click.echo(
                f"{s['source']:<16} {r['target']:<22} {value:>14} {r['unit']:<8} "
                f"{r['basis']:<9} {time.strftime('%H:%M:%S', time.gmtime(r['t']))}"
            )
        for e in s["errors"]:
            click.echo(f"{s['source']:<16} ERROR {e['kind']}: {e['message']}")
    for z in report["carbon"]:
        click.echo(
            f"zone {z['zone']:<11} {_fmt(z['grams_per_kwh']):>14} gCO2e/kWh "
            f"{z['provider'] or '-'} ({z['signal'] or '-'}) age {_fmt(z['age_seconds'])}s"
        )
        for e in z["errors"]:
            click.echo(f"zone {z['zone']:<11} ERROR {e['provider']}: {e['message']}")
    for i in report["indices"]:
        click.echo(f"index {i['zone']:<10} {_fmt(i['value']):>14} {i['units']} ({i['provider']})")


@click.group()
def sources() -> None:
    """Read power, traffic, request and carbon sources."""


@sources.command("probe")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def probe_cmd(config: str, fmt: str) -> None:
    """Read every configured source and carbon zone once; exit 1 when any source is down."""
    try:
        settings = load_settings(config)
        report = asyncio.run(probe(settings))
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        print_table(report)
    if any(not s["up"] for s in report["sources"]):
        sys.exit(1)
