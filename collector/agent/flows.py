"""The bounded flow table: cumulative counters per (namespace_id, trace_id, node_id, direction).

Two bounds keep memory flat under any traffic: at most `max_trace_ids` distinct (namespace,
TraceID) pairs hold their own label (the rest fold into `other`), and at most `max_flows`
entries exist (when full, the least recently updated 1 % goes, counted). Entries idle longer
than `idle_timeout_seconds` are dropped; a flow that comes back starts again from zero, which
Prometheus reads as a counter reset.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from collector.agent.traceid import TraceKey
from collector.models import OTHER_TRACE

FlowKey = tuple[int, TraceKey, int, str]
"""(namespace_id, trace_id, node_id, direction)."""


class FlowTable:
    def __init__(self, *, max_flows: int, max_trace_ids: int, idle_timeout_seconds: float) -> None:
        self.max_flows = max_flows
        self.max_trace_ids = max_trace_ids
        self.idle_timeout_seconds = idle_timeout_seconds
        self._flows: dict[FlowKey, list[float]] = {}
        """Insertion order is update order (an update re-inserts), so the first key is the
        least recently updated; a plain dict costs ~55 bytes less per entry than OrderedDict."""
        self._trace_refs: dict[tuple[int, TraceKey], int] = {}
        self.evictions = 0
        """Entries removed because the table was full (idle expiry is not counted here)."""
        self.expired = 0
        self.folded_packets = 0.0
        """Per-node packet counts whose TraceID went to `other` because max_trace_ids was reached
        (the table sees (trace, node) entries, so a packet with N distinct NodeIDs adds N)."""

    def __len__(self) -> int:
        return len(self._flows)

    @property
    def trace_ids(self) -> int:
        return len(self._trace_refs)

    def merge(self, delta: Mapping[FlowKey, list[float]]) -> None:
        """Add a tally's per-flow deltas: [packets, bytes, outer_bytes, last_seen]."""
        flows = self._flows
        for key, (packets, size, outer, seen) in delta.items():
            ns, trace_id, node, direction = key
            if (
                trace_id != OTHER_TRACE
                and (ns, trace_id) not in self._trace_refs
                and len(self._trace_refs) >= self.max_trace_ids
            ):
                self.folded_packets += packets
                key = (ns, OTHER_TRACE, node, direction)
                trace_id = OTHER_TRACE
            entry = flows.get(key)
            if entry is None:
                if len(flows) >= self.max_flows:
                    self._evict_oldest()
                flows[key] = [packets, size, outer, seen]
                if trace_id != OTHER_TRACE:
                    ref = (ns, trace_id)
                    self._trace_refs[ref] = self._trace_refs.get(ref, 0) + 1
            else:
                entry[0] += packets
                entry[1] += size
                entry[2] += outer
                entry[3] = max(entry[3], seen)
                flows[key] = flows.pop(key)

    def expire(self, now: float) -> int:
        """Drop entries idle for longer than the timeout; returns how many went."""
        horizon = now - self.idle_timeout_seconds
        gone = [key for key, entry in self._flows.items() if entry[3] < horizon]
        for key in gone:
            self._remove(key)
        self.expired += len(gone)
        return len(gone)

    def rows(self) -> list[tuple[FlowKey, tuple[float, float, float, float]]]:
        """A copy of the table: (key, (packets, bytes, outer_bytes, last_seen))."""
        return [(key, (e[0], e[1], e[2], e[3])) for key, e in self._flows.items()]

    def _evict_oldest(self) -> None:
        """Evict the least recently updated 1 % in one pass (one scan over the dict's front,
        however many deleted slots it holds, instead of one scan per eviction)."""
        count = max(1, self.max_flows // 100, len(self._flows) - self.max_flows + 1)
        for key in list(itertools.islice(self._flows, count)):
            self._remove(key)
        self.evictions += count

    def _remove(self, key: FlowKey) -> None:
        del self._flows[key]
        ns, trace_id = key[0], key[1]
        if trace_id == OTHER_TRACE:
            return
        ref = (ns, trace_id)
        left = self._trace_refs[ref] - 1
        if left:
            self._trace_refs[ref] = left
        else:
            del self._trace_refs[ref]
