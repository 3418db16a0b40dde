"""hot_parse at the edges of each header it walks (IPv4 for GTP-U, GTP-U and its extension
headers, link layers): the exact HotResult of hand-built frames, lengths counted by hand. Written
against mutants that the round-trip and differential tests let through (scripts/mutation.toml)."""

from __future__ import annotations

import struct

from collector.ioam import build
from collector.ioam.fastparse import (
    LINKTYPE_ETHERNET,
    RESULT_MALFORMED,
    RESULT_NO_IOAM,
    RESULT_PARSED,
    HotResult,
    hot_parse,
)

TT = 0x800000
ZERO16 = bytes(16)
# inner: IPv6 40 + hop-by-hop 24 (a 16-byte trace option with one node, padded) + UDP 8 = 72
INNER = build.ipv6(
    upper=build.udp(1000, 2000),
    hop_by_hop=[build.trace_option(namespace_id=7, trace_type=TT, nodes=[{"node_id": 9}])],
)


def malformed(ipv6_len: int = 0, outer_len: int = 0) -> HotResult:
    """A malformed frame carries nothing but the lengths it had found."""
    return HotResult(
        RESULT_MALFORMED, 0, 0, (), False, ipv6_len, outer_len, 0, None, ZERO16, ZERO16, 0, 0, 0
    )


def gtp(flags: int, body: bytes, msg: int = 0xFF) -> bytes:
    """A GTP-U header (flags, message type, length, TEID 1) and `body` as it is."""
    return struct.pack("!BBHI", flags, msg, len(body), 1) + body


def over_ipv4(payload: bytes, *, frag: int = 0x4000, ihl: int = 5) -> bytes:
    """Ethernet / IPv4 (flags+offset `frag`, header `ihl` words) / UDP 2152 -> 2152 / payload."""
    options = bytes(4 * (ihl - 5)) if ihl > 5 else b""
    udp = struct.pack("!HHHH", 2152, 2152, 8 + len(payload), 0) + payload
    total = 20 + len(options) + len(udp)
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 0, frag, 64, 17, 0, bytes(4), bytes(4)
    )
    return build.ethernet(header + options + udp, ethertype=0x0800)


def parsed(outer_len: int) -> tuple[int, tuple[int, ...], int, int]:
    return RESULT_PARSED, (9,), 72, outer_len


def summary(r: HotResult) -> tuple[int, tuple[int, ...], int, int]:
    return r.status, r.node_ids, r.ipv6_len, r.outer_len


# --- IPv4 as GTP-U's outer header -----------------------------------------------------------


def test_truncated_ipv4_is_malformed_and_a_bare_header_is_not_ioam() -> None:
    ip = over_ipv4(b"")[14:]  # 28 bytes: IPv4 20 + UDP 8
    assert hot_parse(build.ethernet(ip[:12], ethertype=0x0800)) == malformed()
    assert hot_parse(build.ethernet(ip[:19], ethertype=0x0800)) == malformed()
    for size in (20, 24, 27, 28):
        assert hot_parse(build.ethernet(ip[:size], ethertype=0x0800)).status == RESULT_NO_IOAM


def test_only_first_fragments_and_any_header_length_are_walked() -> None:
    payload = gtp(0x30, INNER)
    outer = 20 + 8 + 8 + 72
    assert summary(hot_parse(over_ipv4(payload))) == parsed(outer)  # don't fragment
    assert summary(hot_parse(over_ipv4(payload, frag=0x2000))) == parsed(outer)  # MF, offset 0
    assert hot_parse(over_ipv4(payload, frag=0x2001)).status == RESULT_NO_IOAM  # offset 8
    assert hot_parse(over_ipv4(payload, frag=0x0010)).status == RESULT_NO_IOAM
    assert summary(hot_parse(over_ipv4(payload, ihl=6))) == parsed(outer + 4)  # IPv4 options
    assert hot_parse(over_ipv4(payload, ihl=4)).status == RESULT_NO_IOAM  # header too short


# --- GTP-U --------------------------------------------------------------------------------


