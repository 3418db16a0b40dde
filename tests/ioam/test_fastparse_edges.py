"""hot_parse at the edges of each header it walks (IPv4 for GTP-U, GTP-U and its extension
headers, link layers): the exact HotResult of hand-built frames, lengths counted by hand. Written
against mutants that the round-trip and differential tests let through (scripts/mutation.toml)."""

from __future__ import annotations

import struct

import pytest

from collector.ioam import build, fastparse
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


# --- link layers ----------------------------------------------------------------------------


def tagged(packet: bytes, *tpids: int) -> bytes:
    """Ethernet with one VLAN tag per TPID given (outermost first), then IPv6."""
    tags = b"".join(struct.pack("!HH", tpid, 10 + i) for i, tpid in enumerate(tpids))
    return bytes(6) + bytes(6) + tags + b"\x86\xdd" + packet


def test_vlan_tags_of_every_kind_and_qinq() -> None:
    for tpids in ((0x8100,), (0x88A8,), (0x9100,), (0x88A8, 0x8100), (0x9100, 0x8100)):
        r = hot_parse(tagged(INNER, *tpids))
        assert summary(r) == (RESULT_PARSED, (9,), 72, 0), tpids
    cut = bytes(12) + b"\x81\x00\x00"  # a VLAN tag cut short
    assert hot_parse(cut).status == RESULT_NO_IOAM
    assert hot_parse(bytes(10)).status == RESULT_NO_IOAM  # shorter than an Ethernet header


def test_cooked_and_raw_link_layers_and_ipv4() -> None:
    gtp4 = over_ipv4(gtp(0x30, INNER))[14:]
    assert summary(hot_parse(build.linux_sll(INNER), 113)) == parsed(0)
    assert summary(hot_parse(build.linux_sll(gtp4, protocol=0x0800), 113)) == parsed(108)
    assert summary(hot_parse(build.linux_sll2(INNER), 276)) == parsed(0)
    assert summary(hot_parse(build.linux_sll2(gtp4, protocol=0x0800), 276)) == parsed(108)
    assert hot_parse(build.linux_sll(INNER)[:15], 113).status == RESULT_NO_IOAM
    assert hot_parse(build.linux_sll2(INNER)[:19], 276).status == RESULT_NO_IOAM
    for raw in (101, 229):
        assert summary(hot_parse(INNER, raw)) == parsed(0)
        assert summary(hot_parse(gtp4, raw)) == parsed(108)
        assert hot_parse(b"\x50" + INNER[1:], raw).status == RESULT_NO_IOAM  # version 5
        assert hot_parse(b"", raw).status == RESULT_NO_IOAM
    assert hot_parse(INNER, 105).status == RESULT_NO_IOAM  # an unknown link type
    assert hot_parse(build.ethernet(INNER, ethertype=0x0806)).status == RESULT_NO_IOAM  # ARP


# --- IPv6 extension headers ---------------------------------------------------------------


def chain(*headers: tuple[int, bytes], last: int = 17, tail: bytes = b"") -> bytes:
    """IPv6 carrying the hop-by-hop trace option, then `headers` (next-header value, body
    without its first two bytes), then a UDP header 1000 -> 2000 and `tail`."""
    hbh = INNER[40:64]
    kinds = [nh for nh, _ in headers] + [last]
    body = bytearray(hbh)
    body[0] = kinds[0]
    for (_, rest), following in zip(headers, kinds[1:], strict=True):
        body += bytes([following]) + rest
    body += struct.pack("!HHHH", 1000, 2000, 8 + len(tail), 0) + tail
    return struct.pack("!IHBB", 6 << 28, len(body), 0, 64) + bytes(32) + bytes(body)


