"""The hot path: parse packets and accumulate per-flow deltas between flushes.

Counting rule (docs/explanation/agent.md): a packet is counted once, here at its collection point;
every distinct NodeID of its trace gets +1 packet and +bytes (the IPv6 packet carrying the
option; the inner one for GTP-U, whose outer length goes to outer bytes). A packet lands in
exactly one result: parsed, overflow (parsed, Overflow flag set: its hops are still counted),
no_ioam or malformed. With sampling 1 in N, every count is scaled by N.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from collector.agent.flows import FlowKey
from collector.agent.traceid import TraceIdResolver, TraceKey
from collector.ioam.fastparse import (
    RESULT_MALFORMED,
    RESULT_NO_IOAM,
    RESULT_PARSED,
    hot_parse,
)

RESULT_OVERFLOW = 3
ROUTE_CACHE_MAX = 4096
"""Distinct traces remembered between flushes; the cache starts afresh beyond this, so traces
that reorder a few node ids cannot grow memory while the flow count stays small."""
RESULT_NAMES = {
    RESULT_PARSED: "parsed",
    RESULT_NO_IOAM: "no_ioam",
    RESULT_MALFORMED: "malformed",
    RESULT_OVERFLOW: "overflow",
}


@dataclass(slots=True)
class Delta:
    """What a tally gathered since its last flush: picklable, so workers send it over a pipe.

    flows: key -> [packets, bytes, outer_bytes, last_seen]; results: by RESULT_* index;
    kernel: interface -> (packets, drops) cumulative; limits: interface -> packets the eBPF
    program judged malformed because a walk hit one of its bounds, cumulative.
    """

    flows: dict[FlowKey, list[float]] = field(default_factory=dict)
    results: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    kernel: dict[str, tuple[int, int]] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)


class Tally:
    """Accumulates one process's counts; `take()` hands them over and starts afresh."""

    def __init__(self, resolver: TraceIdResolver, *, sample: int = 1) -> None:
        self.resolver = resolver
        self.sample = sample
        self._skip = 0
        self.delta = Delta()
        self._routes: dict[tuple[int, TraceKey, tuple[int, ...], str], list[list[float]]] = {}
        """(namespace, TraceID, NodeIDs as carried, direction) -> its flow entries: one dict
        lookup per packet instead of one per node."""

    def __len__(self) -> int:
        return len(self.delta.flows)

    def take(self) -> Delta:
        out, self.delta = self.delta, Delta()
        self._routes.clear()
        return out

    def count(self, frames: Iterable[bytes], linktype: int, direction: str, now: float) -> None:
        """Parse and count `frames` seen at a collection point of `direction`."""
        parse = hot_parse
        wide = self.resolver.wide_namespaces
        resolve = self.resolver
        results = self.delta.results
        routes = self._routes
        custom = resolve.configured
        step = self.sample
        for frame in frames:
            if step > 1:
                self._skip += 1
                if self._skip < step:
                    continue
                self._skip = 0
            r = parse(frame, linktype, wide)
            status, ns, _type, nodes, overflow, size, outer = r[:7]
            if status != RESULT_PARSED:
                results[status] += step
                continue
            results[RESULT_OVERFLOW if overflow else RESULT_PARSED] += step
            if not nodes:
                continue
            route = (ns, resolve(r) if ns in custom else ns, nodes, direction)
            entries = routes.get(route)
            if entries is None:
                if len(routes) >= ROUTE_CACHE_MAX:
                    routes.clear()  # only a cache: the entries live on in delta.flows
                entries = routes[route] = self._entries(route, now)
            size *= step
            outer *= step
            for entry in entries:
                entry[0] += step
                entry[1] += size
                entry[2] += outer
                entry[3] = now

    def _entries(
        self, route: tuple[int, TraceKey, tuple[int, ...], str], now: float
    ) -> list[list[float]]:
        """The flow entries one trace adds to: one per distinct NodeID (a repeat counts once)."""
        ns, trace_id, nodes, direction = route
        flows = self.delta.flows
        out = []
        for node in dict.fromkeys(nodes):
            key = (ns, trace_id, node, direction)
            entry = flows.get(key)
            if entry is None:
                entry = flows[key] = [0, 0, 0, now]
            out.append(entry)
        return out
