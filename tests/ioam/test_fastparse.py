"""The fast parser on hand-written frames: every byte annotated, one comment per field."""

from __future__ import annotations

import pytest

from collector.ioam import build
from collector.ioam.fastparse import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_RAW,
    RESULT_MALFORMED,
    RESULT_NO_IOAM,
    RESULT_PARSED,
    decode_frame,
    hot_parse,
)
from collector.ioam.scapy_engine import scapy_decode_frame


def hexbytes(text: str) -> bytes:
    """Hex with comments: everything after '#' on a line is ignored."""
    return bytes.fromhex("".join("".join(line.split("#")[0].split()) for line in text.splitlines()))


IPV6_HBH_TRACE = hexbytes(
    """
    6 00 abcde         # version 6, traffic class 0x00, flow label 0xabcde
    00 38              # payload length 56
    00                 # next header 0: Hop-by-Hop
    40                 # hop limit 64
    20010db8000000000000000000000001  # source 2001:db8::1
    20010db8000000000000000000000002  # destination 2001:db8::2
    11                 # HBH next header 17: UDP
    05                 # HBH length 5: (5+1)*8 = 48 bytes
    01 00              # PadN, 0 data bytes: the IOAM option starts at offset 4
    31                 # option type 0x31: IOAM, may change en route
    2a                 # option data length 42
    00                 # reserved
    00                 # IOAM option-type 0: pre-allocated trace
    00 7b              # namespace id 123
    10                 # NodeLen 2 (0b00010) | flags high bits 000
    82                 # flags low bit 1 (Overflow is bit 0 of 4: here 0b0001) | RemainingLen 2
    c0 00 00           # trace type 0xc00000: bits 0 (hop limit + node id) and 1 (if ids)
    00                 # reserved
    00000000 00000000  # 2 words of free pre-allocated space (RemainingLen 2)
    3e 000003          # node 3 (most recent): hop limit 62, node id 3
    001e 001f          # ingress if 30, egress if 31
    3f 000002          # node 2: hop limit 63, node id 2
    0014 0015          # ingress if 20, egress if 21
    40 000001          # node 1: hop limit 64, node id 1
    000a 000b          # ingress if 10, egress if 11
    03e8 07d0          # UDP source port 1000, destination port 2000
    0008 0000          # UDP length 8, checksum (not checked)
    """
)


def test_hot_parse_raw_ipv6_trace() -> None:
    result = hot_parse(IPV6_HBH_TRACE, LINKTYPE_RAW)
    assert result.status == RESULT_PARSED
    assert result.namespace_id == 123
    assert result.trace_type == 0xC00000
    assert result.node_ids == (3, 2, 1)
    assert result.overflow is False  # flags 0b0001: only the reserved bit
    assert result.ipv6_len == 96
    assert result.outer_len == 0
    assert result.flow_label == 0xABCDE
    assert result.dex_flow_id is None
    assert result.src == bytes.fromhex("20010db8000000000000000000000001")
    assert (result.proto, result.sport, result.dport) == (17, 1000, 2000)


def test_decode_frame_raw_ipv6_trace() -> None:
    [record] = decode_frame(IPV6_HBH_TRACE, LINKTYPE_RAW)
    assert record["option_type"] == "preallocated_trace"
    assert record["trace_type"] == "0xc00000"
    assert (record["flags"], record["remaining_len"], record["node_len"]) == (1, 2, 2)
    assert record["nodes"][0] == {
        "hop_limit": 62,
        "node_id": 3,
        "ingress_if_id": 30,
        "egress_if_id": 31,
    }
    assert [n["node_id"] for n in record["nodes"]] == [3, 2, 1]
    assert record["errors"] == []


DEX_LINUX = hexbytes(
    """
    31          # option type 0x31
    12          # option data length 18
    00          # reserved
    04          # IOAM option-type 4: direct export
    00 07       # namespace id 7
    00          # flags
    03          # extension flags 0x03: the Linux form, flow id then sequence number
    800000 00   # trace type 0x800000, reserved
    0000abcd    # flow id 0xabcd
    00000009    # sequence number 9
    """
)