def test_extension_headers_are_walked_to_the_ports() -> None:
    """Routing (43), mobility (135), HIP (139), shim6 (140) and the experimental 253 and 254 are
    (len + 1) x 8 bytes; AH (51) is (len + 2) x 4; a first fragment (44) has 8."""
    ext8 = bytes([0]) + bytes(6)  # hdr ext len 0: 8 bytes in all
    for nh in (43, 135, 139, 140, 253, 254):
        r = hot_parse(chain((nh, ext8)), 101)
        assert (r.status, r.node_ids, r.proto, r.sport, r.dport) == (0, (9,), 17, 1000, 2000), nh
    long_routing = bytes([1]) + bytes(14)  # hdr ext len 1: 16 bytes
    r = hot_parse(chain((43, long_routing)), 101)
    assert (r.sport, r.dport, r.ipv6_len) == (1000, 2000, 40 + 24 + 16 + 8)
    ah = bytes([2]) + bytes(14)  # payload len 2: (2 + 2) x 4 = 16 bytes
    assert hot_parse(chain((51, ah)), 101).dport == 2000
    first_fragment = bytes([0]) + b"\x00\x01" + bytes(4)  # offset 0, M set
    r = hot_parse(chain((44, first_fragment)), 101)
    assert (r.proto, r.sport, r.dport) == (17, 1000, 2000)
    later_fragment = bytes([0]) + b"\x00\x08" + bytes(4)  # offset 1 (8 bytes)
    r = hot_parse(chain((44, later_fragment)), 101)
    assert (r.status, r.node_ids, r.proto, r.sport, r.dport) == (0, (9,), 17, 0, 0)
    tcp = hot_parse(chain(last=6), 101)
    assert (tcp.proto, tcp.sport, tcp.dport) == (6, 1000, 2000)
    icmp = hot_parse(chain(last=58), 101)
    assert (icmp.proto, icmp.sport, icmp.dport) == (58, 0, 0)


def test_an_extension_header_cut_short_ends_the_walk() -> None:
    frame = chain((43, bytes([0]) + bytes(6)))
    cut = frame[: 40 + 24 + 6]  # the routing header has 6 of its 8 bytes
    r = hot_parse(cut, 101)
    assert (r.status, r.node_ids, r.proto, r.sport, r.dport) == (0, (9,), 43, 0, 0)


def test_headers_that_end_where_the_frame_ends() -> None:
    """A link-layer header announcing IPv4 or IPv6 and nothing after it: a truncated packet."""
    assert hot_parse(build.ethernet(b"", ethertype=0x0800)) == malformed()  # 14 bytes
    assert hot_parse(bytes(12) + b"\x81\x00\x00\x0a\x08\x00") == malformed()  # 18 bytes, tagged
    assert hot_parse(build.linux_sll(b""), 113) == malformed()  # 16 bytes
    assert hot_parse(build.linux_sll2(b""), 276) == malformed()  # 20 bytes


def test_raw_ip_of_another_version_is_not_walked() -> None:
    gtp4 = over_ipv4(gtp(0x30, INNER))[14:]
    assert hot_parse(b"\x55" + gtp4[1:], 101).status == RESULT_NO_IOAM  # version 5


def test_ipv4_options_that_fill_the_frame() -> None:
    """IHL 7 (28-byte header) and the frame ends right after it: no UDP header to read."""
    full = over_ipv4(gtp(0x30, INNER), ihl=7)
    assert summary(hot_parse(full)) == parsed(20 + 8 + 8 + 8 + 72)
    assert hot_parse(full[: 14 + 28]).status == RESULT_NO_IOAM
    assert hot_parse(full[: 14 + 30]).status == RESULT_NO_IOAM  # half a UDP header


# --- trace options and the per-layout plan cache ------------------------------------------


def trace_frame(option: bytes) -> bytes:
    return build.ethernet(build.ipv6(upper=build.udp(1, 2), hop_by_hop=[option]))


def patched(option: bytes, *, b2: int | None = None, trace_type: int | None = None) -> bytes:
    """A trace option with its NodeLen/flags byte or its trace type overwritten."""
    raw = bytearray(option)
    if b2 is not None:
        raw[6] = b2
    if trace_type is not None:
        raw[8:11] = trace_type.to_bytes(3, "big")
    return bytes(raw)


def longer(option: bytes, extra: bytes) -> bytes:
    """The option with `extra` bytes of node data more (its length byte raised to match)."""
    return bytes([option[0], option[1] + len(extra)]) + option[2:] + extra


