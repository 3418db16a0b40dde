"""The bounded flow table: caps, folding into `other`, LRU eviction, idle expiry."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.agent.flows import FlowKey, FlowTable
from collector.models import OTHER_TRACE


def table(max_flows: int = 100, max_trace_ids: int = 10, idle: float = 60.0) -> FlowTable:
    return FlowTable(max_flows=max_flows, max_trace_ids=max_trace_ids, idle_timeout_seconds=idle)


def test_merge_accumulates() -> None:
    t = table()
    key: FlowKey = (7, 100, 1, "uplink")
    t.merge({key: [1, 100, 0, 1.0]})
    t.merge({key: [2, 300, 50, 2.0]})
    assert t.rows() == [(key, (3, 400, 50, 2.0))]


def test_million_distinct_trace_ids_never_exceed_the_cap() -> None:
    """A flood of 1M TraceIDs: labels fold into `other` past max_trace_ids, the table stays
    at its cap, and no packet is lost from the totals."""
    t = table(max_flows=2000, max_trace_ids=1000)
    batch: dict[FlowKey, list[float]] = {}
    for trace in range(1_000_000):
        batch[(1, trace, trace % 3, "uplink")] = [1, 100, 0, 1.0]
        if len(batch) == 4096:
            t.merge(batch)
            batch = {}
            assert len(t) <= 2000
    t.merge(batch)
    assert len(t) <= 2000 and t.trace_ids <= 1000
    assert sum(v[0] for _k, v in t.rows()) == 1_000_000
    assert t.folded_packets == 1_000_000 - 1000
    assert {k[1] for k, _v in t.rows()} - set(range(1000)) == {OTHER_TRACE}


def test_million_distinct_flows_evicted_at_the_cap() -> None:
    """With a TraceID cap above the flow cap, the flow cap itself holds and counts evictions."""
    t = table(max_flows=5000, max_trace_ids=10_000_000)
    batch: dict[FlowKey, list[float]] = {}
    for trace in range(1_000_000):
        batch[(1, trace, 9, "downlink")] = [1, 60, 0, float(trace)]
        if len(batch) == 4096:
            t.merge(batch)
            batch = {}
    t.merge(batch)
    assert 5000 - 50 <= len(t) <= 5000  # full tables evict their oldest 1 % at once
    assert t.evictions + len(t) == 1_000_000
    assert t.trace_ids == len(t)  # references follow evictions: the TraceID set is bounded too


def test_least_recently_updated_goes_first() -> None:
    t = table(max_flows=2)
    a: FlowKey = (1, 1, 1, "uplink")
    b: FlowKey = (1, 2, 1, "uplink")
    c: FlowKey = (1, 3, 1, "uplink")
    t.merge({a: [1, 1, 0, 1.0]})
    t.merge({b: [1, 1, 0, 2.0]})
    t.merge({a: [1, 1, 0, 3.0]})
    t.merge({c: [1, 1, 0, 4.0]})
    assert {k for k, _ in t.rows()} == {a, c}
    assert t.evictions == 1


def test_idle_entries_expire_and_release_their_trace_id() -> None:
    t = table(max_trace_ids=1, idle=10.0)
    t.merge({(1, 5, 1, "uplink"): [1, 1, 0, 0.0]})
    assert t.expire(now=5.0) == 0
    assert t.expire(now=11.0) == 1
    assert len(t) == 0 and t.trace_ids == 0
    t.merge({(1, 6, 1, "uplink"): [1, 1, 0, 12.0]})
    assert t.rows()[0][0][1] == 6  # the freed slot is reused, not folded into `other`


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 30), st.integers(0, 5), st.integers(1, 9)),
        max_size=300,
    ),
    st.integers(1, 20),
    st.integers(1, 10),
)
def test_bounds_and_conservation(
    events: list[tuple[int, int, int, int]], max_flows: int, max_traces: int
) -> None:
    """Whatever arrives: the table never exceeds its caps, and until something is evicted
    the exported packets equal the packets merged."""
    t = table(max_flows=max_flows, max_trace_ids=max_traces)
    for ns, trace, node, packets in events:
        t.merge({(ns, trace, node, "uplink"): [packets, packets * 10, 0, 1.0]})
        assert len(t) <= max_flows and t.trace_ids <= max_traces
    if t.evictions == 0:
        assert sum(v[0] for _k, v in t.rows()) == sum(e[3] for e in events)
