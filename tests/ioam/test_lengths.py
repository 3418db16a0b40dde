"""Every layer ends where its own length field says (IPv4 Total Length, RFC 791 section 3.1;
IPv6 Payload Length, RFC 8200 section 3; UDP Length, RFC 768): bytes past it are not part of
the packet, so an inner packet or an options header that reaches past them is cut short.

These disagreements were exposed by the scapy engine, whose layers cut each payload at its
length field, against a walker that read on to the end of the capture."""

from __future__ import annotations

import json
import struct

import pytest

from collector.ioam import build
from collector.ioam.fastparse import RESULT_MALFORMED, RESULT_PARSED, decode_frame, hot_parse
from collector.ioam.scapy_engine import scapy_decode_frame

NODES = [{"hop_limit": 64 - i, "node_id": 7 + i} for i in range(3)]
TRACE = build.trace_option(namespace_id=5, trace_type=0x800000, nodes=NODES)
INNER = build.ipv6(hop_by_hop=[TRACE], upper=build.udp(1000, 2000, b"payload"))
HBH_BYTES = 8 * (INNER[41] + 1)  # the inner packet's Hop-by-Hop header, 40 bytes in
G_PDU = build.gtpu(INNER)  # 8-byte GTP-U header, no optional fields
ETH, IP4, UDP, GTP = 14, 20, 8, 8
CUT = IP4 + UDP + GTP + 40 + 4  # an outer length ending 4 bytes into the inner Hop-by-Hop


def _set16(frame: bytes, offset: int, value: int) -> bytes:
    return frame[:offset] + struct.pack("!H", value) + frame[offset + 2 :]


def _over_ipv4() -> bytes:
    return build.ethernet(build.ipv4(upper=build.udp(2152, 2152, G_PDU)), ethertype=0x0800)


def _over_ipv6() -> bytes:
    return build.ethernet(build.ipv6(upper=build.udp(2152, 2152, G_PDU)))


def _cut_short(frame: bytes) -> None:
    """Both decoders report the inner Hop-by-Hop header past its packet; the hot path agrees."""
    records = decode_frame(frame)
    assert json.dumps(records) == json.dumps(scapy_decode_frame(frame))
    assert [r["errors"] for r in records] == [
        [f"options header of {HBH_BYTES} bytes runs past the packet"]
    ]
    hot = hot_parse(frame)
    assert hot.status == RESULT_MALFORMED and hot.ipv6_len == len(INNER)


def test_the_uncut_frames_parse() -> None:
    for frame in (_over_ipv4(), _over_ipv6()):
        [record] = decode_frame(frame)
        assert record["errors"] == [] and [n["node_id"] for n in record["nodes"]] == [7, 8, 9]
        assert hot_parse(frame).status == RESULT_PARSED


def test_ipv4_total_length_ends_the_g_pdu() -> None:
    frame = _set16(_over_ipv4(), ETH + 2, CUT)  # the UDP Length still claims the whole G-PDU
    _cut_short(frame)
    assert hot_parse(frame).outer_len == CUT


def test_udp_length_ends_the_g_pdu() -> None:
    _cut_short(_set16(_over_ipv4(), ETH + IP4 + 4, CUT - IP4))


def test_outer_ipv6_payload_length_ends_the_g_pdu() -> None:
    frame = _set16(_over_ipv6(), ETH + 4, CUT - IP4)  # 40-byte header, payload from the UDP on
    _cut_short(frame)
    assert hot_parse(frame).outer_len == 40 + CUT - IP4


@pytest.mark.parametrize("length", [0, 3])
def test_udp_length_below_8_is_not_a_bound(length: int) -> None:
    """0 is the UDP Length of a jumbogram (RFC 2675 section 4); neither 0 nor a value below the
    header's own 8 bytes can end the datagram, so the captured IP payload is read."""
    frame = _set16(_over_ipv4(), ETH + IP4 + 4, length)
    [record] = decode_frame(frame)
    assert json.dumps([record]) == json.dumps(scapy_decode_frame(frame))
    assert record["errors"] == [] and hot_parse(frame).node_ids == (7, 8, 9)


def test_options_header_beyond_the_payload_length_is_truncated() -> None:
    """Payload Length 1: the packet ends inside the Hop-by-Hop header's first two bytes, however
    many bytes the capture holds after it."""
    frame = _set16(build.ethernet(INNER), ETH + 4, 1)
    records = decode_frame(frame)
    assert json.dumps(records) == json.dumps(scapy_decode_frame(frame))
    assert [r["errors"] for r in records] == [["options header truncated"]]
    assert hot_parse(frame).status == RESULT_MALFORMED
