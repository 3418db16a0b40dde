"""The eBPF engine's bounds: a million distinct TraceIDs never grow the counter map past its cap
and every packet that did not fit is counted; header walks longer than the program's loops are
malformed and counted as such, one past each bound, while the bound itself still parses."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from collector.agent import libbpf
from collector.agent.ebpf_reader import CounterReader
from collector.agent.state import AgentState
from collector.agent.tally import RESULT_MALFORMED, RESULT_PARSED
from collector.ioam import build
from collector.settings import AgentSettings, TraceIdCarrier
from tests.ebpf_harness import KernelRunner, expected

TRACE = build.trace_option(namespace_id=100, trace_type=0x800000, nodes=[{"node_id": 5}])
UDP = build.udp(1000, 2000, b"payload")
DISTINCT = 1_000_000
CAP = 1024


@pytest.mark.slow
def test_a_million_trace_ids_stay_within_the_cap_and_the_rest_is_counted() -> None:
    carrier = TraceIdCarrier(namespace_id=100, carrier="flow_label")
    runner = KernelRunner([carrier], map_entries=CAP)
    try:
        run = libbpf.ProgRun(runner.kernel.prog_fd, build.ethernet(build.ipv6(upper=UDP,
                             hop_by_hop=[TRACE])))  # fmt: skip
        buf = run.buffer
        for label in range(DISTINCT):  # the flow label is the TraceID: bytes 15-17
            buf[15] = 0x60 | label >> 16
            buf[16] = label >> 8 & 0xFF
            buf[17] = label & 0xFF
            run()
        entries = runner.kernel.drain(swap=False)
        reader = CounterReader([("lo", "uplink")], {}, runner.kernel.cpus)
        delta = reader.delta(entries, runner.kernel.stat_rows(), now=1.0)
    finally:
        runner.close()
    assert len(entries) == CAP  # full, and not one entry more
    assert delta.results[RESULT_PARSED] == DISTINCT
    candidates, map_full = delta.kernel["lo"]
    assert (candidates, map_full) == (DISTINCT, DISTINCT - CAP)
    assert sum(v[0] for v in delta.flows.values()) + map_full == DISTINCT  # nothing silent
    state = AgentState(AgentSettings(max_trace_ids=1000))
    state.merge(delta)
    snap = state.snapshot()
    assert snap.kernel_drops == {"lo": DISTINCT - CAP}
    assert len({key[1] for key, _ in snap.flows}) == 1000 + 1  # 1000 labels and `other`
    assert snap.folded_packets == CAP - 1000


@pytest.fixture(scope="module")
def runner() -> Iterator[KernelRunner]:
    r = KernelRunner()
    yield r
    r.close()


def dest_opts(next_header: int) -> bytes:
    return bytes([next_header, 0, 1, 4, 0, 0, 0, 0])  # 8 bytes: PadN of 4


def chain(count: int) -> bytes:
    """IPv6 with the trace in Hop-by-Hop and then `count` empty Destination Options headers."""
    inner = build.ipv6(upper=UDP, hop_by_hop=[TRACE])
    hbh_len = (inner[41] + 1) * 8
    hbh, rest = bytearray(inner[40 : 40 + hbh_len]), inner[40 + hbh_len :]
    headers = b"".join(dest_opts(60 if i < count - 1 else 17) for i in range(count))
    hbh[0] = 60 if count else 17
    body = bytes(hbh) + headers + rest
    return build.ethernet(inner[:4] + struct.pack("!HBB", len(body), 0, 64) + inner[8:40] + body)


def padded(pads: int) -> bytes:
    """Hop-by-Hop holding `pads` Pad1 options before the trace, padded to 8n with Pad1."""
    lead = b"\0" * pads
    body = lead + TRACE
    body += b"\0" * (-(2 + len(body)) % 8)
    hbh = bytes([17, (2 + len(body)) // 8 - 1]) + body
    inner = build.ipv6(upper=UDP)
    return build.ethernet(inner[:4] + struct.pack("!HBB", len(hbh) + len(inner) - 40, 0, 64)
                          + inner[8:40] + hbh + inner[40:])  # fmt: skip


def gtp_extensions(count: int) -> bytes:
    """Outer IPv6 with an empty Hop-by-Hop (the prefilter lets it through), a G-PDU with
    `count` extension headers, and the traced inner packet."""
    inner = build.ipv6(upper=UDP, hop_by_hop=[TRACE])
    gtp = build.gtpu(inner, extensions=[(0x85, b"\x10\x09")] * count)
    outer = build.ipv6(upper=build.udp(2152, 2152, gtp), hop_by_hop=[])
    return build.ethernet(outer)


@pytest.mark.parametrize(
    ("frame", "limited"),
    [
        (chain(15), False),  # 16 extension headers: the bound
        (chain(16), True),
        (padded(254), False),  # 255 options: 254 Pad1 and the trace (256 is the bound)
        (padded(258), True),
        (gtp_extensions(8), False),
        (gtp_extensions(9), True),
    ],
)
def test_walks_beyond_the_bounds_are_malformed_and_counted(
    runner: KernelRunner, frame: bytes, limited: bool
) -> None:
    python = expected(frame, 1, runner.resolver)
    assert python.result == RESULT_PARSED  # the Python hot path has no bounds
    got = runner.outcome(frame)
    assert got is not None
    if limited:
        assert (got.result, got.flows, got.limits) == (RESULT_MALFORMED, {}, 1)
    else:
        assert (got.result, got.flows, got.limits) == (python.result, python.flows, 0)


@pytest.mark.parametrize(
    "nodes",
    [
        [5, 6, 5, 7, 6, 5, 8, 9],  # 8 NodeIDs: one key for the trace, repeats in it
        list(range(1, 10)),  # 9: one key per NodeID
        [*range(1, 13), 3, 5, 12, 3],  # 16 with repeats: each distinct NodeID once
        [7] * 40,  # one node, 40 times
    ],
)
def test_short_and_long_traces_count_each_distinct_node_once(
    runner: KernelRunner, nodes: list[int]
) -> None:
    trace = build.trace_option(
        namespace_id=42, trace_type=0x800000, nodes=[{"node_id": n} for n in nodes]
    )
    frame = build.ethernet(build.ipv6(upper=UDP, hop_by_hop=[trace]))
    size = len(frame) - 14
    first = runner.outcome(frame)
    assert first is not None and first.flows == expected(frame, 1, runner.resolver).flows
    runner.run(frame)
    runner.run(frame)  # three packets in one map: each adds once per distinct NodeID
    got = runner.outcome(frame)
    assert got is not None
    assert got.flows == {(42, 42, n, "uplink"): (3, 3 * size, 0) for n in set(nodes)}
