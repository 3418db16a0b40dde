"""`e2e-energy ioam decode`: IOAM options of a pcap/pcapng file as JSON Lines or a table."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from collector.ioam.pcapfile import PcapError, read_packets

Decoder = Callable[[bytes, int], list[dict[str, Any]]]

# The order keys are printed in; keys a record lacks are skipped, others follow.
KEY_ORDER = (
    "packet",
    "option_type",
    "namespace_id",
    "trace_type",
    "flags",
    "remaining_len",
    "node_len",
    "nodes",
    "extension_flags",
    "flow_id",
    "sequence_number",
    "pot_type",
    "e2e_type",
    "ioam_type",
    "data",
    "header",
    "ipv6_option",
    "gtpu",
    "errors",
)


def ordered(record: dict[str, Any], packet: int) -> dict[str, Any]:
    full = {"packet": packet, **record}
    out = {key: full[key] for key in KEY_ORDER if key in full}
    out.update((key, value) for key, value in full.items() if key not in out)
    return out


ENGINES = {
    "struct": "the hand-written decoder (collector/ioam/walker.py, the walker the agent's hot "
    "path uses, then fulldecode.py for every field)",
    "scapy": "the independent oracle (collector/ioam/scapy_engine.py): scapy's own layer chain "
    "and the scapy IOAM layers; much slower, for checking struct",
}
DEPRECATED = {"fast": "struct"}  # `fast` always ran the struct decoder, never the hot path


def _decoder(engine: str) -> Decoder:
    if engine == "scapy":
        from collector.ioam.scapy_engine import scapy_decode_frame

        return scapy_decode_frame
    from collector.ioam.fulldecode import decode_frame

    return decode_frame


def decode_file(path: Path, engine: str) -> Iterator[dict[str, Any]]:
    """Ordered records of every IOAM option in the file; PcapError when the file breaks."""
    decode = _decoder(engine)
    for index, (_, linktype, frame) in enumerate(read_packets(path), start=1):
        for record in decode(frame, linktype):
            yield ordered(record, index)


def _table_row(record: dict[str, Any]) -> str:
    nodes = record.get("nodes") or []
    ids = ",".join(str(node.get("node_id", node.get("node_id_wide", "-"))) for node in nodes)
    extra = f"flow={record['flow_id']}" if "flow_id" in record else ""
    errors = "; ".join(record["errors"])
    return (
        f"{record['packet']:>7} {record['option_type'] or '-':<18} "
        f"{record.get('namespace_id', '-')!s:>6} {record.get('trace_type', '-'):>8} "
        f"{ids or extra or '-':<24} {errors}"
    ).rstrip()


@click.group()
def ioam() -> None:
    """Decode IOAM options (RFC 9197/9486/9326) in pcap and pcapng files."""


@ioam.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--engine",
    type=click.Choice([*ENGINES, *DEPRECATED]),
    default="struct",
    show_default=True,
    help="; ".join(f"{name}: {what}" for name, what in ENGINES.items())
    + ". Both print identical output; fast is a deprecated name for struct.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "table"]),
    default="json",
    show_default=True,
    help="json: one object per IOAM option per packet (JSON Lines).",
)
def decode(file: Path, engine: str, fmt: str) -> None:
    """Print every IOAM option of FILE; malformed options carry an `errors` list."""
    if engine in DEPRECATED:
        engine = DEPRECATED[engine]
        click.echo(
            f"warning: --engine fast is deprecated, use --engine {engine} (the same decoder)",
            err=True,
        )
    options = malformed = 0
    if fmt == "table":
        click.echo(f"{'packet':>7} {'option':<18} {'ns':>6} {'type':>8} {'nodes':<24} errors")
    try:
        for record in decode_file(file, engine):
            options += 1
            malformed += bool(record["errors"])
            if fmt == "json":
                click.echo(json.dumps(record))
            else:
                click.echo(_table_row(record))
    except PcapError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{options} IOAM options, {malformed} with errors", file=sys.stderr)
