"""The scapy engine's rules (collector/ioam/scapy_engine.py, rules 1-6) on hand-built frames:
each frame walks a path where scapy's own dissection departs from the standards, and the struct
decoder, the scapy engine and the hot path must all find what the frame was built to carry."""

from __future__ import annotations

import json
import random
import struct

import pytest

from collector.ioam import build
from collector.ioam.fastparse import RESULT_NO_IOAM, RESULT_PARSED, decode_frame, hot_parse
from collector.ioam.scapy_engine import scapy_decode_frame
from tests.ioam.test_fuzz import mutate
from tests.ioam.test_malformed import assert_consistent

NODES = [{"hop_limit": 64 - i, "node_id": 7 + i} for i in range(3)]
TRACE = build.trace_option(namespace_id=5, trace_type=0x800000, nodes=NODES)
OTHER_TRACE = build.trace_option(namespace_id=6, trace_type=0x800000, nodes=[{"node_id": 42}])
UDP = build.udp(1000, 2000, b"payload")[1]
ADDRESS = bytes(range(16))


def generic(next_header: int, length: int = 1) -> bytes:
    """An extension header in the uniform format of RFC 6564: (length + 1) x 8 bytes."""
    return bytes([next_header, length]) + bytes(8 * length + 6)


def srh(next_header: int, last_entry: int) -> bytes:
    """A Segment Routing Header (RFC 8754) with one segment; Last Entry may lie about it."""
    return bytes([next_header, 2, 4, 0, last_entry, 0, 0, 0]) + ADDRESS


def ah(next_header: int) -> bytes:
    """An Authentication Header (RFC 4302): Payload Len 4 -> (4 + 2) x 4 = 24 bytes."""
    return bytes([next_header, 4, 0, 0]) + struct.pack("!II", 0x100, 1) + bytes(12)


def fragment(next_header: int, offset: int) -> bytes:
    return bytes([next_header, 0]) + struct.pack("!HI", offset << 3, 99)


def dest_trace(next_header: int = 17) -> bytes:
    return build.options_header([TRACE], next_header=next_header)


def chain(first: int, *headers: bytes) -> bytes:
    """An Ethernet frame: IPv6 whose Next Header is `first`, then `headers` as they are."""
    return build.ethernet(build.ipv6(upper=(first, b"".join(headers))))


def g_pdu(header: bytes, inner: bytes) -> bytes:
    return build.ethernet(build.ipv4(upper=build.udp(2152, 2152, header + inner)), ethertype=0x0800)


INNER = build.ipv6(hop_by_hop=[TRACE], upper=build.udp(1, 2))
HBH = build.ethernet(INNER)

