"""Decode the per-node data of a trace with one precompiled struct per trace type."""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from collector.ioam import checks, wire

NodeDict = dict[str, Any]

# Per bit: struct codes and a function turning the unpacked values into (key, value) pairs.
_Split = Callable[[tuple[int, ...]], list[tuple[str, int]]]
_BIT_CODES: dict[int, tuple[str, _Split]] = {
    0: ("I", lambda v: [("hop_limit", v[0] >> 24), ("node_id", v[0] & wire.MASK_24)]),
    1: ("HH", lambda v: [("ingress_if_id", v[0]), ("egress_if_id", v[1])]),
    8: ("Q", lambda v: [("hop_limit", v[0] >> 56), ("node_id_wide", v[0] & wire.MASK_56)]),
    9: ("II", lambda v: [("ingress_if_id_wide", v[0]), ("egress_if_id_wide", v[1])]),
    10: ("Q", lambda v: [("namespace_data_wide", v[0])]),
}


class NodePlan:
    """How to read the fixed part of one node for a given trace type."""

    __slots__ = ("fixed_bytes", "has_oss", "parts", "unpack")

    def __init__(self, trace_type: int) -> None:
        codes = "!"
        self.parts: list[tuple[int, int, _Split | str]] = []
        index = 0
        for bit in wire.set_bits(trace_type):
            code, split = _BIT_CODES.get(bit, ("I", None))
            codes += code
            key = wire.TRACE_FIELDS[bit][1][0]
            self.parts.append((index, len(code), split if split is not None else key))
            index += len(code)
        compiled = struct.Struct(codes)
        self.unpack = compiled.unpack_from
        self.fixed_bytes = compiled.size
        self.has_oss = bool(trace_type & wire.OSS_MASK)

    def node(self, data: bytes, pos: int) -> NodeDict:
        values = self.unpack(data, pos)
        out: NodeDict = {}
        for index, count, how in self.parts:
            if isinstance(how, str):
                out[how] = values[index]
                continue
            for key, value in how(values[index : index + count]):
                out.setdefault(key, value)  # bit 0's hop limit wins over bit 8's
        return out


@lru_cache(maxsize=1024)
def plan_for(trace_type: int) -> NodePlan:
    return NodePlan(trace_type)


def decode_nodes(
    data: bytes, start: int, end: int, trace_type: int, errors: list[str]
) -> list[NodeDict]:
    """Nodes between start and end, most recent first; problems are appended to errors."""
    plan = plan_for(trace_type)
    nodes: list[NodeDict] = []
    pos = start
    if not plan.has_oss:
        span = end - start
        if span % plan.fixed_bytes:
            errors.append(checks.not_whole_nodes(span, plan.fixed_bytes))
        while pos + plan.fixed_bytes <= end:
            nodes.append(plan.node(data, pos))
            pos += plan.fixed_bytes
        return nodes
    while pos < end:
        if pos + plan.fixed_bytes + 4 > end:
            errors.append(checks.node_truncated(len(nodes)))
            break
        node = plan.node(data, pos)
        pos += plan.fixed_bytes
        oss_bytes = data[pos] * 4
        if pos + 4 + oss_bytes > end:
            errors.append(checks.node_truncated(len(nodes)))
            break
        node["opaque_state"] = {
            "schema_id": int.from_bytes(data[pos + 1 : pos + 4], "big"),
            "data": data[pos + 4 : pos + 4 + oss_bytes].hex(),
        }
        nodes.append(node)
        pos += 4 + oss_bytes
    return nodes