@pytest.fixture
def cold_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start from empty plan caches (narrow and wide namespaces), as a fresh agent does."""
    monkeypatch.setattr(fastparse, "_PLANS", {})
    monkeypatch.setattr(fastparse, "_WIDE_PLANS", {})


def test_trace_option_without_node_data(cold_plans: None) -> None:
    """An incremental trace with no node yet: 12 bytes, header only; parsed, no NodeID."""
    empty = build.trace_option(namespace_id=7, trace_type=TT, nodes=[], incremental=True)
    assert len(empty) == 12
    r = hot_parse(trace_frame(empty))
    assert (r.status, r.namespace_id, r.node_ids) == (RESULT_PARSED, 7, ())
    short = bytes([0x31, 8]) + empty[2:10]  # 8 bytes of option data: no room for the header
    assert hot_parse(trace_frame(short)).status == RESULT_MALFORMED


def test_short_trace_option_at_the_end_of_the_frame_is_malformed_with_its_length() -> None:
    empty = build.trace_option(namespace_id=7, trace_type=TT, nodes=[], incremental=True)
    # hop-by-hop header of 8 bytes holding a trace option with 4 bytes of data; the frame ends
    # there, before the 8 bytes of trace header the option would need
    hbh = bytes([59, 0, 0x31, 4]) + empty[2:6]
    packet = struct.pack("!IHBB", 6 << 28, len(hbh), 0, 64) + bytes(32) + hbh
    assert hot_parse(packet, 101) == malformed(48, 0)


LAYOUTS = [  # (trace type, NodeIDs, namespace wide?)
    (0x800000, [], False),
    (0x800000, [1], False),
    (0x800000, [1, 2], False),
    (0x800000, [1, 2, 3], False),
    (0xC00000, [4, 5], False),
    (0x808000, [6, 7], False),
    (0x808000, [6, 7], True),
    (0x008000, [8, 9], False),
    (0x008000, [8], True),
    (0xE00000, [10], False),
]


def layout_frame(tt: int, ids: list[int], wide: bool) -> tuple[bytes, tuple[int, ...]]:
    nodes = [{"node_id": i, "node_id_wide": (1 << 40) + i} for i in ids]
    option = build.trace_option(namespace_id=5 if wide else 6, trace_type=tt, nodes=nodes)
    narrow = bool(tt & 0x800000) and not (wide and tt & 0x008000)
    expected = tuple(i if narrow else (1 << 40) + i for i in ids) if tt & 0x808000 else ()
    return trace_frame(option), expected


def test_every_layout_is_read_right_from_an_empty_cache_and_after_the_others(
    cold_plans: None,
) -> None:
    """Each layout, parsed after all the others in one cache, still gets its own plan."""
    for tt, ids, wide in LAYOUTS + LAYOUTS[::-1]:
        frame, expected = layout_frame(tt, ids, wide)
        r = hot_parse(frame, wide_namespaces=frozenset({5}))
        assert (r.status, r.node_ids) == (RESULT_PARSED, expected), (hex(tt), ids, wide)


def test_layouts_that_must_not_share_a_plan(cold_plans: None) -> None:
    """Two nodes (8 bytes) then the same with one stray byte; NodeLen 1 of trace type 0x800000,
    then a NodeLen of 0 for 0x800002 (which needs more): the second of each pair is malformed."""
    option = build.trace_option(
        namespace_id=6, trace_type=TT, nodes=[{"node_id": 1}, {"node_id": 2}]
    )
    assert hot_parse(trace_frame(option)).node_ids == (1, 2)
    assert hot_parse(trace_frame(longer(option, b"\x00"))).status == RESULT_MALFORMED
    assert hot_parse(trace_frame(patched(option, b2=0x00, trace_type=0x800002))).status == (
        RESULT_MALFORMED
    )
    again = build.trace_option(namespace_id=6, trace_type=TT, nodes=[{"node_id": 3}])
    assert hot_parse(trace_frame(again)).node_ids == (3,)


# --- the IPv6 header and hop-by-hop options --------------------------------------------------

OPTION = build.trace_option(namespace_id=7, trace_type=TT, nodes=[{"node_id": 9}])  # 16 bytes


def with_hbh(
    options: bytes, *, nh: int = 59, tail: bytes = b"", payload_len: int | None = None
) -> bytes:
    """Raw IPv6 with one hop-by-hop header holding exactly `options` (a multiple of 8 bytes less
    2), then `tail`; the payload length says `payload_len` (default: what follows the header)."""
    assert (len(options) + 2) % 8 == 0
    hbh = bytes([nh, (len(options) + 2) // 8 - 1]) + options
    length = len(hbh) + len(tail) if payload_len is None else payload_len
    return struct.pack("!IHBB", 6 << 28, length, 0, 64) + bytes(32) + hbh + tail


def test_bare_and_truncated_ipv6_headers() -> None:
    bare = struct.pack("!IHBB", 6 << 28, 0, 59, 64) + bytes(32)  # 40 bytes, no next header
    assert hot_parse(bare, 101).status == RESULT_NO_IOAM
    assert hot_parse(bare[:30], 101) == malformed()
    hbh_missing = struct.pack("!IHBB", 6 << 28, 0, 0, 64) + bytes(32)  # announces hop-by-hop
    assert hot_parse(hbh_missing, 101) == malformed(40, 0)
    inner_cut = over_ipv4(gtp(0x30, INNER[:30]))
    assert hot_parse(inner_cut) == malformed(0, 20 + 8 + 8 + 30)


def test_hop_by_hop_ending_the_packet_and_padding_after_it() -> None:
    """IOAM then PadN(0) fill the header, which ends the packet; Ethernet-style padding after
    the packet is not part of it: an option running into it is malformed."""
    packet = with_hbh(b"\x01\x00" + OPTION + b"\x00\x00" + b"\x01\x00")
    r = hot_parse(packet, 101)
    assert (r.status, r.node_ids, r.ipv6_len) == (RESULT_PARSED, (9,), 64)
    assert hot_parse(packet + bytes(10), 101).node_ids == (9,)
    # the hop-by-hop header says 24 bytes, the payload length only 16: the rest is padding
    padded = with_hbh(b"\x01\x00" + OPTION + b"\x01\x02\x00\x00", payload_len=16)
    assert hot_parse(padded + bytes(8), 101) == malformed(56, 0)


def test_pad1_router_alert_and_padn_before_the_trace() -> None:
    """Options before the trace (4n-aligned at p + 8): Pad1 then PadN with 3 data bytes; a router
    alert then PadN(0). Their bytes must be read as what they are, not one byte off."""
    pad1_padn = b"\x00" + b"\x01\x03\x09\x00\x00"
    r = hot_parse(with_hbh(pad1_padn + OPTION), 101)
    assert (r.status, r.node_ids) == (RESULT_PARSED, (9,))
    alert = b"\x05\x02\x05\x00" + b"\x01\x00"  # router alert, value 0x0500
    r = hot_parse(with_hbh(alert + OPTION), 101)
    assert (r.status, r.node_ids) == (RESULT_PARSED, (9,))
    two_pad1 = b"\x00\x00" + OPTION + b"\x01\x02\x00\x00"
    assert hot_parse(with_hbh(two_pad1), 101).node_ids == (9,)


def test_an_option_type_without_its_length_byte_is_malformed() -> None:
    """The header's last byte starts an option (type 0x05) whose length byte is missing."""
    options = b"\x01\x00" + OPTION + b"\x01\x01\x00" + b"\x05"
    assert hot_parse(with_hbh(options), 101) == malformed(64, 0)