@pytest.mark.parametrize(
    ("option", "flow", "seq", "error"),
    [
        (DEX_LINUX, 0xABCD, 9, None),
        # 0x80 flow id only, 4 extra bytes
        (build.dex_option(namespace_id=7, flow_id=5), 5, None, None),
        # 0x40 sequence only
        (build.dex_option(namespace_id=7, sequence_number=6), None, 6, None),
        # 0x03 but only one field: disagreement
        (DEX_LINUX[:1] + b"\x0e" + DEX_LINUX[2:16], None, None, "announce 0 optional bytes"),
        # 0xc0 (both) with only 4 extra bytes
        (hexbytes("31 0e 00 04 0007 00 c0 80000000 00000005"), None, None, "announce 8"),
    ],
)
def test_dex_forms(option: bytes, flow: int | None, seq: int | None, error: str | None) -> None:
    frame = build.ethernet(build.ipv6(hop_by_hop=[option], upper=build.udp(1, 2)))
    [record] = decode_frame(frame)
    hot = hot_parse(frame)
    if error is None:
        assert record["errors"] == []
        assert record.get("flow_id") == flow and record.get("sequence_number") == seq
        assert hot.status == RESULT_PARSED and hot.dex_flow_id == flow
        assert hot.namespace_id == 7
    else:
        assert any(error in e for e in record["errors"])
        assert hot.status == RESULT_MALFORMED


def _trace_frame(**kwargs: object) -> bytes:
    nodes = [{"hop_limit": 60 + i, "node_id": 10 + i} for i in range(3)]
    option = build.trace_option(namespace_id=9, trace_type=0x800000, nodes=nodes, **kwargs)  # type: ignore[arg-type]
    return build.ipv6(hop_by_hop=[option], upper=build.udp(5, 6))


@pytest.mark.parametrize(
    ("wrap", "linktype"),
    [
        (lambda p: build.ethernet(p), LINKTYPE_ETHERNET),
        (lambda p: build.ethernet(p, vlan=42), LINKTYPE_ETHERNET),
        (lambda p: build.linux_sll(p), LINKTYPE_LINUX_SLL),
        (lambda p: build.linux_sll2(p), LINKTYPE_LINUX_SLL2),
        (lambda p: p, LINKTYPE_RAW),
        (lambda p: p, LINKTYPE_IPV6),
    ],
)
def test_link_layers(wrap: object, linktype: int) -> None:
    frame = wrap(_trace_frame())  # type: ignore[operator]
    assert hot_parse(frame, linktype).node_ids == (10, 11, 12)
    assert decode_frame(frame, linktype)[0]["namespace_id"] == 9


GTPU_EXT = hexbytes(
    """
    34          # GTP-U flags: version 1, PT 1, E (extension header) set
    ff          # message type 255: G-PDU
    0000        # length (not relied upon)
    00000001    # TEID 1
    0000        # sequence number
    00          # N-PDU number
    85          # next extension header: PDU Session Container
    01          # extension length 1 (4 bytes)
    10 09       # PDU type 1 (UL), QFI 9
    00          # next extension header: none
    """
)


def test_gtpu_with_extension_header_over_ipv4() -> None:
    inner = _trace_frame()
    outer = build.ipv4(upper=build.udp(2152, 2152, GTPU_EXT + inner))
    frame = build.ethernet(outer, ethertype=0x0800)
    result = hot_parse(frame)
    assert result.status == RESULT_PARSED
    assert result.node_ids == (10, 11, 12)
    assert result.ipv6_len == len(inner)
    assert result.outer_len == len(outer)
    [record] = decode_frame(frame)
    assert record["gtpu"] is True and record["nodes"][2]["node_id"] == 12


def test_gtpu_over_ipv6_builder() -> None:
    inner = _trace_frame()
    outer = build.ipv6(
        upper=build.udp(2152, 2152, build.gtpu(inner, extensions=[(0x85, b"\x10\x09")]))
    )
    result = hot_parse(build.ethernet(outer))
    assert result.node_ids == (10, 11, 12) and result.outer_len == len(outer)


def test_wide_node_ids_and_namespace_choice() -> None:
    nodes = [{"hop_limit": 1, "node_id": 7, "node_id_wide": 2**55 + 3}]
    option = build.trace_option(namespace_id=5, trace_type=0x808000, nodes=nodes)
    frame = build.ethernet(build.ipv6(hop_by_hop=[option], upper=build.udp(1, 2)))
    assert hot_parse(frame).node_ids == (7,)
    assert hot_parse(frame, wide_namespaces=frozenset({5})).node_ids == (2**55 + 3,)
    only_wide = build.trace_option(namespace_id=5, trace_type=0x008000, nodes=nodes)
    frame = build.ethernet(build.ipv6(hop_by_hop=[only_wide], upper=build.udp(1, 2)))
    assert hot_parse(frame).node_ids == (2**55 + 3,)


