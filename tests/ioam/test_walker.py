"""walker.walk on hand-built frames: the exact Walk tuple (offsets, ends, the protocol and offset
of the upper layer, -1 when not reached, each IOAM option's place, the outer length, the named
error), every number counted by hand from the bytes written here. Written against mutants that
the hot_parse and differential tests let through (scripts/mutation.toml): walk's fast paths for
Ethernet and raw IP, length fields of 256 bytes and more, GTP-U only on UDP 2152, fragments by
their offset bits, and the -1/0 placeholders hot_parse never reads."""

from __future__ import annotations

import struct

import pytest

from collector.ioam import build
from collector.ioam.walker import walk

TT = 0x800000
TRACE = build.trace_option(namespace_id=7, trace_type=TT, nodes=[{"node_id": 9}])
# IPv6 40 + hop-by-hop 24 (PadN 2, then the 16-byte trace option at header offset 4) + UDP 8
P = build.ipv6(upper=build.udp(1000, 2000), hop_by_hop=[TRACE])
# the same with 300 bytes of UDP payload: 372 bytes, Payload Length 332 (0x014C)
BIG = build.ipv6(upper=build.udp(1000, 2000, bytes(300)), hop_by_hop=[TRACE])
NOTHING = (None, None, 0, None)


def carrier(off: int, end: int) -> tuple[int, int, int, int, list[tuple[int, int, int, int]], None]:
    """P or BIG at `off`: hop-by-hop at off+40, trace option at off+44..off+60, UDP at off+64."""
    return (off, end, 17, off + 64, [(0, off + 40, off + 44, off + 60)], None)


def raw6(nh: int, body: bytes, payload_len: int | None = None) -> bytes:
    """A bare IPv6 header (Next Header `nh`) and `body`."""
    size = len(body) if payload_len is None else payload_len
    return struct.pack("!IHBB16s16s", 6 << 28, size, nh, 64, bytes(16), bytes(16)) + body


def ipv4_udp(
    payload: bytes, *, total: int | None = None, frag: int = 0x4000, tos: int = 0
) -> bytes:
    """IPv4 (20 bytes, flags+offset `frag`) / UDP 2152 -> 2152 / payload; Total Length as given."""
    udp = struct.pack("!HHHH", 2152, 2152, 8 + len(payload), 0) + payload
    size = 20 + len(udp) if total is None else total
    return (
        struct.pack("!BBHHHBBH4s4s", 0x45, tos, size, 0, frag, 64, 17, 0, bytes(4), bytes(4)) + udp
    )


# --- link layers: the fast paths take only what the general one would ------------------------


def test_plain_ethernet_ipv6_and_no_outer_length() -> None:
    assert walk(build.ethernet(P), 1) == (carrier(14, 86), None, 0, None)


@pytest.mark.parametrize("ethertype", [0x88DD, 0x87DD, 0x86DC, 0x86DE, 0x8600, 0x06DD, 0x08DD])
def test_ethertypes_next_to_ipv6_are_not_ipv6(ethertype: int) -> None:
    assert walk(build.ethernet(P, ethertype=ethertype), 1) == NOTHING
    # a payload whose first byte is 0xDD after a 0x86xx ethertype is still not IPv6
    assert walk(build.ethernet(b"\xdd" + P[1:], ethertype=ethertype), 1) == NOTHING


@pytest.mark.parametrize("linktype", [101, 229])
def test_raw_ipv6_whose_source_address_holds_86dd(linktype: int) -> None:
    # frame bytes 12-13 are source address bytes 4-5: 2001:db8:86dd:: puts 0x86 0xDD there
    packet = build.ipv6(src="2001:db8:86dd::1", upper=build.udp(1000, 2000), hop_by_hop=[TRACE])
    assert packet[12:14] == b"\x86\xdd"
    assert walk(packet, linktype) == (carrier(0, 72), None, 0, None)


@pytest.mark.parametrize("linktype", [0, 100, 102, 228, 230, 1000])
def test_unknown_link_types_are_not_walked(linktype: int) -> None:
    assert walk(P, linktype) == NOTHING
    assert walk(build.ethernet(P), linktype) == NOTHING


@pytest.mark.parametrize("version", [v for v in range(16) if v not in (4, 6)])
def test_raw_ip_of_any_other_version_is_not_walked(version: int) -> None:
    frame = bytes([(version << 4) | (P[0] & 0x0F)]) + P[1:]
    assert walk(frame, 101) == NOTHING
    assert walk(frame, 229) == NOTHING