MALFORMED_INNER = {  # name -> an inner IPv6 packet that is malformed for that reason
    "hop-by-hop announced, none there": struct.pack("!IHBB", 6 << 28, 0, 0, 64) + bytes(32),
    "hop-by-hop longer than the packet": with_hbh(b"\x01\x00" + OPTION + b"\x01\x02\x00\x00")[:56],
    "option type without its length": with_hbh(b"\x01\x00" + OPTION + b"\x01\x01\x00\x05"),
    "option longer than the header": with_hbh(b"\x01\x00" + OPTION + b"\x01\x09\x00\x00"),
    "IOAM option misaligned": with_hbh(b"\x00" + OPTION + b"\x01\x03\x00\x00\x00"),
    "IOAM option of 2 bytes": with_hbh(b"\x01\x00" + b"\x31\x00" + bytes(18)),
    "trace with a wrong NodeLen": with_hbh(b"\x01\x00" + patched(OPTION, b2=0x10) + bytes(4)),
}


@pytest.mark.parametrize("name", list(MALFORMED_INNER))
def test_malformed_inner_packets_keep_their_lengths(name: str) -> None:
    """Carried in GTP-U over IPv4: malformed, with the inner IPv6 length and the outer length."""
    inner = MALFORMED_INNER[name]
    ipv6_len = 40 + struct.unpack("!H", inner[4:6])[0]
    assert hot_parse(over_ipv4(gtp(0x30, inner))) == malformed(ipv6_len, 36 + len(inner))
    assert hot_parse(inner, 101) == malformed(ipv6_len, 0)


def test_wide_namespaces_apply_to_the_packet_inside_gtpu(cold_plans: None) -> None:
    """The inner packet of a G-PDU reads namespace 5's wide node ids too (2**40 + 9, not 9)."""
    node = {"node_id": 9, "node_id_wide": (1 << 40) + 9}
    option = build.trace_option(namespace_id=5, trace_type=0x808000, nodes=[node])
    inner = build.ipv6(upper=build.udp(1000, 2000), hop_by_hop=[option])
    frame = build.ethernet(build.ipv6(upper=build.udp(2152, 2152, build.gtpu(inner))))
    assert hot_parse(frame).node_ids == (9,)
    assert hot_parse(frame, wide_namespaces=frozenset({5})).node_ids == ((1 << 40) + 9,)
    assert hot_parse(frame, wide_namespaces=frozenset({6})).node_ids == (9,)