# name -> (frame, [(header, gtpu, node ids)] expected, in wire order)
CASES: dict[str, tuple[bytes, list[tuple[str, bool, list[int]]]]] = {
    "802.1ad then 802.1Q": (
        HBH[:12] + bytes.fromhex("88a8000a 8100000b") + HBH[12:],
        [("hop_by_hop", False, [7, 8, 9])],
    ),
    "0x9100 tag (rule 2)": (
        HBH[:12] + bytes.fromhex("9100000a") + HBH[12:],
        [("hop_by_hop", False, [7, 8, 9])],
    ),
    "802.3 length field": (HBH[:12] + b"\x05\xdc" + HBH[14:], []),
    "routing header": (
        chain(43, srh(60, 0), dest_trace(), UDP),
        [("destination", False, [7, 8, 9])],
    ),
    "SRH whose Last Entry lies (rule 4)": (
        chain(43, srh(60, 3), dest_trace(), UDP),
        [("destination", False, [7, 8, 9])],
    ),
    "AH (rule 4)": (chain(51, ah(60), dest_trace(), UDP), [("destination", False, [7, 8, 9])]),
    "Mobility, HIP, Shim6, experimental (rule 4)": (
        chain(
            135,
            generic(139),
            generic(140, 2),
            generic(253),
            generic(254, 0),
            generic(60),
            dest_trace(),
            UDP,
        ),
        [("destination", False, [7, 8, 9])],
    ),
    "first fragment": (
        chain(44, fragment(60, 0), dest_trace(), UDP),
        [("destination", False, [7, 8, 9])],
    ),
    "later fragment hides what follows": (
        chain(
            0, build.options_header([OTHER_TRACE], next_header=44), fragment(60, 5), dest_trace()
        ),
        [("hop_by_hop", False, [42])],
    ),
    "Router Alert and Jumbo options of odd lengths (rule 5)": (
        build.ethernet(
            build.ipv6(
                upper=(
                    0,
                    build.options_header(
                        [bytes.fromhex("0504 00000000"), bytes.fromhex("c206 000000000000"), TRACE]
                    )
                    + UDP,
                )
            )
        ),
        [("hop_by_hop", False, [7, 8, 9])],
    ),
    "Payload Length 0 (rule 3)": (
        HBH[:18] + b"\x00\x00" + HBH[20:],
        [("hop_by_hop", False, [7, 8, 9])],
    ),
    "GTP-U, sequence number only": (
        g_pdu(bytes.fromhex("32ff0000 00000001 0007 00 85"), INNER),
        [("hop_by_hop", True, [7, 8, 9])],
    ),
    "GTP-U, N-PDU number only": (
        g_pdu(bytes.fromhex("31ff0000 00000001 0000 05 00"), INNER),
        [("hop_by_hop", True, [7, 8, 9])],
    ),
    "GTP-U, E set, no extension header (rule 6)": (
        g_pdu(bytes.fromhex("34ff0000 00000001 0000 00 00"), INNER),
        [("hop_by_hop", True, [7, 8, 9])],
    ),
    "GTP-U, two extension headers (rule 6)": (
        g_pdu(bytes.fromhex("34ff0000 00000001 0000 00 85  01 1009 40  01 0868 00"), INNER),
        [("hop_by_hop", True, [7, 8, 9])],
    ),
    "GTP-U, PDU Session Container longer than its fields (rule 6)": (
        g_pdu(bytes.fromhex("34ff0000 00000001 0000 00 85  02 1009 00000000 00"), INNER),
        [("hop_by_hop", True, [7, 8, 9])],
    ),
    "GTP-U, extension type scapy has no layer for (rule 6)": (
        g_pdu(bytes.fromhex("34ff0000 00000001 0000 00 20  02 aabbccddeeff 00"), INNER),
        [("hop_by_hop", True, [7, 8, 9])],
    ),
    "GTP-U from source port 2152 only": (
        build.ethernet(
            build.ipv4(upper=build.udp(2152, 4000, build.gtpu(INNER))), ethertype=0x0800
        ),
        [],
    ),
    "UDP Length 0 over IPv6 (rule 3)": (
        build.ethernet(
            build.ipv6(
                hop_by_hop=[OTHER_TRACE],
                upper=(17, struct.pack("!HHHH", 2152, 2152, 0, 0) + build.gtpu(INNER)),
            )
        ),
        [("hop_by_hop", False, [42]), ("hop_by_hop", True, [7, 8, 9])],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_oracle_rule(name: str) -> None:
    frame, expected = CASES[name]
    records = decode_frame(frame)
    assert json.dumps(records) == json.dumps(scapy_decode_frame(frame))
    assert [r["errors"] for r in records] == [[] for _ in expected]
    found = [(r["header"], r["gtpu"], [n["node_id"] for n in r["nodes"]]) for r in records]
    assert found == expected
    hot = hot_parse(frame)
    if expected:
        assert hot.status == RESULT_PARSED and list(hot.node_ids) == expected[0][2]
    else:
        assert hot.status == RESULT_NO_IOAM


def test_gtpu_optional_fields_cut_short() -> None:
    """Rule 6: GTP_U_Header cannot dissect a header whose flags announce 4 more octets that are
    not there; both engines say so."""
    frame = g_pdu(bytes.fromhex("32ff0000 00000001 00"), b"")
    records = decode_frame(frame)
    assert json.dumps(records) == json.dumps(scapy_decode_frame(frame))
    assert [r["errors"] for r in records] == [["GTP-U optional fields truncated"]]


def test_mutated_rule_frames_engines_agree() -> None:
    """The frames above, mutated as test_fuzz mutates its seeds: the scapy engine prints what the
    struct decoder prints, and the hot path judges as the struct decoder does."""
    rnd = random.Random(20261201)
    seeds = [frame for frame, _ in CASES.values()]
    for index in range(1_000):
        frame = mutate(rnd, seeds[index % len(seeds)])
        records = decode_frame(frame)
        assert_consistent(frame, 1, hot_parse(frame), records)
        assert json.dumps(records) == json.dumps(scapy_decode_frame(frame)), frame.hex()
