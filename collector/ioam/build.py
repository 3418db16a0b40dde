"""Builders for IOAM packets: options, extension headers, IPv6/UDP/TCP, GTP-U, link layers.

Used by the tests, the benchmark and the testbed. Nodes are given as the decoder prints them
(dicts with `node_id`, `hop_limit`, ...), most recent hop first; a field a node lacks is written
as all ones, as RFC 9197 asks of a node that cannot supply a value.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from collector.ioam import wire

Node = Mapping[str, Any]


def encode_node(node: Node, trace_type: int) -> bytes:
    """One node's data for a trace type, in wire order, OSS last."""
    out = bytearray()
    hop = int(node.get("hop_limit", 0xFF))
    for bit in wire.set_bits(trace_type):
        size, keys = wire.TRACE_FIELDS[bit]
        if bit in (0, 8):
            value = (hop << (size * 8 - 8)) | (
                int(node.get(keys[1], -1)) & ((1 << (size * 8 - 8)) - 1)
            )
            out += value.to_bytes(size, "big")
        elif len(keys) == 2:
            half = size // 2
            for key in keys:
                out += (int(node.get(key, -1)) & ((1 << (half * 8)) - 1)).to_bytes(half, "big")
        else:
            out += (int(node.get(keys[0], -1)) & ((1 << (size * 8)) - 1)).to_bytes(size, "big")
    if trace_type & wire.OSS_MASK:
        oss = node.get("opaque_state", {"schema_id": 0xFFFFFF, "data": ""})
        data = bytes.fromhex(oss["data"])
        if len(data) % 4 or len(data) > 255 * 4:
            raise ValueError("opaque state data must be a multiple of 4 bytes, at most 1020")
        out += bytes([len(data) // 4]) + int(oss["schema_id"]).to_bytes(3, "big") + data
    return bytes(out)


def trace_option(
    *,
    namespace_id: int,
    trace_type: int,
    nodes: Sequence[Node] = (),
    free_nodes: int = 0,
    incremental: bool = False,
    flags: int = 0,
    option_code: int = wire.IPV6_OPT_IOAM,
    node_len: int | None = None,
    remaining_len: int | None = None,
    extra_free_words: int = 0,
) -> bytes:
    """A complete trace option TLV. Pre-allocated: `free_nodes` empty slots (plus
    `extra_free_words`, e.g. room for opaque state snapshots) precede the nodes.
    `node_len`/`remaining_len` override only the header fields (to craft broken options)."""
    words = wire.node_words(trace_type)
    data = b"".join(encode_node(node, trace_type) for node in nodes)
    if incremental:
        free = b""
        remaining = free_nodes * words if remaining_len is None else remaining_len
    else:
        free = bytes((free_nodes * words + extra_free_words) * 4)
        remaining = len(free) // 4 if remaining_len is None else remaining_len
    header = struct.pack(
        "!HBB",
        namespace_id,
        ((words if node_len is None else node_len) << 3) | (flags >> 1),
        ((flags & 1) << 7) | (remaining & 0x7F),
    ) + struct.pack("!I", trace_type << 8)
    kind = wire.IOAM_INCREMENTAL if incremental else wire.IOAM_PREALLOCATED
    return _tlv(option_code, bytes([0, kind]) + header + free + data)


def dex_option(
    *,
    namespace_id: int,
    trace_type: int = 0,
    flow_id: int | None = None,
    sequence_number: int | None = None,
    flags: int = 0,
    linux_form: bool = False,
    option_code: int = wire.IPV6_OPT_IOAM,
) -> bytes:
    """A DEX option (RFC 9326); `linux_form` writes Extension-Flags 0x03 with both fields."""
    if linux_form:
        if flow_id is None or sequence_number is None:
            raise ValueError("the Linux 0x03 form carries both flow id and sequence number")
        ext = wire.DEX_LINUX_BOTH
    else:
        ext = (wire.DEX_FLOW_ID if flow_id is not None else 0) | (
            wire.DEX_SEQUENCE if sequence_number is not None else 0
        )
    body = struct.pack("!HBBI", namespace_id, flags, ext, trace_type << 8)
    body += b"".join(struct.pack("!I", v) for v in (flow_id, sequence_number) if v is not None)
    return _tlv(option_code, bytes([0, wire.IOAM_DEX]) + body)


def pot_option(*, namespace_id: int, pot_type: int = 0, flags: int = 0, data: bytes = b"") -> bytes:
    return _tlv(
        wire.IPV6_OPT_IOAM,
        bytes([0, wire.IOAM_POT]) + struct.pack("!HBB", namespace_id, pot_type, flags) + data,
    )


def e2e_option(*, namespace_id: int, e2e_type: int = 0, data: bytes = b"") -> bytes:
    return _tlv(
        wire.IPV6_OPT_IOAM,
        bytes([0, wire.IOAM_E2E]) + struct.pack("!HH", namespace_id, e2e_type) + data,
    )


def _tlv(code: int, data: bytes) -> bytes:
    if len(data) > 255:
        raise ValueError(f"option data of {len(data)} bytes exceeds 255")
    return bytes([code, len(data)]) + data


def _pad(size: int) -> bytes:
    if size == 0:
        return b""
    if size == 1:
        return b"\x00"
    return bytes([1, size - 2]) + bytes(size - 2)


def options_header(
    options: Iterable[bytes], *, next_header: int = wire.NH_UDP, align: bool = True
) -> bytes:
    """A Hop-by-Hop or Destination Options header; IOAM options placed at 4n offsets."""
    body = bytearray()
    for option in options:
        if align and option[0] in wire.IOAM_IPV6_OPTIONS:
            body += _pad(-(2 + len(body)) % 4)
        body += option
    body += _pad(-(2 + len(body)) % 8)
    return bytes([next_header, (2 + len(body)) // 8 - 1]) + bytes(body)


def hopopts_for_socket(
    namespace_id: int, trace_type: int, node_count: int, *, oss_words: int = 0
) -> bytes:
    """A Hop-by-Hop header for IPV6_HOPOPTS: PadN(2), then an empty pre-allocated trace.

    `oss_words` reserves per node the opaque state snapshot (1 header word + schema data)."""
    option = trace_option(
        namespace_id=namespace_id,
        trace_type=trace_type,
        free_nodes=node_count,
        extra_free_words=node_count * oss_words,
    )
    return options_header([option], next_header=0)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp(sport: int, dport: int, payload: bytes = b"") -> tuple[int, bytes]:
    """An upper layer for `ipv6`/`ipv4`: (protocol, segment with the checksum left zero)."""
    return wire.NH_UDP, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(
    sport: int, dport: int, payload: bytes = b"", *, seq: int = 1, flags: int = 0x18
) -> tuple[int, bytes]:
    return wire.NH_TCP, struct.pack(
        "!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0
    ) + payload


def ipv6(
    *,
    src: str = "2001:db8::1",
    dst: str = "2001:db8::2",
    upper: tuple[int, bytes] = (59, b""),
    hop_by_hop: Sequence[bytes] | None = None,
    destination: Sequence[bytes] | None = None,
    flow_label: int = 0,
    hop_limit: int = 64,
) -> bytes:
    """An IPv6 packet; UDP/TCP checksums are filled from the pseudo-header."""
    proto, segment = upper
    src_b, dst_b = ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed
    if proto in (wire.NH_UDP, wire.NH_TCP):
        pseudo = src_b + dst_b + struct.pack("!IxxxB", len(segment), proto)
        where = 6 if proto == wire.NH_UDP else 16
        value = _checksum(pseudo + segment) or 0xFFFF
        segment = segment[:where] + struct.pack("!H", value) + segment[where + 2 :]
    chain, nh = segment, proto
    if destination is not None:
        chain, nh = options_header(destination, next_header=nh) + chain, wire.NH_DSTOPTS
    if hop_by_hop is not None:
        chain, nh = options_header(hop_by_hop, next_header=nh) + chain, wire.NH_HOPOPTS
    first = (6 << 28) | (flow_label & 0xFFFFF)
    return struct.pack("!IHBB", first, len(chain), nh, hop_limit) + src_b + dst_b + chain


def ipv4(
    *, src: str = "192.0.2.1", dst: str = "192.0.2.2", upper: tuple[int, bytes], ttl: int = 64
) -> bytes:
    proto, segment = upper
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(segment),
        0,
        0x4000,
        ttl,
        proto,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return header + segment


def gtpu(
    inner: bytes,
    *,
    teid: int = 1,
    extensions: Sequence[tuple[int, bytes]] = (),
    sequence: int | None = None,
) -> bytes:
    """A G-PDU; `extensions` are (type, content), content 4n-2 bytes (PDU Session: 0x85)."""
    optional = b""
    flags = 0x30
    if extensions or sequence is not None:
        flags |= (0x04 if extensions else 0) | (0x02 if sequence is not None else 0)
        first = extensions[0][0] if extensions else 0
        optional = struct.pack("!HBB", sequence or 0, 0, first)
        for index, (_, content) in enumerate(extensions):
            if (len(content) + 2) % 4:
                raise ValueError("a GTP-U extension header's content must be 4n-2 bytes")
            following = extensions[index + 1][0] if index + 1 < len(extensions) else 0
            optional += bytes([(len(content) + 2) // 4]) + content + bytes([following])
    body = optional + inner
    return struct.pack("!BBHI", flags, 0xFF, len(body), teid) + body


def ethernet(
    payload: bytes,
    *,
    ethertype: int = 0x86DD,
    src: bytes = b"\x02\x00\x00\x00\x00\x01",
    dst: bytes = b"\x02\x00\x00\x00\x00\x02",
    vlan: int | None = None,
) -> bytes:
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return dst + src + tag + struct.pack("!H", ethertype) + payload


def linux_sll(payload: bytes, *, protocol: int = 0x86DD) -> bytes:
    """Linux cooked capture v1 header (16 bytes): packet type, ARPHRD, address, protocol."""
    return struct.pack("!HHH8sH", 0, 1, 6, b"\x02\x00\x00\x00\x00\x01", protocol) + payload


def linux_sll2(payload: bytes, *, protocol: int = 0x86DD, ifindex: int = 2) -> bytes:
    """Linux cooked capture v2 header (20 bytes): protocol first."""
    return (
        struct.pack("!HHIHBB8s", protocol, 0, ifindex, 1, 0, 6, b"\x02\x00\x00\x00\x00\x01")
        + payload
    )
