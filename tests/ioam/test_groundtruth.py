"""Ground truth from outside: traces the Linux kernel filled in, decoded by `e2e-energy ioam
decode` and by tshark, compared field by field (and against the testbed's configuration)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, need_binary, need_root

FIXTURES = ROOT / "tests" / "fixtures" / "ioam"

# tshark field suffix (ipv6.opt.ioam.trace.node.*) -> our node key
NODE_FIELDS = {
    "id": "node_id",
    "iif": "ingress_if_id",
    "eif": "egress_if_id",
    "tss": "timestamp_seconds",
    "tsf": "timestamp_fraction",
    "trdelay": "transit_delay",
    "nsdata": "namespace_data",
    "qdepth": "queue_depth",
    "csum": "checksum_complement",
    "id_wide": "node_id_wide",
    "iif_wide": "ingress_if_id_wide",
    "eif_wide": "egress_if_id_wide",
    "nsdata_wide": "namespace_data_wide",
    "bufoccup": "buffer_occupancy",
}
HEADER_FIELDS = ["ns", "nodelen", "remlen", "type", "flag.o", "flag.l", "flag.a"]
EXTRA_NODE_FIELDS = ["hlim", "oss.scid", "oss.data"]


def tshark_traces(path: Path) -> list[dict[str, list[str]]]:
    """One dict per packet: tshark field -> its values (aggregated per node)."""
    fields = [f"ipv6.opt.ioam.trace.{f}" for f in HEADER_FIELDS] + [
        f"ipv6.opt.ioam.trace.node.{f}" for f in [*NODE_FIELDS, *EXTRA_NODE_FIELDS]
    ]
    args = [need_binary("tshark"), "-r", str(path), "-T", "fields", "-E", "separator=/t"]
    args += ["-E", "aggregator=;", *[x for f in fields for x in ("-e", f)]]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    names = [f.removeprefix("ipv6.opt.ioam.trace.") for f in fields]
    return [
        {
            name: value.split(";") if value else []
            for name, value in zip(names, line.split("\t"), strict=True)
        }
        for line in out.splitlines()
    ]


def our_traces(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "collector", "ioam", "decode", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


def _num(text: str) -> int:
    return int(text, 0)


def _flag(text: str) -> bool:
    return text in ("1", "True")


def compare_with_tshark(path: Path) -> list[dict[str, Any]]:
    """Assert both decoders agree on every trace field of every packet; return ours."""
    theirs, ours = tshark_traces(path), our_traces(path)
    assert len(ours) == len(theirs) > 0
    for index, (t, o) in enumerate(zip(theirs, ours, strict=True)):
        where = f"packet {index + 1}"
        assert o["errors"] == [], where
        assert [o["namespace_id"], o["node_len"], o["remaining_len"]] == [
            _num(t["ns"][0]),
            _num(t["nodelen"][0]),
            _num(t["remlen"][0]),
        ], where
        assert o["trace_type"] == f"0x{_num(t['type'][0]):06x}", where
        flags = [_flag(t[f][0]) for f in ("flag.o", "flag.l", "flag.a")]
        assert flags == [bool(o["flags"] & bit) for bit in (8, 4, 2)], where
        for suffix, key in NODE_FIELDS.items():
            assert [n[key] for n in o["nodes"] if key in n] == [
                _num(v) for v in t[f"node.{suffix}"]
            ], (where, key)
        hop_limits = [_num(v) for v in t["node.hlim"]]
        per_node = max(1, len(hop_limits) // max(1, len(o["nodes"])))  # bits 0 and 8: one each
        ours_hlim = [n["hop_limit"] for n in o["nodes"] if "hop_limit" in n]
        assert ours_hlim == hop_limits[::per_node], where
        oss = [n["opaque_state"] for n in o["nodes"] if "opaque_state" in n]
        assert [s["schema_id"] for s in oss] == [_num(v) for v in t["node.oss.scid"]], where
        assert [s["data"] for s in oss] == [v.replace(":", "") for v in t["node.oss.data"]], where
    return ours


SCENARIOS = {
    "all_fixed_fields": ["--trace-type", "0xfff000"],
    "opaque_state": ["--trace-type", "0xd00000", "--oss"],
    "overflow": ["--trace-type", "0xc00000", "--slots", "1"],
}


@pytest.mark.netns
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_live_kernel_traces(scenario: str, tmp_path: Path) -> None:
    need_root()
    for binary in ("ip", "dumpcap", "tshark"):
        need_binary(binary)
    out = tmp_path / f"{scenario}.pcapng"
    subprocess.run(
        [sys.executable, "-m", "testbed.ioam_groundtruth", "--out", str(out), "--packets", "4"]
        + SCENARIOS[scenario],
        check=True,
        timeout=120,
    )
    ours = compare_with_tshark(out)
    for record in ours:  # and what the testbed configured: A = node 1, B = node 2
        nodes = record["nodes"]
        if scenario == "overflow":
            assert record["flags"] & 8 and [n["node_id"] for n in nodes] == [1]
            continue
        assert [n["node_id"] for n in nodes] == [2, 1]
        assert [(n["ingress_if_id"], n["egress_if_id"]) for n in nodes] == [(21, 22), (11, 12)]
        assert [n["hop_limit"] for n in nodes] == [62, 63]
        if scenario == "all_fixed_fields":
            assert [n["node_id_wide"] for n in nodes] == [0x00B0000000000002, 0x00A0000000000001]
            assert [n["namespace_data"] for n in nodes] == [0xB2B2B2B2, 0xA1A1A1A1]
        else:
            assert [n["opaque_state"] for n in nodes] == [
                {"schema_id": 7, "data": b"e2ee".hex()}
            ] * 2


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.pcapng")), ids=lambda p: p.name)
def test_committed_kernel_captures(path: Path) -> None:
    compare_with_tshark(path)
