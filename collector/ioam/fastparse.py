"""The agent's hot path: one pass over a raw frame to the IOAM values it counts by.

Straight-line code with struct.unpack_from on the frame itself (no copies but the 16-byte
addresses), because it runs once per captured packet. The readable walker in frames.py and the
full decode in fulldecode.py define the same rules and are tested against this.
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from collector.ioam import wire
from collector.ioam.fulldecode import decode_frame
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
_VLAN: Final = frozenset({0x8100, 0x88A8, 0x9100})
_SKIP8: Final = frozenset({43, 135, 139, 140, 253, 254})

# A judged IOAM option: (kind 0 trace/4 dex/2 other, namespace, trace type, ids, overflow, flow).
_Judged = tuple[int, int, int, tuple[int, ...], bool, int | None]
# (stride, count, field offset, width) -> unpack_from of `count` node-id words in one call.
_ID_READERS: dict[tuple[int, int, int, int], struct.Struct] = {}
# trace type -> NodeLen it implies (OSS excluded); bounded, garbage types are not remembered.
_WORDS: dict[int, int] = {}


def _ids_reader(stride: int, count: int, offset: int, width: int) -> struct.Struct:
    key = (stride, count, offset, width)
    reader = _ID_READERS.get(key)
    if reader is None:
        pad = "x" * offset
        tail = "x" * (stride - offset - width)
        reader = struct.Struct("!" + (pad + ("I" if width == 4 else "Q") + tail) * count)
        if len(_ID_READERS) < 4096:
            _ID_READERS[key] = reader
    return reader


def _words(trace_type: int) -> int:
    words = _WORDS.get(trace_type)
    if words is None:
        words = wire.node_words(trace_type)
        if len(_WORDS) < 4096:
            _WORDS[trace_type] = words
    return words


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
        return _hot(frame, linktype, wide_namespaces)
    except (IndexError, struct.error):
        return _malformed(0, 0)


def _hot(frame: bytes, linktype: int, wide: frozenset[int]) -> HotResult:
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
        next_type = frame[q + 3]
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
    ipv6_len = 40 + _U16(frame, off + 4)[0]
    end = off + ipv6_len if ipv6_len > 40 else n
    lim = end if end < n else n
    nh = frame[off + 6]
    p = off + 40
    trace: _Judged | None = None
    dex: _Judged | None = None
    other: _Judged | None = None
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
                if q + 2 > hend or q + 2 + frame[q + 1] > hend:
                    return _malformed(ipv6_len, outer_len)
                if code == 0x31 or code == 0x11:
                    if (q - p) & 3:
                        return _malformed(ipv6_len, outer_len)
                    got = _option(frame, q, frame[q + 1], wide)
                    if got is None:
                        return _malformed(ipv6_len, outer_len)
                    kind = got[0]
                    if kind == 0:
                        trace = trace or got
                    elif kind == 4:
                        dex = dex or got
                    else:
                        other = other or got
                q += 2 + frame[q + 1]
            nh = frame[p]
            p = hend
        elif nh in _SKIP8 or nh == 51 or nh == 44:
            if p + 8 > n:
                break
            if nh == 44:
                if _U16(frame, p + 2)[0] & 0xFFF8:
                    nh = frame[p]
                    p = -1
                    break
                nh = frame[p]
                p += 8
            else:
                size = ((frame[p + 1] + 2) << 2) if nh == 51 else ((frame[p + 1] + 1) << 3)
                nh = frame[p]
                p += size
        else:
            break
    sport = dport = 0
    if (nh == 17 or nh == 6) and p >= 0 and p + 4 <= n:
        sport = _U16(frame, p)[0]
        dport = _U16(frame, p + 2)[0]
    first = trace or dex or other
    if first is None:
        if nh == 17 and dport == 2152 and not outer_len:
            return _gtpu(frame, p + 8, n, wide, ipv6_len)
        return NO_IOAM
    return _new(
        HotResult,
        (
            RESULT_PARSED,
            first[1],
            first[2],
            first[3],
            first[4],
            ipv6_len,
            outer_len,
            _U32(frame, off)[0] & 0xFFFFF,
            dex[5] if dex is not None else None,
            bytes(frame[off + 8 : off + 24]),
            bytes(frame[off + 24 : off + 40]),
            nh,
            sport,
            dport,
        ),
    )


def _option(frame: bytes, q: int, size: int, wide: frozenset[int]) -> _Judged | None:
    """Judge one IOAM option (option-type byte at q); None when malformed."""
    if size < 2:
        return None
    ioam_type = frame[q + 3]
    if ioam_type <= 1:
        return _trace(frame, q + 4, q + 2 + size, ioam_type, wide)
    if ioam_type == 4:
        if size < 10:
            return None
        ext, extra = frame[q + 7], size - 10
        tt = _U32(frame, q + 8)[0] >> 8
        if ext == 3 and extra == 8:
            return 4, _U16(frame, q + 4)[0], tt, (), False, _U32(frame, q + 12)[0]
        expected = (4 if ext & 0x80 else 0) + (4 if ext & 0x40 else 0)
        if extra != expected:
            return None
        flow = _U32(frame, q + 12)[0] if ext & 0x80 else None
        return 4, _U16(frame, q + 4)[0], tt, (), False, flow
    if ioam_type == 2 or ioam_type == 3:
        return (2, _U16(frame, q + 4)[0], 0, (), False, None) if size >= 6 else None
    return None


def _trace(frame: bytes, d: int, de: int, ioam_type: int, wide: frozenset[int]) -> _Judged | None:
    """Node ids of a trace whose header starts at d and data ends at de; None when malformed."""
    if de - d < 8:
        return None
    b2 = frame[d + 2]
    tt = (frame[d + 4] << 16) | (frame[d + 5] << 8) | frame[d + 6]
    node_len = b2 >> 3
    if not tt & 0xFFFFFE or node_len != _words(tt):
        return None
    start = d + 8
    if ioam_type == 0:
        start += (frame[d + 3] & 0x7F) << 2
        if start > de:
            return None
    namespace_id = _U16(frame, d)[0]
    if tt & 0x008000 and (not tt & 0x800000 or namespace_id in wide):
        offset, width, mask = wire.wide_id_offset(tt), 8, wire.MASK_56
    elif tt & 0x800000:
        offset, width, mask = 0, 4, wire.MASK_24
    else:
        offset, width, mask = 0, 0, 0
    stride = node_len << 2
    if tt & 2:
        ids = _oss_ids(frame, start, de, stride, offset, width, mask)
        if ids is None:
            return None
    else:
        span = de - start
        if span % stride:
            return None
        count = span // stride
        if width and count:
            values = _ids_reader(stride, count, offset, width).unpack_from(frame, start)
            ids = tuple([v & mask for v in values])
        else:
            ids = ()
    return 0, namespace_id, tt, ids, bool(b2 & 0x04), None


def _oss_ids(
    frame: bytes, pos: int, de: int, stride: int, offset: int, width: int, mask: int
) -> tuple[int, ...] | None:
    """Walk nodes that each end in a variable opaque state snapshot."""
    ids: list[int] = []
    unpack = _U32 if width == 4 else _U64
    while pos < de:
        if pos + stride + 4 > de:
            return None
        if width:
            ids.append(unpack(frame, pos + offset)[0] & mask)
        pos += stride
        pos += 4 + (frame[pos] << 2)
        if pos > de:
            return None
    return tuple(ids)
