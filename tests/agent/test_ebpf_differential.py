"""Differential against the Python parser: the kernel runs the committed eBPF program on each of
more than 50,000 generated and mutated frames (BPF_PROG_TEST_RUN), and each frame must land in
the same result and add the same counter increments as the AF_PACKET engine computes in Python
(classic-BPF prefilter, `hot_parse`, TraceID carriers, one count per distinct NodeID).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.agent.ebpf_config import LINK_ETHERNET, LINK_RAW
from collector.agent.replay import network_layer
from collector.ioam import build, wire
from collector.settings import StaticTraceRule, TraceIdCarrier
from tests.ebpf_harness import KernelRunner, Outcome, expected, short_ip_header, tally
from tests.ioam.strategies import carried_frames, dex_specs, trace_specs
from tests.ioam.test_fuzz import mutate, seed_frames

MUTATIONS = 26_000
EXAMPLES = 600
MUTANTS_PER_EXAMPLE = 40
RULES = [
    StaticTraceRule(trace_id=900, src="2001:db8::1/128", dst_port=5000),
    StaticTraceRule(trace_id=901, dst="2001:db8::/64", src_port=1000),
    StaticTraceRule(trace_id=902, dst_port=4000),
    StaticTraceRule(trace_id=903, src="2001:db8::/32"),
    StaticTraceRule(trace_id=904, src="192.0.2.0/24"),
]
CARRIERS = [
    TraceIdCarrier(namespace_id=7, carrier="dex_flow_id"),
    TraceIdCarrier(namespace_id=8, carrier="flow_label", node_id_field="wide"),
    TraceIdCarrier(namespace_id=9, carrier="static", static=RULES),
    TraceIdCarrier(namespace_id=10, carrier="namespace"),
    TraceIdCarrier(namespace_id=11, node_id_field="wide"),
]
NAMESPACES = st.sampled_from([7, 8, 9, 10, 11]) | st.integers(0, 0xFFFF)


@pytest.fixture(scope="module")
def runner() -> Iterator[KernelRunner]:
    r = KernelRunner(CARRIERS)
    yield r
    r.close()


def as_ethernet(frame: bytes, linktype: int) -> tuple[bytes, int]:
    """Cooked captures never reach TC: give their packet an Ethernet header instead."""
    if linktype in (wire.LINKTYPE_LINUX_SLL, wire.LINKTYPE_LINUX_SLL2):
        cut = network_layer(frame, linktype)
        assert cut is not None
        return build.ethernet(cut[0], ethertype=cut[1]), wire.LINKTYPE_ETHERNET
    return frame, linktype


class Differential:
    def __init__(self, runner: KernelRunner) -> None:
        self.runner = runner
        self.outcomes: list[Outcome] = []
        self.too_short = 0
        self.refused = 0

    def check(self, frame: bytes, linktype: int) -> None:
        if len(frame) < 14:  # BPF_PROG_TEST_RUN takes at least an Ethernet header
            self.too_short += 1
            return
        link = LINK_RAW if linktype == wire.LINKTYPE_RAW else LINK_ETHERNET
        if self.runner.linktype != linktype:
            self.runner.link(link)
        want = expected(frame, linktype, self.runner.resolver)
        got = self.runner.outcome(frame)
        if got is None:  # truncated IP header: covered live in test_live.py instead
            assert linktype == wire.LINKTYPE_ETHERNET and short_ip_header(frame, linktype)
            self.refused += 1
            return
        assert (got.result, got.flows, got.limits, got.map_full) == (
            want.result,
            want.flows,
            0,
            0,
        ), f"linktype {linktype}, frame {frame.hex()}"
        self.outcomes.append(got)


@st.composite
def options(draw: st.DrawFn) -> list[bytes]:
    out = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["trace", "trace", "dex", "pot"]))
        ns = draw(NAMESPACES)
        if kind == "trace":
            spec: dict[str, Any] = {**draw(trace_specs()), "namespace_id": ns}
            out.append(build.trace_option(**spec))
        elif kind == "dex":
            out.append(build.dex_option(**{**draw(dex_specs()), "namespace_id": ns}))
        else:
            out.append(build.pot_option(namespace_id=ns, data=bytes(8)))
    return out


@pytest.mark.slow
def test_generated_frames_and_their_mutants_match_hot_parse(runner: KernelRunner) -> None:
    diff = Differential(runner)
    rnd = random.Random(20261122)

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        frame, linktype = as_ethernet(*data.draw(carried_frames(data.draw(options()))))
        diff.check(frame, linktype)
        for _ in range(MUTANTS_PER_EXAMPLE):
            diff.check(mutate(rnd, frame), linktype)

    one()
    assert len(diff.outcomes) >= EXAMPLES * (1 + MUTANTS_PER_EXAMPLE) * 0.8
    kinds = tally(diff.outcomes)
    for kind in ("filtered", "0", "1", "2", "3"):  # every result occurs, not just the easy ones
        assert kinds[kind] > len(diff.outcomes) // 200, kinds


@pytest.mark.slow
def test_mutated_seed_frames_match_hot_parse(runner: KernelRunner) -> None:
    diff = Differential(runner)
    rnd = random.Random(20261123)
    seeds = [as_ethernet(*seed) for seed in seed_frames()]
    for index in range(MUTATIONS):
        frame, linktype = seeds[index % len(seeds)]
        diff.check(mutate(rnd, frame), linktype)
    assert len(diff.outcomes) + diff.too_short + diff.refused == MUTATIONS
    assert len(diff.outcomes) >= MUTATIONS * 0.9
    kinds = tally(diff.outcomes)
    for kind in ("filtered", "0", "1", "2"):
        assert kinds[kind] > MUTATIONS // 200, kinds
