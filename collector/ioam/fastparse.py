"""The agent's hot path: one pass over a raw frame to the IOAM values it counts by.

Straight-line code with struct.unpack_from on the frame itself (no copies but the 16-byte
addresses), because it runs once per captured packet. The readable walker in frames.py and the
full decode in fulldecode.py define the same rules and are tested against this.
"""

from __future__ import annotations

import struct
from typing import Any, Final, NamedTuple

from collector.ioam.fulldecode import decode_frame
from collector.ioam.hotparts import OSS, Judged, judge_other_option, oss_node_ids, plan_node_ids
from collector.ioam.wire import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_RAW,
)

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_IPV6",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "LINKTYPE_RAW",
    "RESULT_MALFORMED",
    "RESULT_NO_IOAM",
    "RESULT_PARSED",
    "HotResult",
    "decode_frame",
    "hot_parse",
]

RESULT_PARSED: Final = 0
RESULT_NO_IOAM: Final = 1
RESULT_MALFORMED: Final = 2


class HotResult(NamedTuple):
    status: int
    namespace_id: int
    trace_type: int
    node_ids: tuple[int, ...]  # most recent hop first; duplicates kept
    overflow: bool
    ipv6_len: int  # 40 + Payload Length of the IPv6 packet carrying the option
    outer_len: int  # total length of the outer IP packet when GTP-U, else 0
    flow_label: int
    dex_flow_id: int | None
    src: bytes
    dst: bytes
    proto: int
    sport: int
    dport: int


_ZERO16: Final = bytes(16)
NO_IOAM: Final = HotResult(
    RESULT_NO_IOAM, 0, 0, (), False, 0, 0, 0, None, _ZERO16, _ZERO16, 0, 0, 0
)
_new = tuple.__new__
_U16 = struct.Struct("!H").unpack_from
_U32 = struct.Struct("!I").unpack_from
_U64 = struct.Struct("!Q").unpack_from
_IP6 = struct.Struct("!IHBB16s16s").unpack_from
_PORTS = struct.Struct("!HH").unpack_from
_TRACE_HEADER = struct.Struct("!HBBI").unpack_from
_VLAN: Final = frozenset({0x8100, 0x88A8, 0x9100})
_SKIP8: Final = frozenset({43, 135, 139, 140, 253, 254})

# (trace type, NodeLen, span, wide) packed in an int -> how to read node ids; bounded so that
# garbage trace types from hostile traffic cannot grow it without end.
_PLANS: dict[int, tuple[Any, ...]] = {}


def _malformed(ipv6_len: int, outer_len: int) -> HotResult:
    return _new(
        HotResult,
        (
            RESULT_MALFORMED,
            0,
            0,
            (),
            False,
            ipv6_len,
            outer_len,
            0,
            None,
            _ZERO16,
            _ZERO16,
            0,
            0,
            0,
        ),
    )


def hot_parse(
    frame: bytes,
    linktype: int = LINKTYPE_ETHERNET,
    wide_namespaces: frozenset[int] = frozenset(),
) -> HotResult:
    """Namespace, trace type, node ids, trace-id carriers and lengths of one frame; never raises."""
    try:
        if linktype == 1 and len(frame) >= 14 and frame[12] == 0x86 and frame[13] == 0xDD:
            return _ipv6(frame, 14, len(frame), wide_namespaces, 0)
        return _other_link(frame, linktype, wide_namespaces)
    except (IndexError, struct.error):
        return _malformed(0, 0)


def _other_link(frame: bytes, linktype: int, wide: frozenset[int]) -> HotResult:
    """VLAN-tagged Ethernet, Linux cooked captures, raw IP, and IPv4 (for GTP-U)."""
    n = len(frame)
    if linktype == 1:
        if n < 14:
            return NO_IOAM
        ethertype = (frame[12] << 8) | frame[13]
        off = 14
        while ethertype in _VLAN and n >= off + 4:
            ethertype = (frame[off + 2] << 8) | frame[off + 3]
            off += 4
    elif linktype == 113:
        ethertype, off = (_U16(frame, 14)[0] if n >= 16 else 0), 16
    elif linktype == 276:
        ethertype, off = (_U16(frame, 0)[0] if n >= 20 else 0), 20
    elif linktype == 101 or linktype == 229:
        version = frame[0] >> 4 if n else 0
        ethertype, off = (0x86DD if version == 6 else 0x0800 if version == 4 else 0), 0
    else:
        return NO_IOAM
    if ethertype == 0x86DD:
        return _ipv6(frame, off, n, wide, 0)
    if ethertype == 0x0800:
        return _ipv4(frame, off, n, wide)
    return NO_IOAM


def _ipv4(frame: bytes, off: int, n: int, wide: frozenset[int]) -> HotResult:
    """IPv4 matters only as the outer header of GTP-U."""
    if n < off + 28:
        return NO_IOAM if n >= off + 20 else _malformed(0, 0)
    ihl = (frame[off] & 0x0F) * 4
    if frame[off + 9] != 17 or _U16(frame, off + 6)[0] & 0x1FFF or ihl < 20:
        return NO_IOAM
    udp = off + ihl
    if n < udp + 4 or _U16(frame, udp + 2)[0] != 2152:
        return NO_IOAM
    return _gtpu(frame, udp + 8, n, wide, _U16(frame, off + 2)[0])


