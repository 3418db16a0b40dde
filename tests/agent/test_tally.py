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
    t = count([packet(5, []), packet(6, [2])])  # and the packets after it still count
    assert t.delta.flows == {(6, 6, 2, "uplink"): [1, len(packet(6, [2])), 0, 5.0]}
    assert t.delta.results == [2, 0, 0, 0]


def gtpu(ns: int, nodes: list[int], size: int = 10) -> tuple[bytes, bytes]:
    """(outer IPv4/UDP/GTP-U packet, the inner IPv6 packet it carries)."""
    inner = packet(ns, nodes, size=size)
    return build.ipv4(upper=build.udp(2152, 2152, build.gtpu(inner))), inner


def test_sampling_scales_every_counter() -> None:
    """1 in 4: 8 GTP-U packets count as 8, and so do their inner bytes and their outer bytes."""
    t = Tally(TraceIdResolver(), sample=4)
    outer, inner = gtpu(5, [1])
    # inner: IPv6 40 + hop-by-hop 24 (16-byte trace option, padded) + UDP 8 + 10;
    # outer: IPv4 20 + UDP 8 + GTP-U 8 + inner 82
    assert (len(inner), len(outer)) == (82, 118)
    count([outer] * 8 + [b"\x60" + bytes(10)] * 4, t)  # 8 good, 4 truncated (malformed)
    assert t.delta.flows[(5, 5, 1, "uplink")] == [8, 8 * 82, 8 * 118, 5.0]
    assert t.delta.results == [8, 0, 4, 0]


def test_sampling_takes_every_nth_packet_from_the_nth() -> None:
    """Packet k (1-based) is counted when k is a multiple of N: namespaces 1..12 tell which."""
    t = count([packet(ns, [1]) for ns in range(1, 13)], Tally(TraceIdResolver(), sample=4))
    assert sorted(k[0] for k in t.delta.flows) == [4, 8, 12]
    assert all(v[0] == 4 for v in t.delta.flows.values())
    t = count([packet(ns, [1]) for ns in range(1, 8)], Tally(TraceIdResolver(), sample=2))
    assert sorted(k[0] for k in t.delta.flows) == [2, 4, 6]
    assert t.delta.results == [6, 0, 0, 0]
    t = count([packet(ns, [1]) for ns in range(1, 4)], Tally(TraceIdResolver(), sample=4))
    assert t.delta.flows == {} and t.delta.results == [0, 0, 0, 0]


def test_outer_bytes_add_up_over_packets() -> None:
    outer, inner = gtpu(5, [1, 2], size=30)
    small, _ = gtpu(5, [1, 2], size=3)
    t = count([outer, outer, small])
    for node in (1, 2):
        assert t.delta.flows[(5, 5, node, "uplink")][:3] == [
            3,
            2 * len(inner) + len(inner) - 27,
            2 * len(outer) + len(outer) - 27,
        ]


def test_a_bad_packet_does_not_stop_the_count() -> None:
    """Malformed and non-IOAM packets are counted by result and the next packets still count."""
    p = packet(5, [1])
    t = count([b"\x60" + bytes(10), build.ipv6(upper=build.udp(1, 2)), p, p])
    assert t.delta.results == [2, 1, 1, 0]
    assert t.delta.flows[(5, 5, 1, "uplink")][0] == 2


def test_wide_node_ids_for_wide_namespaces() -> None:
    """A namespace configured `wide` is counted by its 56-bit NodeIDs (trace-type bit 8)."""
    option = build.trace_option(
        namespace_id=9,
        trace_type=0x808000,
        nodes=[{"hop_limit": 1, "node_id": 7, "node_id_wide": 2**40 + 5}],
    )
    frame = build.ipv6(upper=build.udp(1000, 2000), hop_by_hop=[option])
    resolver = TraceIdResolver([TraceIdCarrier(namespace_id=9, node_id_field="wide")])
    assert set(count([frame], Tally(resolver)).delta.flows) == {(9, 9, 2**40 + 5, "uplink")}
    assert set(count([frame]).delta.flows) == {(9, 9, 7, "uplink")}


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


def test_route_cache_never_holds_more_than_its_bound() -> None:
    """One trace more than the bound: the cache starts afresh instead of growing past it, and
    every packet is still counted."""
    orders = [[1 + (i >> (2 * k)) % 4 for k in range(7)] for i in range(ROUTE_CACHE_MAX + 1)]
    tally = count([packet(1, nodes) for nodes in orders])
    assert 1 <= len(tally._routes) <= ROUTE_CACHE_MAX
    assert sum(tally.delta.results) == ROUTE_CACHE_MAX + 1