def test_gtpu_needs_version_1_and_a_g_pdu() -> None:
    assert summary(hot_parse(over_ipv4(gtp(0x30, INNER)))) == parsed(108)
    assert hot_parse(over_ipv4(gtp(0x30, INNER, msg=0x01))).status == RESULT_NO_IOAM  # echo
    assert hot_parse(over_ipv4(gtp(0x20, INNER))).status == RESULT_NO_IOAM  # version 0
    assert hot_parse(over_ipv4(gtp(0x50, INNER, msg=0x01))).status == RESULT_NO_IOAM


def test_gtpu_headers_cut_short() -> None:
    """8-byte header with S set and nothing else: the optional word is missing (malformed, with
    the outer length); with it (12 bytes) and no packet: nothing to count. Under 8 bytes: not
    GTP-U at all."""
    full = over_ipv4(gtp(0x32, b"\x00\x07\x00\x00"))
    assert hot_parse(full[:-4]) == malformed(0, 20 + 8 + 8 + 4)  # the IPv4 total length
    assert hot_parse(full[:-2]) == malformed(0, 20 + 8 + 8 + 4)
    assert hot_parse(full).status == RESULT_NO_IOAM
    assert hot_parse(full[:-10]).status == RESULT_NO_IOAM  # 6 bytes of GTP-U
    assert hot_parse(over_ipv4(gtp(0x30, b""))).status == RESULT_NO_IOAM  # a G-PDU with no packet
    carried_v4 = over_ipv4(gtp(0x30, over_ipv4(b"")[14:]))
    assert hot_parse(carried_v4).status == RESULT_NO_IOAM  # GTP-U carrying IPv4


def test_optional_word_without_e_or_with_e_and_no_extension() -> None:
    """S, PN or E set: a 4-byte word follows (sequence, N-PDU, next extension type); its next
    type is read only when E is set, and a next type of 0 means the packet follows."""
    for flags in (0x31, 0x32, 0x33):  # PN, S, S+PN: a next-type byte of 0x85 is not read
        frame = over_ipv4(gtp(flags, b"\x00\x00\x00\x85" + INNER))
        assert summary(hot_parse(frame)) == parsed(20 + 8 + 8 + 4 + 72), hex(flags)
    frame = over_ipv4(gtp(0x34, b"\x00\x00\x00\x00" + INNER))  # E set, next type 0
    assert summary(hot_parse(frame)) == parsed(20 + 8 + 8 + 4 + 72)


def test_extension_headers_chained_cut_and_empty() -> None:
    """Two extensions (PDU session 0x85, then 0x40 of 8 bytes); a zero length; one running
    past the frame; one ending exactly at the frame's end with no packet after it."""
    pdu = b"\x01\x10\x09\x40"  # length 1 (4 bytes), content, next type 0x40
    second = b"\x02\x12\x34\x56\x78\x9a\xbc\x00"  # length 2 (8 bytes), content, next type 0
    chained = over_ipv4(gtp(0x34, b"\x00\x00\x00\x85" + pdu + second + INNER))
    assert summary(hot_parse(chained)) == parsed(20 + 8 + 8 + 4 + 4 + 8 + 72)
    outer = 20 + 8 + 8 + 4 + 4
    zero = over_ipv4(gtp(0x34, b"\x00\x00\x00\x85" + b"\x00\x10\x09\x00"))
    assert hot_parse(zero) == malformed(0, outer)
    long = over_ipv4(gtp(0x34, b"\x00\x00\x00\x85" + b"\x02\x10\x09\x00"))
    assert hot_parse(long) == malformed(0, outer)
    ends = over_ipv4(gtp(0x34, b"\x00\x00\x00\x85" + b"\x01\x10\x09\x00"))
    assert hot_parse(ends).status == RESULT_NO_IOAM
    missing = over_ipv4(gtp(0x34, b"\x00\x00\x00\x85"))  # an extension announced, none there
    assert hot_parse(missing) == malformed(0, 20 + 8 + 8 + 4)


def test_malformed_inner_packet_keeps_both_lengths() -> None:
    """An inner IPv6 packet cut inside its trace option: malformed, with the inner IPv6 length
    its header announced and the outer IPv4 length."""
    frame = over_ipv4(gtp(0x30, INNER[:60]))
    assert hot_parse(frame, LINKTYPE_ETHERNET) == malformed(72, 20 + 8 + 8 + 60)