def _gtpu(frame: bytes, g: int, n: int, wide: frozenset[int], outer_len: int) -> HotResult:
    if n < g + 8 or frame[g] >> 4 != 3 or frame[g + 1] != 0xFF:
        return NO_IOAM
    q = g + 8
    if frame[g] & 0x07:
        if n < q + 4:
            return _malformed(0, outer_len)
        next_type = frame[q + 3] if frame[g] & 0x04 else 0  # read only when E is set
        q += 4
        while next_type:
            if q >= n or frame[q] == 0 or q + frame[q] * 4 > n:
                return _malformed(0, outer_len)
            q += frame[q] * 4
            next_type = frame[q - 1]
    if q >= n or frame[q] >> 4 != 6:
        return NO_IOAM
    return _ipv6(frame, q, n, wide, outer_len)


def _ipv6(frame: bytes, off: int, n: int, wide: frozenset[int], outer_len: int) -> HotResult:
    """Walk one IPv6 packet's extension headers; IOAM options are judged as they pass."""
    if n < off + 40:
        return _malformed(0, outer_len)
    first_word, payload_len, nh, _, src, dst = _IP6(frame, off)
    ipv6_len = 40 + payload_len
    lim = off + ipv6_len if payload_len and off + ipv6_len < n else n
    p = off + 40
    trace: Judged | None = None
    dex: Judged | None = None
    other: Judged | None = None
    while True:
        if nh == 0 or nh == 60:
            if p + 2 > n:
                return _malformed(ipv6_len, outer_len)
            hend = p + ((frame[p + 1] + 1) << 3)
            if hend > lim:
                return _malformed(ipv6_len, outer_len)
            q = p + 2
            while q < hend:
                code = frame[q]
                if code == 0:
                    q += 1
                    continue
                if q + 2 > hend:
                    return _malformed(ipv6_len, outer_len)
                qe = q + 2 + frame[q + 1]
                if qe > hend:
                    return _malformed(ipv6_len, outer_len)
                if code == 0x31 or code == 0x11:
                    if (q - p) & 3 or qe - q < 4:
                        return _malformed(ipv6_len, outer_len)
                    kind = frame[q + 3]
                    got = (
                        _trace(frame, q, qe, kind, wide)
                        if kind <= 1
                        else judge_other_option(frame, q, qe)
                    )
                    if got is None:
                        return _malformed(ipv6_len, outer_len)
                    if kind <= 1:
                        trace = trace or got
                    elif kind == 4:
                        dex = dex or got
                    else:
                        other = other or got
                q = qe
            nh = frame[p]
            p = hend
        elif nh in _SKIP8 or nh == 51 or nh == 44:
            if p + 8 > n:
                break
            if nh == 44 and _U16(frame, p + 2)[0] & 0xFFF8:
                nh, p = frame[p], -1
                break
            size = (
                8
                if nh == 44
                else ((frame[p + 1] + 2) << 2)
                if nh == 51
                else ((frame[p + 1] + 1) << 3)
            )
            nh = frame[p]
            p += size
        else:
            break
    sport = dport = 0
    if (nh == 17 or nh == 6) and p >= 0 and p + 4 <= n:
        sport, dport = _PORTS(frame, p)
    found = trace or dex or other
    if nh == 17 and dport == 2152 and not outer_len:
        inner = _gtpu(frame, p + 8, n, wide, ipv6_len)
        # IOAM on the outer packet wins; a broken inner packet still makes the frame malformed
        if found is None or inner[0] == RESULT_MALFORMED:
            return inner
    if found is None:
        return NO_IOAM
    return _new(
        HotResult,
        (
            RESULT_PARSED,
            found[1],
            found[2],
            found[3],
            found[4],
            ipv6_len,
            outer_len,
            first_word & 0xFFFFF,
            dex[5] if dex is not None else None,
            src,
            dst,
            nh,
            sport,
            dport,
        ),
    )


def _trace(frame: bytes, q: int, qe: int, kind: int, wide: frozenset[int]) -> Judged | None:
    """Node ids of a trace option (option-type byte at q, end at qe); None when malformed."""
    if qe - q < 12:
        return None
    namespace_id, b2, b3, type_word = _TRACE_HEADER(frame, q + 4)
    trace_type = type_word >> 8
    start = q + 12 + ((b3 & 0x7F) << 2) if kind == 0 else q + 12
    span = qe - start
    if span < 0:
        return None
    key = ((((trace_type << 5) | (b2 >> 3)) << 9 | span) << 1) | (namespace_id in wide)
    plan = _PLANS.get(key)
    if plan is None:
        plan = plan_node_ids(trace_type, b2 >> 3, span, namespace_id in wide)
        if len(_PLANS) < 65536:
            _PLANS[key] = plan
    reader = plan[0]
    if reader is None:
        return None
    if reader is OSS:
        ids = oss_node_ids(frame, start, qe, plan[1], plan[2], plan[3])
        if ids is None:
            return None
    else:
        ids = tuple(map(plan[1], reader(frame, start)))
    return 0, namespace_id, trace_type, ids, bool(b2 & 0x04), None