def test_no_ioam() -> None:
    plain = build.ethernet(build.ipv6(upper=build.udp(1, 2)))
    assert hot_parse(plain).status == RESULT_NO_IOAM
    assert decode_frame(plain) == []
    arp = build.ethernet(b"\x00" * 28, ethertype=0x0806)
    assert hot_parse(arp).status == RESULT_NO_IOAM
    assert hot_parse(b"").status == RESULT_NO_IOAM


def test_destination_options_and_incremental() -> None:
    option = build.trace_option(
        namespace_id=3, trace_type=0x800000, nodes=[{"node_id": 4}], incremental=True, free_nodes=2
    )
    frame = build.ethernet(build.ipv6(destination=[option], upper=build.tcp(80, 81)))
    result = hot_parse(frame)
    assert result.node_ids == (4,) and (result.proto, result.sport) == (6, 80)
    [record] = decode_frame(frame)
    assert record["header"] == "destination" and record["option_type"] == "incremental_trace"
    assert record["remaining_len"] == 2


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (_trace_frame(node_len=3), "NodeLen 3 does not match"),
        (_trace_frame(node_len=0), "NodeLen 0 does not match"),
        (_trace_frame(remaining_len=20), "RemainingLen 20"),
        (_trace_frame()[:-20], "runs past"),
    ],
)
def test_malformed_examples(frame: bytes, message: str) -> None:
    assert hot_parse(frame, LINKTYPE_RAW).status == RESULT_MALFORMED
    records = decode_frame(frame, LINKTYPE_RAW)
    assert any(message in e for r in records for e in r["errors"]), records


def test_misaligned_option_is_an_error() -> None:
    option = build.trace_option(namespace_id=1, trace_type=0x800000, nodes=[{"node_id": 1}])
    # PadN of one byte's payload puts the IOAM option at offset 5
    header = build.options_header([b"\x01\x01\x00" + option], align=False)
    packet = build.ipv6(upper=(0, header))
    assert hot_parse(packet, LINKTYPE_RAW).status == RESULT_MALFORMED
    [record] = decode_frame(packet, LINKTYPE_RAW)
    assert "not 4n-aligned" in record["errors"][0]
    assert record["nodes"] == [{"hop_limit": 255, "node_id": 1}]


def test_hot_parse_accepts_memoryview_and_bytearray() -> None:
    frame = build.ethernet(_trace_frame())
    expected = hot_parse(frame)
    assert hot_parse(memoryview(frame)) == expected == hot_parse(bytearray(frame))
    assert isinstance(hot_parse(memoryview(frame)).src, bytes)
    assert decode_frame(memoryview(frame)) == decode_frame(frame)


GTPU_SEQ_ONLY = hexbytes(
    """
    32          # GTP-U flags: version 1, PT 1, S (sequence number) set, E clear
    ff          # message type 255: G-PDU
    0000        # length (not relied upon)
    00000001    # TEID 1
    0007        # sequence number 7
    00          # N-PDU number
    85          # next extension header type: not to be interpreted, E is clear (TS 29.281 5.1)
    """
)


def test_gtpu_next_extension_type_ignored_without_e_flag() -> None:
    inner = _trace_frame()
    outer = build.ipv4(upper=build.udp(2152, 2152, GTPU_SEQ_ONLY + inner))
    frame = build.ethernet(outer, ethertype=0x0800)
    result = hot_parse(frame)
    assert result.status == RESULT_PARSED and result.node_ids == (10, 11, 12)
    [record] = decode_frame(frame)
    assert record["gtpu"] is True and record["nodes"][2]["node_id"] == 12
    assert scapy_decode_frame(frame) == [record]


def test_trace_plan_cache_is_bounded_and_right_beyond_its_bound() -> None:
    """Plans are cached per trace header; hostile traffic with ever new headers (here: namespaces)
    cannot grow the cache past its bound, and frames past the bound parse just the same."""
    from collector.ioam import fastparse, hotparts

    def frame(namespace: int) -> bytes:
        nodes = [{"node_id": 3}, {"node_id": 2}]
        option = build.trace_option(namespace_id=namespace, trace_type=0x800000, nodes=nodes)
        return build.ipv6(hop_by_hop=[option], upper=build.udp(1, 2))

    template = frame(0)
    [at] = [i for i, (a, b) in enumerate(zip(template, frame(0xFF), strict=True)) if a != b]
    for namespace in range(hotparts.PLAN_CACHE_SIZE + 500):
        patched = template[: at - 1] + namespace.to_bytes(2, "big") + template[at + 1 :]
        result = hot_parse(patched, LINKTYPE_RAW)
        assert (result.namespace_id, result.node_ids) == (namespace, (3, 2))
    assert len(fastparse._PLANS) <= hotparts.PLAN_CACHE_SIZE
