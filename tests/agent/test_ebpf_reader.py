"""The eBPF engine's user-space reader, on crafted map entries: per-CPU values add up, keys become
the AF_PACKET Tally's flow keys, statistics turn into per-flush results, and the state built from
it reads exactly like the one the Tally builds from the same packets."""

from __future__ import annotations

import struct

import pytest

from collector.agent.ebpf_reader import (
    NSTAT,
    S_CANDIDATES,
    S_LIMIT,
    S_MALFORMED,
    S_MAP_FULL,
    S_NO_IOAM,
    S_OVERFLOW,
    S_PARSED,
    TRACE_OTHER,
    TRACE_RULE,
    TRACE_VALUE,
    CounterReader,
    decode_key,
    encode_key,
    sum_cpus,
)
from collector.agent.state import AgentState
from collector.agent.tally import Tally
from collector.agent.traceid import TraceIdResolver
from collector.ioam import build
from collector.ioam.fastparse import LINKTYPE_RAW
from collector.settings import AgentSettings

CPUS = 3


def value(*per_cpu: tuple[int, int, int]) -> bytes:
    """A per-CPU flow_val: (packets, bytes, outer) per CPU, stamps arbitrary."""
    rows = list(per_cpu) + [(0, 0, 0)] * (CPUS - len(per_cpu))
    return b"".join(struct.pack("=QQQQ", p, b, o, 12345) for p, b, o in rows)


def stats(*per_cpu: dict[int, int]) -> bytes:
    rows = list(per_cpu) + [{}] * (CPUS - len(per_cpu))
    return b"".join(struct.pack(f"={NSTAT}Q", *(r.get(i, 0) for i in range(NSTAT))) for r in rows)


def test_key_layout_matches_the_c_struct() -> None:
    # struct flow_key { u32 trace; u16 ns; u8 point; u8 kind; u8 count; u8 pad[7];
    #                   u64 ids[8]; }, little endian
    raw = bytes.fromhex(
        "39300000"  # trace 12345
        "6400"  # namespace 100
        "01"  # point 1
        "02"  # kind: a static rule's index
        "02"  # 2 NodeIDs
        "00000000000000"
        "1110000000000000"  # 0x1011
        "0d00000000000000" + "00" * 48  # 13
    )
    assert decode_key(raw) == (1, 100, TRACE_RULE, 12345, (0x1011, 13))
    assert encode_key(1, 100, TRACE_RULE, 12345, (0x1011, 13)) == raw


def test_per_cpu_values_add_up() -> None:
    assert sum_cpus(value((1, 100, 0), (2, 300, 50)), struct.Struct("=QQQQ"), CPUS) == [
        3,
        400,
        50,
        3 * 12345,
    ]
    with pytest.raises(ValueError, match="expected 3 x 32"):
        sum_cpus(b"\0" * 64, struct.Struct("=QQQQ"), CPUS)


def test_keys_become_flow_keys_with_the_points_direction() -> None:
    reader = CounterReader(
        [("eth0", "uplink"), ("eth1", "uplink"), ("eth2", "downlink")], {9: [900, 901]}, CPUS
    )
    entries = [
        (encode_key(0, 100, TRACE_VALUE, 100, (7,)), value((1, 100, 0), (1, 100, 0))),
        (encode_key(1, 100, TRACE_VALUE, 100, (7,)), value((0, 0, 0), (3, 300, 60))),  # same key
        (encode_key(2, 100, TRACE_VALUE, 100, (7,)), value((4, 400, 0))),
        (encode_key(0, 7, TRACE_OTHER, 0, (8,)), value((1, 90, 0))),
        (encode_key(0, 9, TRACE_RULE, 1, (8,)), value((1, 80, 0))),
        (encode_key(0, 9, TRACE_RULE, 5, (8,)), value((1, 80, 0))),  # no rule 5: dropped
        (encode_key(7, 100, TRACE_VALUE, 100, (8,)), value((1, 80, 0))),  # no point 7: dropped
        (encode_key(0, 100, TRACE_VALUE, 100, (9,)), value()),  # nothing counted: no flow
        (encode_key(0, 5, TRACE_VALUE, 5, (1, 2, 1)), value((2, 50, 0))),  # a whole trace
        (encode_key(0, 5, TRACE_VALUE, 5, (2,)), value((1, 60, 0))),  # a long trace's NodeID
        (encode_key(0, 5, TRACE_VALUE, 5, ()), value((1, 60, 0))),  # no NodeID: dropped
    ]
    delta = reader.delta(entries, [], now=5.0)
    assert delta.flows == {
        (100, 100, 7, "uplink"): [5, 500, 60, 5.0],
        (100, 100, 7, "downlink"): [4, 400, 0, 5.0],
        (7, "other", 8, "uplink"): [1, 90, 0, 5.0],
        (9, 901, 8, "uplink"): [1, 80, 0, 5.0],
        (5, 5, 1, "uplink"): [2, 50, 0, 5.0],  # 1 repeats in its trace: counted once
        (5, 5, 2, "uplink"): [3, 110, 0, 5.0],
    }
    assert reader.unknown_entries == 3


