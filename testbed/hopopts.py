"""The Hop-by-Hop header the senders hand to IPV6_HOPOPTS: an empty pre-allocated IOAM trace.

This kernel lacks the IOAM lwtunnel encap, so the sender inserts the trace itself and every
forwarding namespace with ioam6_enabled on its ingress fills one slot (RFC 9197, RFC 9486).
"""

from __future__ import annotations

import socket
import struct

IPV6_TLV_IOAM = 0x31
IOAM_PREALLOC_TRACE = 0
TRACE_TYPE_NODE_ID = 0x800000
"""Trace-type bit 0 (most significant of 24): Hop_Lim(8) + node_id(24), 4 octets per hop."""
IPV6_HOPOPTS = getattr(socket, "IPV6_HOPOPTS", 54)


def hopopts(namespace_id: int, slots: int, trace_type: int = TRACE_TYPE_NODE_ID) -> bytes:
    """Hop-by-Hop header: PadN(2) so the IOAM option starts at 4n, then the empty trace.

    ```
    00            next header (the kernel fills it)
    LL            header length in 8-octet units minus 1
    01 00         PadN, no padding data
    31 LL         option 0x31, option length
    00 00         reserved, IOAM option-type 0 (pre-allocated trace)
    NN NN         Namespace-ID
    nodelen<<11 | remlen   NodeLen(5) Flags(4) RemainingLen(7)
    TT TT TT 00   trace type, reserved
    00 * 4*slots  the slots, filled from the end backwards
    ```
    """
    if slots % 2:
        raise ValueError("slots must be even so the header is a multiple of 8 octets")
    node_len = 1
    data = bytes(4 * node_len * slots)
    trace = struct.pack(
        "!HHI", namespace_id, (node_len << 11) | (node_len * slots), trace_type << 8
    )
    option = bytes([0, IOAM_PREALLOC_TRACE]) + trace + data
    body = bytes([1, 0, IPV6_TLV_IOAM, len(option)]) + option
    total = 2 + len(body)
    return bytes([0, total // 8 - 1]) + body


def set_hopopts(sock: socket.socket, namespace_id: int, slots: int) -> int:
    """Make every packet of `sock` carry the empty trace; returns the header's length."""
    header = hopopts(namespace_id, slots)
    sock.setsockopt(socket.IPPROTO_IPV6, IPV6_HOPOPTS, header)
    return len(header)
