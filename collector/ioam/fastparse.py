"""The agent's hot path: a raw frame to the IOAM values it counts by.

walker.walk finds the IOAM options (the same walk the full decoder in fulldecode.py takes);
this module judges them with struct.unpack_from on the frame itself (no copies but the 16-byte
addresses), because it runs once per captured packet. The scapy engine (scapy_engine.py) is
the independent oracle both are tested against.
"""

from __future__ import annotations

import struct
from typing import Any, Final, NamedTuple

from collector.ioam.fulldecode import decode_frame
from collector.ioam.hotparts import (
    OSS,
    PLAN_CACHE_SIZE,
    Judged,
    judge_other_option,
    oss_node_ids,
    plan_trace,
)
from collector.ioam.walker import Carrier, walk
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
_IP6 = struct.Struct("!IHBB16s16s").unpack_from
_PORTS = struct.Struct("!HH").unpack_from
_HEAD = struct.Struct("11s").unpack_from  # a copy, hashable whatever buffer the frame is

# The 11 bytes from a trace option's Opt Data Len to its trace header's end -> what they say and
# how to read the node ids (_WIDE_PLANS: for namespaces read by their wide node ids); bounded so
# that hostile traffic cannot grow them without end.
_PLANS: dict[bytes, tuple[Any, ...]] = {}
_WIDE_PLANS: dict[bytes, tuple[Any, ...]] = {}


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
        outer, inner, outer_len, error = walk(frame, linktype)
        got = NO_IOAM if outer is None else _count(frame, outer, wide_namespaces, 0)
        if got is None:
            return _malformed(40 + _U16(frame, outer[0] + 4)[0], 0)  # type: ignore[index]
        if error is not None:
            return _malformed(0, outer_len)
        if inner is not None:
            mine = _count(frame, inner, wide_namespaces, outer_len)
            if mine is None:  # a broken inner packet makes the frame malformed either way
                return _malformed(40 + _U16(frame, inner[0] + 4)[0], outer_len)
            if got is NO_IOAM:  # IOAM on the outer packet wins
                return mine
        return got
    except (IndexError, struct.error):
        return _malformed(0, 0)


def _count(
    frame: bytes, carrier: Carrier, wide: frozenset[int], outer_len: int
) -> HotResult | None:
    """What one IPv6 packet is counted by: its first trace option, else its first DEX option,
    else its first POT/E2E one; None when an IOAM option or a header of it is broken."""
    off, end, nh, upper, options, error = carrier
    if error is not None:
        return None
    trace: Judged | None = None
    dex: Judged | None = None
    other: Judged | None = None
    for _, p, q, qe in options:
        if (q - p) & 3 or qe - q < 4:
            return None
        kind = frame[q + 3]
        got = _trace(frame, q, qe, wide) if kind <= 1 else judge_other_option(frame, q, qe)
        if got is None:
            return None
        if kind <= 1:
            trace = trace or got
        elif kind == 4:
            dex = dex or got
        else:
            other = other or got
    found = trace or dex or other
    if found is None:
        return NO_IOAM
    first_word, payload_len, _, _, src, dst = _IP6(frame, off)
    sport = dport = 0
    if (nh == 17 or nh == 6) and upper >= 0 and upper + 4 <= end:
        sport, dport = _PORTS(frame, upper)
    return _new(
        HotResult,
        (
            RESULT_PARSED,
            found[1],
            found[2],
            found[3],
            found[4],
            40 + payload_len,
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


def _trace(frame: bytes, q: int, qe: int, wide: frozenset[int]) -> Judged | None:
    """Node ids of a trace option (option-type byte at q, end at qe); None when malformed. Its
    kind (pre-allocated or incremental) is read with the rest of the plan key."""
    if qe - q < 12:
        return None
    key = _HEAD(frame, q + 1)[0]  # Opt Data Len to the trace header's end decide the plan
    plan = _PLANS.get(key) or _learn(_PLANS, key, False)
    if wide and plan[5] in wide:
        plan = _WIDE_PLANS.get(key) or _learn(_WIDE_PLANS, key, True)
    reader, arg, offset, width, start, namespace_id, trace_type, overflow = plan
    if reader is None:
        return None
    if reader is OSS:
        ids = oss_node_ids(frame, q + start, qe, arg, offset, width)
        if ids is None:
            return None
    else:
        ids = tuple(map(arg, reader(frame, q + start)))
    return 0, namespace_id, trace_type, ids, overflow, None


def _learn(plans: dict[bytes, tuple[Any, ...]], key: bytes, wide: bool) -> tuple[Any, ...]:
    plan = plan_trace(key, wide)
    if len(plans) < PLAN_CACHE_SIZE:
        plans[key] = plan
    return plan
