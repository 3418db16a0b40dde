"""The agent's /metrics: a prometheus_client Collector that reads a fresh snapshot per scrape.

No metric object lives at module level; everything is built from `AgentState.snapshot()` and
the interface counters at collect time. Every series carries `k8s_node`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collector import __version__
from collector.agent.ifstats import SYSFS_NET, read_interface
from collector.agent.state import AgentSnapshot

FLOW_LABELS = ["namespace_id", "trace_id", "node_id", "direction", "k8s_node"]


class AgentCollector(Collector):
    def __init__(
        self,
        snapshot: Callable[[], AgentSnapshot],
        *,
        k8s_node: str,
        interfaces: Sequence[str] = (),
        sysfs_root: Path = SYSFS_NET,
    ) -> None:
        self._snapshot = snapshot
        self._node = k8s_node
        self._interfaces = tuple(interfaces)
        self._sysfs = sysfs_root

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        yield from self._flow_metrics(snap)
        yield from self._self_metrics(snap)
        yield from self._interface_metrics()
        info = GaugeMetricFamily(
            "e2e_energy_build_info",
            "Build of the e2e-energy agent.",
            labels=["version", "k8s_node"],
        )
        info.add_metric([__version__, self._node], 1)
        yield info
        engine = GaugeMetricFamily(
            "e2e_energy_agent_info",
            "The capture engine counting here (ebpf, afpacket, pcap) and why it was chosen.",
            labels=["engine", "reason", "k8s_node"],
        )
        engine.add_metric([snap.engine, snap.engine_reason, self._node], 1)
        yield engine
        yield from self._ebpf_metrics(snap)

    def _flow_metrics(self, snap: AgentSnapshot) -> Iterator[Metric]:
        packets = CounterMetricFamily(
            "e2e_energy_ioam_packets",
            "IOAM packets counted at this collection point, per traced node.",
            labels=FLOW_LABELS,
        )
        size = CounterMetricFamily(
            "e2e_energy_ioam_bytes",
            "Bytes of the IPv6 packets carrying IOAM (inner packet for GTP-U), per traced node.",
            labels=FLOW_LABELS,
        )
        outer = CounterMetricFamily(
            "e2e_energy_ioam_outer_bytes",
            "Bytes of the outer IP packets of GTP-U-encapsulated IOAM traffic, per traced node.",
            labels=FLOW_LABELS,
        )
        for (ns, trace_id, node, direction), (p, b, ob, _seen) in snap.flows:
            labels = [str(ns), str(trace_id), str(node), direction, self._node]
            packets.add_metric(labels, p)
            size.add_metric(labels, b)
            if ob:
                outer.add_metric(labels, ob)
        yield from (packets, size, outer)

    def _self_metrics(self, snap: AgentSnapshot) -> Iterator[Metric]:
        node = self._node
        results = CounterMetricFamily(
            "e2e_energy_agent_packets",
            "Packets that passed the kernel filter, by parse result (scaled when sampling).",
            labels=["result", "k8s_node"],
        )
        for result, count in sorted(snap.results.items()):
            results.add_metric([result, node], count)
        yield results
        ratio = GaugeMetricFamily(
            "e2e_energy_agent_sampling_ratio",
            "Fraction of packets counted (1/N with --sample N); counts are scaled by N.",
            labels=["k8s_node"],
        )
        ratio.add_metric([node], 1.0 / snap.sample)
        yield ratio
        drops = CounterMetricFamily(
            "e2e_energy_agent_kernel_drops",
            "Packets not counted for lack of room: the capture ring was full (AF_PACKET), or the "
            "kernel counter map was (eBPF).",
            labels=["interface", "k8s_node"],
        )
        seen = CounterMetricFamily(
            "e2e_energy_agent_kernel_packets",
            "Packets that passed the kernel filter (may carry IOAM) on this interface.",
            labels=["interface", "k8s_node"],
        )
        for interface in sorted(snap.kernel_drops):
            drops.add_metric([interface, node], snap.kernel_drops[interface])
            seen.add_metric([interface, node], snap.kernel_packets[interface])
        yield from (drops, seen)
        flows = GaugeMetricFamily(
            "e2e_energy_agent_flows", "Entries in the flow table.", labels=["k8s_node"]
        )
        flows.add_metric([node], len(snap.flows))
        yield flows
        evictions = CounterMetricFamily(
            "e2e_energy_agent_flow_evictions",
            "Flow-table entries evicted because the table reached max_flows.",
            labels=["k8s_node"],
        )
        evictions.add_metric([node], snap.evictions)
        yield evictions
        folded = CounterMetricFamily(
            "e2e_energy_agent_trace_id_overflow_packets",
            "Per-node packet counts moved to trace_id=other because max_trace_ids was reached "
            "(a packet with N distinct NodeIDs adds N).",
            labels=["k8s_node"],
        )
        folded.add_metric([node], snap.folded_packets)
        yield folded

    def _ebpf_metrics(self, snap: AgentSnapshot) -> Iterator[Metric]:
        """Only with the eBPF engine: walks cut short by a bound, and the program's run time."""
        if snap.bpf_runs is None:
            return
        node = self._node
        limits = CounterMetricFamily(
            "e2e_energy_agent_parse_limit_packets",
            "Packets the eBPF program counted as malformed because a header walk hit one of its "
            "bounds (16 extension headers, 256 options in one header, 8 GTP-U extension headers).",
            labels=["interface", "k8s_node"],
        )
        for interface in sorted(snap.parse_limits):
            limits.add_metric([interface, node], snap.parse_limits[interface])
        yield limits
        seconds = CounterMetricFamily(
            "e2e_energy_agent_bpf_run_seconds",
            "Kernel CPU time spent in the eBPF program (0 unless kernel.bpf_stats_enabled=1).",
            labels=["k8s_node"],
        )
        seconds.add_metric([node], snap.bpf_run_seconds or 0.0)
        runs = CounterMetricFamily(
            "e2e_energy_agent_bpf_runs",
            "Runs of the eBPF program, one per packet (0 unless kernel.bpf_stats_enabled=1).",
            labels=["k8s_node"],
        )
        runs.add_metric([node], snap.bpf_runs)
        yield from (seconds, runs)

    def _interface_metrics(self) -> Iterator[Metric]:
        labels = ["interface", "direction", "k8s_node"]
        packets = CounterMetricFamily(
            "e2e_energy_interface_packets",
            "Packets through a collection interface, all traffic (sysfs statistics).",
            labels=labels,
        )
        size = CounterMetricFamily(
            "e2e_energy_interface_bytes",
            "Link-layer bytes through a collection interface, all traffic (sysfs statistics).",
            labels=labels,
        )
        for name in self._interfaces:
            totals = read_interface(name, root=self._sysfs)
            if totals is None:
                continue
            packets.add_metric([name, "rx", self._node], totals.rx_packets)
            packets.add_metric([name, "tx", self._node], totals.tx_packets)
            size.add_metric([name, "rx", self._node], totals.rx_bytes)
            size.add_metric([name, "tx", self._node], totals.tx_bytes)
        yield from (packets, size)
