"""Malformed IOAM: every case gives an `errors` entry in both engines and MALFORMED in the hot
path; nothing raises."""

from __future__ import annotations

import json
from typing import Any

import pytest

from collector.ioam import build, wire
from collector.ioam.fastparse import (
    RESULT_MALFORMED,
    RESULT_NO_IOAM,
    RESULT_PARSED,
    HotResult,
    decode_frame,
    hot_parse,
)
from collector.ioam.scapy_engine import scapy_decode_frame
from tests.ioam.test_fastparse import hexbytes

NODES = [{"hop_limit": 64 - i, "node_id": i + 1} for i in range(3)]


def _frame(*options: bytes, align: bool = True) -> bytes:
    header = build.options_header(list(options), align=align)
    return build.ethernet(build.ipv6(upper=(0, header + build.udp(1, 2)[1])))


def _raw_trace(body_hex: str) -> bytes:
    body = hexbytes(body_hex)
    return bytes([0x31, len(body)]) + body


CASES: dict[str, tuple[bytes, str]] = {
    "option runs past its header": (
        _frame(b"\x31\x40" + bytes(10)),
        "runs past its header",
    ),
    "header length past the packet": (
        build.ethernet(
            build.ipv6(
                hop_by_hop=[build.trace_option(namespace_id=1, trace_type=0x800000, nodes=NODES)]
            )
        )[:-12],
        "runs past the packet",
    ),
    "RemainingLen beyond the data": (
        _frame(
            build.trace_option(namespace_id=1, trace_type=0x800000, nodes=NODES, remaining_len=9)
        ),
        "RemainingLen 9",
    ),
    "NodeLen 0": (
        _frame(build.trace_option(namespace_id=1, trace_type=0x800000, nodes=NODES, node_len=0)),
        "NodeLen 0",
    ),
    "trace type with no data": (
        _frame(_raw_trace("00 00  0001  08 00  000001 00  00000000")),  # only reserved bit 23
        "selects no data",
    ),
    "trace header truncated": (
        _frame(_raw_trace("00 00  0001 08")),
        "trace option truncated",
    ),
    "odd alignment": (
        _frame(
            b"\x01\x01\x00" + build.trace_option(namespace_id=1, trace_type=0x800000, nodes=NODES),
            align=False,
        ),
        "not 4n-aligned",
    ),
    "nodes not whole": (
        _frame(_raw_trace("00 00  0001  10 00  c00000 00  01000001 ffffffff 02000002")),
        "not a whole number",
    ),
    "opaque state past the option": (
        _frame(_raw_trace("00 00  0001  00 00  000002 00  05 000001 aabbccdd")),
        "node 0 runs past",
    ),
    "DEX flags disagree with length": (
        _frame(hexbytes("31 0e 00 04 0001 00 03 000000 00 00000001")),
        "DEX Extension-Flags 0x03",
    ),
    "DEX header truncated": (_frame(hexbytes("31 04 00 04 0001")), "dex option truncated"),
    "unknown IOAM option-type": (
        _frame(hexbytes("31 06 00 09 0001 0000")),
        "unknown IOAM option-type 9",
    ),
    "IOAM option without its type byte": (_frame(hexbytes("31 01 00")), "IOAM option truncated"),
    "truncated IPv6 header": (
        build.ethernet(bytes.fromhex("6000000000080040") + bytes(10)),
        "IPv6 header truncated",
    ),
    "GTP-U extension truncated": (
        build.ethernet(
            build.ipv4(
                upper=build.udp(2152, 2152, hexbytes("34ff0000 00000001 0000 00 85 05 1009"))
            ),
            ethertype=0x0800,
        ),
        "GTP-U extension header truncated",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_case(name: str) -> None:
    frame, message = CASES[name]
    fast = decode_frame(frame)
    assert json.dumps(fast) == json.dumps(scapy_decode_frame(frame))
    errors = [e for record in fast for e in record["errors"]]
    assert any(message in e for e in errors), errors
    assert hot_parse(frame).status == RESULT_MALFORMED


@pytest.mark.parametrize("size", range(0, 80, 7))
def test_garbage_never_raises(size: int) -> None:
    garbage = bytes((i * 37 + size) & 0xFF for i in range(size))
    for linktype in (1, 101, 113, 229, 276, 12345):
        hot_parse(garbage, linktype)
        assert decode_frame(garbage, linktype) == scapy_decode_frame(garbage, linktype)


def assert_consistent(
    frame: bytes, linktype: int, hot: HotResult, records: list[dict[str, Any]]
) -> None:
    """The hot path judges a frame as the full decode does, and reads the same node ids."""
    if any(record["errors"] for record in records):
        assert hot.status == RESULT_MALFORMED, (frame.hex(), records)
        return
    if not records:
        assert hot.status == RESULT_NO_IOAM, frame.hex()
        return
    assert hot.status == RESULT_PARSED, (frame.hex(), records)
    mine = [r for r in records if not r["gtpu"]] or records  # IOAM on the outer packet wins
    traces = [r for r in mine if r["option_type"] in ("preallocated_trace", "incremental_trace")]
    dexes = [r for r in mine if r["option_type"] == "dex"]
    first = (traces or dexes or mine)[0]
    assert hot.namespace_id == first["namespace_id"], frame.hex()
    if traces:
        trace_type = int(traces[0]["trace_type"], 16)
        key = "node_id" if trace_type & wire.NODE_ID_MASK else "node_id_wide"
        assert hot.node_ids == tuple(node.get(key) for node in traces[0]["nodes"] if key in node)
    assert hot.dex_flow_id == (dexes[0].get("flow_id") if dexes else None)
