"""The counting rule on crafted packets, without capture: the Tally that live and replay share."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.agent.state import AgentState
from collector.agent.tally import ROUTE_CACHE_MAX, Tally
from collector.agent.traceid import TraceIdResolver
from collector.ioam import build
from collector.ioam.fastparse import LINKTYPE_RAW
from collector.settings import AgentSettings, StaticTraceRule, TraceIdCarrier

TT = 0x800000


def packet(
    ns: int, nodes: list[int], *, size: int = 10, flags: int = 0, flow_label: int = 0
) -> bytes:
    option = build.trace_option(
        namespace_id=ns, trace_type=TT, nodes=[{"node_id": n} for n in nodes], flags=flags
    )
    return build.ipv6(
        upper=build.udp(1000, 2000, bytes(size)), hop_by_hop=[option], flow_label=flow_label
    )


def count(frames: list[bytes], tally: Tally | None = None) -> Tally:
    tally = Tally(TraceIdResolver()) if tally is None else tally
    tally.count(frames, LINKTYPE_RAW, "uplink", 5.0)
    return tally


def test_every_node_gets_the_packet_once() -> None:
    p = packet(100, [3, 2, 3, 1])  # node 3 twice in one trace
    t = count([p, p])
    assert t.delta.flows == {(100, 100, n, "uplink"): [2, 2 * len(p), 0, 5.0] for n in (1, 2, 3)}
    assert t.delta.results == [2, 0, 0, 0]


def test_overflow_counted_for_its_hops_and_as_overflow() -> None:
    t = count([packet(7, [9], flags=0x8)])
    assert t.delta.flows[(7, 7, 9, "uplink")][0] == 1
    assert t.delta.results == [0, 0, 0, 1]


def test_gtpu_inner_bytes_and_outer_bytes() -> None:
    inner = packet(5, [1])
    outer = build.ipv4(upper=build.udp(2152, 2152, build.gtpu(inner)))
    t = count([outer])
    assert t.delta.flows[(5, 5, 1, "uplink")] == [1, len(inner), len(outer), 5.0]


def test_empty_trace_counts_as_parsed_but_adds_no_flow() -> None:
    t = count([packet(5, [])])
    assert t.delta.flows == {} and t.delta.results == [1, 0, 0, 0]


def test_sampling_scales_every_counter() -> None:
    t = Tally(TraceIdResolver(), sample=4)
    p = packet(5, [1])
    count([p] * 8 + [b"\x60" + bytes(10)] * 4, t)  # 8 good, 4 truncated (malformed)
    assert t.delta.flows[(5, 5, 1, "uplink")][:2] == [8, 8 * len(p)]
    assert t.delta.results == [8, 0, 4, 0]


def test_flow_label_and_static_carriers() -> None:
    resolver = TraceIdResolver(
        [
            TraceIdCarrier(namespace_id=1, carrier="flow_label"),
            TraceIdCarrier(
                namespace_id=2,
                carrier="static",
                static=[StaticTraceRule(trace_id=42, dst="2001:db8::2", dst_port=2000)],
            ),
        ]
    )
    t = count([packet(1, [4], flow_label=0x12345), packet(2, [4])], Tally(resolver))
    assert set(t.delta.flows) == {(1, 0x12345, 4, "uplink"), (2, 42, 4, "uplink")}


def test_state_merges_deltas_and_caps_trace_ids() -> None:
    state = AgentState(AgentSettings(max_trace_ids=2))
    for ns in (1, 2, 3, 4):
        state.merge(count([packet(ns, [9])]).take())
    snap = state.snapshot()
    # namespaces 3 and 4 found the TraceID slots taken: `other`, still per namespace
    assert sorted((k[0], str(k[1])) for k, _v in snap.flows) == [
        (1, "1"),
        (2, "2"),
        (3, "other"),
        (4, "other"),
    ]
    assert snap.results["parsed"] == 4 and snap.folded_packets == 2


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=20))
def test_any_bytes_are_counted_never_fatal(frames: list[bytes]) -> None:
    t = count(frames)
    assert sum(t.delta.results) == len(frames)


def test_packet_cut_by_the_snap_length_counts_its_full_length() -> None:
    """The ring keeps `snaplen` bytes; bytes come from the IPv6 header, not the capture."""
    big = packet(5, [1, 2], size=1400)
    t = count([big[:512]])
    assert t.delta.results == [1, 0, 0, 0]
    assert t.delta.flows[(5, 5, 1, "uplink")][1] == len(big)


def test_route_cache_stays_bounded_when_node_orders_vary() -> None:
    """Hostile traces can repeat four node ids in endless orders: few flows, many routes. The
    per-trace cache must not grow with them (replay flushes only when flows pile up)."""
    orders = [[1 + (i >> (2 * k)) % 4 for k in range(7)] for i in range(3 * ROUTE_CACHE_MAX)]
    tally = count([packet(1, nodes) for nodes in orders])
    assert len(tally._routes) <= ROUTE_CACHE_MAX
    for node in (1, 2, 3, 4):
        expected = sum(node in nodes for nodes in orders)
        assert tally.delta.flows[(1, 1, node, "uplink")][0] == expected
