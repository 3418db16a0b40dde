"""Helpers of the hot path for the less common cases: node-id read plans, opaque state
snapshots, and DEX/POT/E2E options. Split from fastparse.py to keep each module readable."""

from __future__ import annotations

import struct
from typing import Any, Final

from collector.ioam import wire

# A judged IOAM option: (kind 0 trace/4 dex/2 other, namespace, trace type, ids, overflow, flow).
Judged = tuple[int, int, int, tuple[int, ...], bool, int | None]
OSS: Final = object()  # plan marker: nodes carry opaque state snapshots, walk them
_U16 = struct.Struct("!H").unpack_from
_U32 = struct.Struct("!I").unpack_from
_U64 = struct.Struct("!Q").unpack_from
_TRACE_HEAD = struct.Struct("!HBBI").unpack_from


PLAN_CACHE_SIZE: Final = 16384
_BROKEN: Final = (None, None, 0, 0, 0, 0, 0, False)


def plan_trace(head: bytes, wide: bool) -> tuple[Any, ...]:
    """What a trace option says, from its 11 bytes after the option type (Opt Data Len,
    Reserved, IOAM Option-Type, the trace header): (reader, arg, offset, width, node data start
    from the option-type byte, namespace, trace type, overflow); reader None when malformed."""
    size, kind, namespace_id, b2, b3, trace_type = 2 + head[0], head[2], *_TRACE_HEAD(head, 3)
    trace_type >>= 8
    start = 12 + ((b3 & 0x7F) << 2 if kind == wire.IOAM_PREALLOCATED else 0)
    if size < start:
        return _BROKEN
    how = plan_node_ids(trace_type, b2 >> 3, size - start, wide)
    if how[0] is None:
        return _BROKEN
    reader, arg, offset, width = how if how[0] is OSS else (*how, 0, 0)
    return reader, arg, offset, width, start, namespace_id, trace_type, bool(b2 & 0x04)


def plan_node_ids(trace_type: int, node_len: int, span: int, wide: bool) -> tuple[Any, ...]:
    """How to read node ids for one (trace type, NodeLen, data span, wide) combination."""
    if not trace_type & 0xFFFFFE or node_len != wire.node_words(trace_type):
        return (None,)
    if trace_type & 0x008000 and (wide or not trace_type & 0x800000):
        offset, width, mask = wire.wide_id_offset(trace_type), 8, wire.MASK_56
    elif trace_type & 0x800000:
        offset, width, mask = 0, 4, wire.MASK_24
    else:
        offset, width, mask = 0, 0, 0
    stride = node_len << 2
    if trace_type & wire.OSS_MASK:
        return OSS, stride, offset, width
    if span % stride:
        return (None,)
    count = span // stride if width else 0
    field = "x" * offset + ("I" if width == 4 else "Q") + "x" * (stride - offset - width)
    return struct.Struct("!" + field * count).unpack_from, mask.__and__


def judge_other_option(frame: bytes, q: int, qe: int) -> Judged | None:
    """Judge a DEX, POT or E2E option (option-type byte at q); None when malformed."""
    kind = frame[q + 3]
    if kind == 4:
        if qe - q < 12:
            return None
        ext, extra = frame[q + 7], qe - q - 12
        namespace_id, trace_type = _U16(frame, q + 4)[0], _U32(frame, q + 8)[0] >> 8
        if ext == 3 and extra == 8:
            return 4, namespace_id, trace_type, (), False, _U32(frame, q + 12)[0]
        if extra != (4 if ext & 0x80 else 0) + (4 if ext & 0x40 else 0):
            return None
        flow = _U32(frame, q + 12)[0] if ext & 0x80 else None
        return 4, namespace_id, trace_type, (), False, flow
    if kind == 2 or kind == 3:
        return (2, _U16(frame, q + 4)[0], 0, (), False, None) if qe - q >= 8 else None
    return None


def oss_node_ids(
    frame: bytes, pos: int, de: int, stride: int, offset: int, width: int
) -> tuple[int, ...] | None:
    """Walk nodes that each end in a variable opaque state snapshot."""
    ids: list[int] = []
    unpack, mask = (_U32, wire.MASK_24) if width == 4 else (_U64, wire.MASK_56)
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