def test_raw_ipv4_with_dscp_cs3_is_ipv4() -> None:
    # TOS 0x60 puts a 6 in the second byte's high nibble; the version nibble (4) decides.
    # IPv4 20 + UDP 8 + GTP-U 8 + inner 72 = 108: GTP-U at 28, inner at 36 (its options at 76)
    frame = ipv4_udp(build.gtpu(P), tos=0x60)
    assert walk(frame, 101) == (None, carrier(36, 108), 108, None)


# --- lengths of 256 bytes and more (both bytes of each length field) -------------------------


def test_ipv6_payload_length_over_255_bounds_the_packet_before_a_trailer() -> None:
    frame = build.ethernet(BIG + bytes(10))  # 10 bytes of Ethernet trailer
    assert walk(frame, 1) == (carrier(14, 14 + 372), None, 0, None)


def test_ipv6_payload_length_zero_runs_to_the_end_of_the_capture() -> None:
    frame = build.ethernet(P[:4] + b"\x00\x00" + P[6:])
    assert walk(frame, 1) == (carrier(14, 86), None, 0, None)


def test_gtpu_over_ipv6_keeps_the_outer_carrier_and_its_length() -> None:
    # outer IPv6 payload: UDP 8 + GTP-U 8 + 372 = 388 (0x0184), so the outer packet is 428 bytes
    frame = build.ethernet(build.ipv6(upper=build.udp(2152, 2152, build.gtpu(BIG))))
    outer = (14, 14 + 428, 17, 54, [], None)
    assert walk(frame, 1) == (outer, carrier(70, 442), 428, None)


def test_gtpu_over_ipv4_of_more_than_255_bytes() -> None:
    # IPv4 Total Length 20 + 8 + 8 + 372 = 408 (0x0198); inner IPv6 at 14 + 36 = 50
    frame = build.ethernet(ipv4_udp(build.gtpu(BIG)), ethertype=0x0800)
    assert walk(frame, 1) == (None, carrier(50, 422), 408, None)


def test_udp_length_over_255_bounds_an_inner_packet_without_its_own_length() -> None:
    # inner Payload Length 0 (runs to its limit); UDP Length 388 ends the datagram 8 bytes
    # before the IPv4 packet does (Total Length 416), so the inner packet ends at 14 + 408
    inner = BIG[:4] + b"\x00\x00" + BIG[6:]
    udp = struct.pack("!HHHH", 2152, 2152, 388, 0) + build.gtpu(inner) + bytes(8)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 416, 0, 0x4000, 64, 17, 0, bytes(4), bytes(4))
    frame = build.ethernet(ip + udp, ethertype=0x0800)
    assert walk(frame, 1) == (None, carrier(50, 422), 416, None)


# --- GTP-U: only UDP to port 2152, inside the lengths its headers give -------------------------


def test_a_g_pdu_to_another_udp_port_or_over_tcp_is_not_entered() -> None:
    # outer IPv6 payload UDP 8 + GTP-U 80 = 88, TCP 20 + 80 = 100
    udp = build.ethernet(build.ipv6(upper=build.udp(2152, 2153, build.gtpu(P))))
    assert walk(udp, 1) == ((14, 142, 17, 54, [], None), None, 0, None)
    tcp = build.ethernet(build.ipv6(upper=build.tcp(2152, 2152, build.gtpu(P))))
    assert walk(tcp, 1) == ((14, 154, 6, 54, [], None), None, 0, None)


def test_udp_length_8_leaves_no_room_for_gtpu() -> None:
    udp = struct.pack("!HHHH", 2152, 2152, 8, 0) + build.gtpu(P)
    frame = build.ethernet(raw6(17, udp))
    assert walk(frame, 1) == ((14, 142, 17, 54, [], None), None, 0, None)


def test_udp_length_cutting_the_gtpu_header_ends_the_walk() -> None:
    # S flag set: sequence number word after the header; UDP Length 12 keeps 4 header bytes
    gtp = struct.pack("!BBHI", 0x32, 0xFF, 4 + len(P), 1) + bytes(4) + P
    frame = build.ethernet(raw6(17, struct.pack("!HHHH", 2152, 2152, 12, 0) + gtp))
    assert walk(frame, 1) == ((14, 14 + 40 + 8 + 84, 17, 54, [], None), None, 0, None)


