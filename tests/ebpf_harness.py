"""Runs the committed eBPF program on buffers with BPF_PROG_TEST_RUN (no interface needed), and
says what the AF_PACKET engine would count for the same frame, computed without the BPF code:
the classic-BPF prefilter in the interpreter, `hot_parse` on the network-layer packet cut to the
snap length, the TraceID resolver and the counting rule of tally.py. Like the program, the
prefilter sees the frame's first snap length + 46 bytes (room for Ethernet and 8 VLAN tags).
"""

from __future__ import annotations

import errno
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from collector.agent import bpf, bpfvm, libbpf
from collector.agent.ebpf import KernelCounters
from collector.agent.ebpf_config import LINK_ETHERNET
from collector.agent.ebpf_reader import CounterReader
from collector.agent.replay import network_layer
from collector.agent.tally import RESULT_OVERFLOW
from collector.agent.traceid import TraceIdResolver
from collector.ioam.fastparse import LINKTYPE_ETHERNET, LINKTYPE_RAW, RESULT_PARSED, hot_parse
from collector.settings import TraceIdCarrier
from tests.conftest import need_root

LOOPBACK = 1  # BPF_PROG_TEST_RUN runs TC programs as if on the loopback device
SNAPLEN = 512  # agent.snaplen's default
MAX_L2 = 46
FILTER = bpf.ioam_filter(SNAPLEN)
Flows = dict[tuple[int, object, int, str], tuple[int, int, int]]


@dataclass
class Outcome:
    """What one frame changed: the result it was counted in (None: filtered) and the flows."""

    result: int | None
    flows: Flows = field(default_factory=dict)
    limits: int = 0
    map_full: int = 0


def expected(
    frame: bytes, linktype: int, resolver: TraceIdResolver, snaplen: int = SNAPLEN
) -> Outcome:
    """The AF_PACKET engine's verdict: prefilter on the network layer, then the hot path on the
    `snaplen` bytes the ring would hold."""
    cut = network_layer(frame[: snaplen + MAX_L2], linktype)
    if cut is None:
        return Outcome(None)
    packet, proto, _pkttype = cut
    snap = bpfvm.run(FILTER, packet, protocol=proto) if packet else 0
    if snap == 0:
        return Outcome(None)
    r = hot_parse(packet[:snap], LINKTYPE_RAW, resolver.wide_namespaces)
    if r.status != RESULT_PARSED:
        return Outcome(r.status)
    out = Outcome(RESULT_OVERFLOW if r.overflow else RESULT_PARSED)
    if r.node_ids:
        trace = resolver(r) if r.namespace_id in resolver.configured else r.namespace_id
        for node in set(r.node_ids):
            out.flows[(r.namespace_id, trace, node, "uplink")] = (1, r.ipv6_len, r.outer_len)
    return out


class KernelRunner:
    """The program loaded with `carriers`, collection point 0 on the loopback device."""

    def __init__(self, carriers: Sequence[TraceIdCarrier] = (), map_entries: int = 8192) -> None:
        need_root()
        self.kernel = KernelCounters(carriers, map_entries)
        self.resolver = TraceIdResolver(carriers)
        self.link(LINK_ETHERNET)
        self.reader = CounterReader(
            [("lo", "uplink")], self.kernel.config.rule_ids, self.kernel.cpus
        )

    def link(self, link: int) -> None:
        self.linktype = LINKTYPE_ETHERNET if link == LINK_ETHERNET else LINKTYPE_RAW
        self.kernel.set_points([LOOPBACK], [link], SNAPLEN)

    def run(self, frame: bytes, repeat: int = 1) -> int:
        """Run the program on `frame`; returns its verdict (TC_ACT_UNSPEC, -1)."""
        verdict = libbpf.prog_run(self.kernel.prog_fd, frame, repeat)[0]
        self._runs += repeat
        return verdict

    def outcome(self, frame: bytes) -> Outcome | None:
        """Run once and read back exactly what the runs since the last outcome changed (the
        last one's result); None when BPF_PROG_TEST_RUN refuses the buffer (EINVAL: it wants
        the whole IPv4 or IPv6 header an EtherType names)."""
        try:
            self.run(frame)
        except libbpf.BpfError as exc:
            if exc.errno == errno.EINVAL:
                return None
            raise
        delta = self.reader.delta(self.kernel.drain(swap=False), self.kernel.stat_rows(), 0.0)
        results = [i for i, n in enumerate(delta.results) for _ in range(n)]
        candidates, map_full = delta.kernel["lo"]
        limits = delta.limits["lo"]
        out = Outcome(
            results[-1] if results else None,
            {k: (int(v[0]), int(v[1]), int(v[2])) for k, v in delta.flows.items()},
        )
        out.limits, out.map_full = limits - self._limits, map_full - self._map_full
        self._limits, self._map_full = limits, map_full
        assert len(results) <= self._runs and candidates - self._candidates == len(results)
        self._candidates, self._runs = candidates, 0
        return out

    _limits = _map_full = _candidates = _runs = 0

    def close(self) -> None:
        self.kernel.close()


def short_ip_header(frame: bytes, linktype: int) -> bool:
    """Whether the frame names IPv4/IPv6 but holds less than that header (what the kernel's
    BPF_PROG_TEST_RUN refuses to build an skb from)."""
    cut = network_layer(frame, linktype if linktype == LINKTYPE_ETHERNET else LINKTYPE_ETHERNET)
    if cut is None:
        return False
    packet, proto, _ = cut
    return (proto == 0x86DD and len(packet) < 40) or (proto == 0x0800 and len(packet) < 20)


def tally(outcomes: Sequence[Outcome]) -> Counter[str]:
    return Counter("filtered" if o.result is None else str(o.result) for o in outcomes)
