"""scapy IOAM layers, both ways: build -> bytes equal to the builders', bytes -> fields."""

from __future__ import annotations

from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop

from collector.ioam import build
from collector.ioam import scapy_layers as L
from collector.ioam.scapy_engine import scapy_decode_frame
from tests.ioam.test_fastparse import DEX_LINUX, hexbytes


def test_dispatch_dissects_ioam_in_hop_by_hop() -> None:
    option = build.trace_option(
        namespace_id=123,
        trace_type=0xC00000,
        nodes=[{"hop_limit": 63, "node_id": 2, "ingress_if_id": 20, "egress_if_id": 21}],
        free_nodes=2,
    )
    packet = IPv6(build.ipv6(hop_by_hop=[option], upper=build.udp(1, 2)))
    ioam = packet[IPv6ExtHdrHopByHop].options[1]
    assert isinstance(ioam, L.IOAM)
    trace = ioam.body
    assert isinstance(trace, L.IOAMPreallocatedTrace)
    assert (trace.namespace_id, trace.node_len, trace.remaining_len) == (123, 2, 4)
    assert trace.trace_type == 0xC00000
    assert trace.free == bytes(16)
    [node] = trace.nodes
    assert (node.hop_limit, node.node_id, node.ingress_if_id, node.egress_if_id) == (63, 2, 20, 21)
    assert packet[UDP].dport == 2


def test_build_with_scapy_equals_builder_bytes() -> None:
    trace_type = 0xFFF002  # bits 0-11 and the opaque state snapshot
    node = {
        "hop_limit": 9,
        "node_id": 0xABCDEF,
        "node_id_wide": 2**50 + 1,
        "namespace_data_wide": 2**63,
        "opaque_state": {"schema_id": 0x123456, "data": "0102030405060708"},
    }
    expected = build.trace_option(namespace_id=5, trace_type=trace_type, nodes=[node], flags=0x8)
    scapy_node = L.node_class(trace_type)(
        hop_limit=9,
        node_id=0xABCDEF,
        wide_hop_limit=9,
        node_id_wide=2**50 + 1,
        namespace_data_wide=2**63,
        oss_schema_id=0x123456,
        oss_data=bytes.fromhex("0102030405060708"),
    )
    body = L.IOAMPreallocatedTrace(
        namespace_id=5, flags=0x8, trace_type=trace_type, nodes=[scapy_node]
    )
    assert bytes(L.IOAM(body=body)) == expected
    again = L.IOAM(expected)
    assert again.body.nodes[0].oss_len == 2 and again.body.node_len == 15  # 8x4 + 3x8 + 4 bytes


def test_dex_both_ways() -> None:
    dissected = L.IOAM(DEX_LINUX)
    assert (dissected.body.flow_id, dissected.body.sequence_number) == (0xABCD, 9)
    built = L.IOAM(body=L.IOAMDirectExport(namespace_id=7, flow_id=1, sequence_number=2))
    assert bytes(built) == build.dex_option(namespace_id=7, flow_id=1, sequence_number=2)
    assert bytes(built)[7] == 0xC0  # Extension-Flags in the RFC's bit order
    only_seq = L.IOAM(build.dex_option(namespace_id=7, sequence_number=3))
    assert only_seq.body.flow_id is None and only_seq.body.sequence_number == 3


def test_pot_e2e_and_incremental() -> None:
    pot = L.IOAM(build.pot_option(namespace_id=1, pot_type=0, flags=1, data=bytes(16)))
    assert isinstance(pot.body, L.IOAMProofOfTransit) and pot.body.data == bytes(16)
    e2e = L.IOAM(build.e2e_option(namespace_id=2, e2e_type=0x8000, data=bytes(8)))
    assert isinstance(e2e.body, L.IOAMEdgeToEdge) and e2e.body.e2e_type == 0x8000
    incremental = build.trace_option(
        namespace_id=3, trace_type=0x800000, nodes=[{"node_id": 1}], incremental=True
    )
    body = L.IOAMFixed(b"\x11" + incremental[1:]).body
    assert isinstance(body, L.IOAMIncrementalTrace) and body.nodes[0].node_id == 1


def test_scapy_autopad_places_ioam_at_4n_in_destination_options() -> None:
    body = L.IOAMIncrementalTrace(
        namespace_id=1, trace_type=0x800000, nodes=[L.node_class(0x800000)(node_id=4)]
    )
    packet = IPv6() / IPv6ExtHdrDestOpt(options=[L.IOAMFixed(body=body)]) / UDP()
    raw = bytes(packet)
    assert raw[40 + 4] == 0x11  # PadN(2) first: option type at offset 4 of the header
    [record] = scapy_decode_frame(raw, 101)
    assert record["header"] == "destination" and record["ipv6_option"] == "0x11"
    assert record["nodes"] == [{"hop_limit": 255, "node_id": 4}] and record["errors"] == []


def test_undefined_bits_are_four_bytes() -> None:
    raw = hexbytes(
        """
        31 12 00 00   # option 0x31, length 18, reserved, pre-allocated trace
        0001          # namespace 1
        10 00         # NodeLen 2, flags 0, RemainingLen 0
        000c00 00     # trace type: bits 12 and 13 (undefined), reserved
        ffffffff      # bit 12
        0000002a      # bit 13 = 42
        """
    )
    node = L.IOAM(raw).body.nodes[0]
    assert (node.undefined_bit_12, node.undefined_bit_13) == (0xFFFFFFFF, 42)
