"""The agent's aggregated state: where tallies (one per worker) are merged and metrics read.

Merges happen a few times a second, scrapes rarely; one lock guards both, so the packet loop
never takes it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from collector.agent.flows import FlowKey, FlowTable
from collector.agent.tally import RESULT_NAMES, Delta
from collector.settings import AgentSettings


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    """An immutable copy for one scrape."""

    flows: tuple[tuple[FlowKey, tuple[float, float, float, float]], ...]
    results: dict[str, float]
    kernel_drops: dict[str, int]
    kernel_packets: dict[str, int]
    evictions: int
    folded_packets: float
    sample: int
    engine: str = "afpacket"
    engine_reason: str = ""
    parse_limits: dict[str, int] = field(default_factory=dict)
    bpf_run_seconds: float | None = None
    """Kernel run time of the eBPF program (kernel.bpf_stats_enabled), None for AF_PACKET."""
    bpf_runs: int | None = None


class AgentState:
    def __init__(self, settings: AgentSettings) -> None:
        self.table = FlowTable(
            max_flows=settings.max_flows,
            max_trace_ids=settings.max_trace_ids,
            idle_timeout_seconds=settings.idle_timeout_seconds,
        )
        self.sample = settings.sample
        self._results = dict.fromkeys(RESULT_NAMES, 0)
        self._kernel: dict[str, dict[int, tuple[int, int]]] = {}
        self._limits: dict[str, int] = {}
        self.engine = "afpacket"
        self.engine_reason = ""
        self._bpf: tuple[float, int] | None = None
        self._lock = threading.Lock()

    def set_engine(self, engine: str, reason: str) -> None:
        """Which capture engine counts (`ebpf`, `afpacket`, `pcap`) and why it was chosen."""
        with self._lock:
            self.engine, self.engine_reason = engine, reason

    def set_bpf_stats(self, run_seconds: float, runs: int) -> None:
        with self._lock:
            self._bpf = (run_seconds, runs)

    def merge(self, delta: Delta, *, worker: int = 0) -> None:
        """Fold one tally's delta in; kernel stats are cumulative per (interface, worker)."""
        with self._lock:
            self.table.merge(delta.flows)
            for index, count in enumerate(delta.results):
                self._results[index] += count
            for interface, stats in delta.kernel.items():
                self._kernel.setdefault(interface, {})[worker] = stats
            self._limits.update(delta.limits)

    def expire(self, now: float) -> None:
        with self._lock:
            self.table.expire(now)

    def snapshot(self) -> AgentSnapshot:
        with self._lock:
            return AgentSnapshot(
                flows=tuple(self.table.rows()),
                results={RESULT_NAMES[i]: float(v) for i, v in self._results.items()},
                kernel_drops={i: sum(s[1] for s in w.values()) for i, w in self._kernel.items()},
                kernel_packets={i: sum(s[0] for s in w.values()) for i, w in self._kernel.items()},
                evictions=self.table.evictions,
                folded_packets=self.table.folded_packets,
                sample=self.sample,
                engine=self.engine,
                engine_reason=self.engine_reason,
                parse_limits=dict(self._limits),
                bpf_run_seconds=None if self._bpf is None else self._bpf[0],
                bpf_runs=None if self._bpf is None else self._bpf[1],
            )
