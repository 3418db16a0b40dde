"""The eBPF engine's user-space reader: kernel map entries in, the AF_PACKET Tally's `Delta` out.

Pure (no system calls), so it is tested on crafted entries. The layouts mirror
collector/agent/bpf/ioam_tc.bpf.c: a counter entry is keyed by (TraceID, namespace, collection
point, kind, NodeIDs) with one (packets, bytes, outer bytes, stamp) value per CPU. A key holds a
whole trace's NodeIDs as carried (up to ROUTE_MAX, repeats included) or, for longer traces, one
NodeID; every distinct NodeID of a key gets the key's counts, as the Tally counts a repeated
NodeID once. The statistics are one row of NSTAT cumulative counters per point and CPU.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from collector.agent.flows import FlowKey
from collector.agent.tally import Delta
from collector.agent.traceid import TraceKey
from collector.models import OTHER_TRACE

MAX_POINTS: Final = 64
NSTAT: Final = 8
S_PARSED, S_NO_IOAM, S_MALFORMED, S_OVERFLOW, S_CANDIDATES, S_MAP_FULL, S_LIMIT = range(7)
"""Statistics row; the first four are tally.RESULT_* in the same order."""
TRACE_VALUE, TRACE_OTHER, TRACE_RULE = 0, 1, 2
"""flow_key.kind: the TraceID itself, `other` (carrier absent), or a static rule's index."""

ROUTE_MAX: Final = 8
KEY: Final = struct.Struct(f"=IHBBB7x{ROUTE_MAX}Q")  # struct flow_key
VALUE: Final = struct.Struct("=QQQQ")  # struct flow_val, per CPU
STAT_ROW: Final = struct.Struct(f"={NSTAT}Q")  # struct stat_row, per CPU


def decode_key(raw: bytes) -> tuple[int, int, int, int, tuple[int, ...]]:
    """(point, namespace, kind, trace, NodeIDs) of a flow_key."""
    trace, ns, point, kind, count, *ids = KEY.unpack(raw)
    return point, ns, kind, trace, tuple(ids[: min(count, ROUTE_MAX)])


def encode_key(point: int, ns: int, kind: int, trace: int, ids: tuple[int, ...]) -> bytes:
    padded = list(ids) + [0] * (ROUTE_MAX - len(ids))
    return KEY.pack(trace, ns, point, kind, len(ids), *padded)


def sum_cpus(raw: bytes, row: struct.Struct, cpus: int) -> list[int]:
    """Add up a per-CPU value: `cpus` consecutive copies of `row`."""
    if cpus < 1 or len(raw) != row.size * cpus:
        raise ValueError(f"per-CPU value of {len(raw)} bytes, expected {cpus} x {row.size}")
    return [sum(column) for column in zip(*row.iter_unpack(raw), strict=True)]


class CounterReader:
    """Turns one flush's drained counter entries and the cumulative statistics into a Delta.

    points: (interface, direction) by collection-point index; rule_ids: namespace -> the
    TraceID of each static rule, by rule index.
    """

    def __init__(
        self,
        points: Sequence[tuple[str, str]],
        rule_ids: Mapping[int, Sequence[int]],
        cpus: int,
    ) -> None:
        if len(points) > MAX_POINTS:
            raise ValueError(f"at most {MAX_POINTS} collection points, got {len(points)}")
        self.points = list(points)
        self.rule_ids = {ns: list(ids) for ns, ids in rule_ids.items()}
        self.cpus = cpus
        self._seen = [[0] * NSTAT for _ in points]
        self.unknown_entries = 0
        """Entries that name no configured point or rule (none unless the layouts drifted)."""

    def trace_id(self, ns: int, kind: int, trace: int) -> TraceKey | None:
        if kind == TRACE_VALUE:
            return trace
        if kind == TRACE_OTHER:
            return OTHER_TRACE
        ids = self.rule_ids.get(ns, ())
        return ids[trace] if kind == TRACE_RULE and trace < len(ids) else None

    def delta(
        self,
        entries: Iterable[tuple[bytes, bytes]],
        stat_rows: Sequence[bytes],
        now: float,
    ) -> Delta:
        """entries: (flow_key, per-CPU flow_val) pairs; stat_rows: per-CPU stat_row by point."""
        out = Delta()
        flows = out.flows
        for raw_key, raw_value in entries:
            point, ns, kind, trace, ids = decode_key(raw_key)
            trace_id = self.trace_id(ns, kind, trace)
            if point >= len(self.points) or trace_id is None or not ids:
                self.unknown_entries += 1
                continue
            packets, size, outer, _stamp = sum_cpus(raw_value, VALUE, self.cpus)
            if not packets:
                continue
            direction = self.points[point][1]
            for node in dict.fromkeys(ids):
                key: FlowKey = (ns, trace_id, node, direction)
                entry = flows.get(key)
                if entry is None:
                    flows[key] = [packets, size, outer, now]
                else:
                    entry[0] += packets
                    entry[1] += size
                    entry[2] += outer
        for point, raw in enumerate(stat_rows):
            totals = sum_cpus(raw, STAT_ROW, self.cpus)
            seen = self._seen[point]
            for result in (S_PARSED, S_NO_IOAM, S_MALFORMED, S_OVERFLOW):
                out.results[result] += totals[result] - seen[result]
            self._seen[point] = totals
            interface = self.points[point][0]
            out.kernel[interface] = (totals[S_CANDIDATES], totals[S_MAP_FULL])
            out.limits[interface] = totals[S_LIMIT]
        return out