def test_statistics_are_cumulative_in_the_kernel_and_per_flush_in_the_delta() -> None:
    reader = CounterReader([("eth0", "uplink"), ("eth1", "downlink")], {}, CPUS)
    first = reader.delta(
        [],
        [
            stats(
                {S_PARSED: 5, S_CANDIDATES: 7, S_MALFORMED: 2, S_LIMIT: 1},
                {S_PARSED: 1, S_CANDIDATES: 1, S_MAP_FULL: 1},
            ),
            stats({S_NO_IOAM: 3, S_CANDIDATES: 3}),
        ],
        now=1.0,
    )
    assert first.results == [6, 3, 2, 0]
    assert first.kernel == {"eth0": (8, 1), "eth1": (3, 0)}
    assert first.limits == {"eth0": 1, "eth1": 0}
    second = reader.delta(
        [],
        [
            stats(
                {S_PARSED: 5, S_CANDIDATES: 9, S_MALFORMED: 2, S_LIMIT: 1, S_OVERFLOW: 2},
                {S_PARSED: 1, S_CANDIDATES: 1, S_MAP_FULL: 1},
            ),
            stats({S_NO_IOAM: 3, S_CANDIDATES: 3}),
        ],
        now=2.0,
    )
    assert second.results == [0, 0, 0, 2]
    assert second.kernel == {"eth0": (10, 1), "eth1": (3, 0)}


def test_the_state_reads_like_the_af_packet_tallys() -> None:
    """Three packets through the Tally, the same three as kernel map entries: same snapshot."""
    settings = AgentSettings()
    nodes = [{"node_id": 3}, {"node_id": 2}, {"node_id": 3}]  # 3 repeats: counted once
    packets = [
        build.ipv6(
            upper=build.udp(1, 2, bytes(size)),
            hop_by_hop=[build.trace_option(namespace_id=100, trace_type=0x800000, nodes=nodes)],
        )
        for size in (10, 20, 30)
    ]
    tally = Tally(TraceIdResolver())
    tally.count(packets, LINKTYPE_RAW, "uplink", 7.0)
    afpacket = AgentState(settings)
    afpacket.merge(tally.take())

    sizes = [len(p) for p in packets]
    # the kernel's key for the trace as carried, the packets split over two CPUs
    entries = [
        (
            encode_key(0, 100, TRACE_VALUE, 100, (3, 2, 3)),
            value((2, sizes[0] + sizes[1], 0), (1, sizes[2], 0)),
        )
    ]
    reader = CounterReader([("eth0", "uplink")], {}, CPUS)
    ebpf = AgentState(settings)
    ebpf.merge(reader.delta(entries, [stats({S_PARSED: 3, S_CANDIDATES: 3})], now=7.0))

    a, b = afpacket.snapshot(), ebpf.snapshot()
    assert sorted(a.flows) == sorted(b.flows)
    assert a.results == b.results


# --- edges found by mutation testing (scripts/mutation.toml) -------------------------------


def test_one_cpu_is_enough_and_none_is_an_error() -> None:
    assert sum_cpus(struct.pack("=QQQQ", 2, 200, 20, 1), struct.Struct("=QQQQ"), 1) == [
        2,
        200,
        20,
        1,
    ]
    with pytest.raises(ValueError, match="expected 0 x 32"):
        sum_cpus(b"", struct.Struct("=QQQQ"), 0)


def test_at_most_64_collection_points() -> None:
    assert len(CounterReader([(f"eth{i}", "uplink") for i in range(64)], {}, 1).points) == 64
    with pytest.raises(ValueError, match="at most 64 collection points, got 65"):
        CounterReader([(f"eth{i}", "uplink") for i in range(65)], {}, 1)


def test_entries_naming_no_point_or_rule_are_counted_as_unknown() -> None:
    """Point index = number of points, a rule index = number of rules, a rule of a namespace
    without rules: none of them is configured."""
    reader = CounterReader([("eth0", "uplink")], {9: [900]}, CPUS)
    entries = [
        (encode_key(1, 100, TRACE_VALUE, 100, (7,)), value((1, 100, 0))),
        (encode_key(0, 9, TRACE_RULE, 1, (7,)), value((1, 100, 0))),
        (encode_key(0, 4, TRACE_RULE, 0, (7,)), value((1, 100, 0))),
        (encode_key(0, 9, TRACE_RULE, 0, (7,)), value((1, 100, 0))),  # this one is known
    ]
    delta = reader.delta(entries, [], now=1.0)
    assert delta.flows == {(9, 900, 7, "uplink"): [1, 100, 0, 1.0]}
    assert reader.unknown_entries == 3
    assert reader.trace_id(4, TRACE_RULE, 0) is None


def test_outer_bytes_of_several_keys_add_up_on_a_shared_node() -> None:
    """Two traces through NodeID 1 (routes 1-2 and 1-3): node 1 gets both keys' counts."""
    reader = CounterReader([("n3", "uplink")], {}, CPUS)
    entries = [
        (encode_key(0, 5, TRACE_VALUE, 5, (1, 2)), value((2, 200, 260))),
        (encode_key(0, 5, TRACE_VALUE, 5, (1, 3)), value((1, 100, 130), (1, 100, 130))),
    ]
    flows = reader.delta(entries, [], now=1.0).flows
    assert flows[(5, 5, 1, "uplink")] == [4, 400, 520, 1.0]
    assert flows[(5, 5, 2, "uplink")] == [2, 200, 260, 1.0]
    assert flows[(5, 5, 3, "uplink")] == [2, 200, 260, 1.0]