def test_gtpu_without_a_g_pdu_has_no_outer_length() -> None:
    short = build.ethernet(raw6(17, struct.pack("!HHHH", 2152, 2152, 12, 0) + bytes(4)))
    assert walk(short, 1) == ((14, 66, 17, 54, [], None), None, 0, None)
    echo = struct.pack("!BBHI", 0x30, 0x01, len(P), 1) + P  # Echo Request, not a G-PDU
    frame = build.ethernet(build.ipv6(upper=build.udp(2152, 2152, echo)))
    assert walk(frame, 1) == ((14, 142, 17, 54, [], None), None, 0, None)
    v4 = build.ipv4(upper=build.udp(1, 2))  # a G-PDU carrying IPv4
    frame = build.ethernet(build.ipv6(upper=build.udp(2152, 2152, build.gtpu(v4))))
    assert walk(frame, 1) == ((14, 14 + 40 + 16 + 28, 17, 54, [], None), None, 0, None)


def test_ipv4_fragments_by_their_offset_bits() -> None:
    gtp = build.gtpu(P)
    for frag in (0x0100, 0x1000, 0x2001, 0x0008):  # offsets 2048, 32768, 8 and 64 bytes
        frame = build.ethernet(ipv4_udp(gtp, frag=frag), ethertype=0x0800)
        assert walk(frame, 1) == NOTHING, hex(frag)
    for frag in (0x0000, 0x4000, 0x2000):  # a first fragment, DF or MF set
        frame = build.ethernet(ipv4_udp(gtp, frag=frag), ethertype=0x0800)
        assert walk(frame, 1) == (None, carrier(50, 14 + 108), 108, None), hex(frag)


def test_ipv4_total_length_of_its_header_only_holds_no_udp() -> None:
    frame = build.ethernet(ipv4_udp(build.gtpu(P), total=20), ethertype=0x0800)
    assert walk(frame, 1) == NOTHING


# --- IPv6 extension headers: where the walk stops and what it says ---------------------------


def test_an_options_header_cut_after_one_or_two_bytes() -> None:
    assert walk(raw6(0, b"\x11"), 101) == (
        (0, 41, 0, -1, [], "options header truncated"),
        None,
        0,
        None,
    )
    assert walk(raw6(0, b"\x11\x00"), 101) == (
        (0, 42, 0, -1, [], "options header of 8 bytes runs past the packet"),
        None,
        0,
        None,
    )


def test_an_option_past_its_header_has_no_upper_layer() -> None:
    # hop-by-hop of 8 bytes whose PadN at offset 2 claims 10 bytes of data
    hbh = bytes([17, 0, 0x01, 10, 0, 0, 0, 0]) + build.udp(1, 2)[1]
    assert walk(raw6(0, hbh), 101) == (
        (0, 56, 0, -1, [], "option 0x01 at offset 2 runs past its header"),
        None,
        0,
        None,
    )


def test_a_walked_over_header_that_ends_the_packet() -> None:
    routing = bytes([59, 0, 0, 0, 0, 0, 0, 0])  # 8 bytes, then No Next Header
    assert walk(raw6(43, routing), 101) == ((0, 48, 59, 48, [], None), None, 0, None)
    assert walk(raw6(43, routing[:4]), 101) == ((0, 44, 43, -1, [], None), None, 0, None)


@pytest.mark.parametrize(
    "offset_bytes", [b"\x01\x00", b"\x80\x00", b"\x00\x08", b"\xff\xf9"], ids=lambda b: b.hex()
)
def test_a_later_ipv6_fragment_has_no_upper_layer(offset_bytes: bytes) -> None:
    fragment = bytes([17, 0]) + offset_bytes + bytes(4)
    frame = raw6(44, fragment + build.udp(2152, 2152, build.gtpu(P))[1])
    n = 40 + 8 + 88
    assert walk(frame, 101) == ((0, n, 17, -1, [], None), None, 0, None)


def test_a_first_ipv6_fragment_is_walked_to_its_upper_layer() -> None:
    fragment = bytes([17, 0, 0x00, 0x01]) + bytes(4)  # offset 0, M set
    frame = raw6(44, fragment + build.udp(1, 2)[1])
    assert walk(frame, 101) == ((0, 56, 17, 48, [], None), None, 0, None)
