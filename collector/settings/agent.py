"""The agent's settings (`agent:`) and how the attributor finds agents (`agents:`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from collector.models import Direction
from collector.settings.base import Strict


class InterfaceSettings(Strict):
    name: str
    direction: Direction = "uplink"


class StaticTraceRule(Strict):
    """Maps packets to a TraceID by address/port when the carrier is `static`."""

    trace_id: int
    src: str | None = None
    dst: str | None = None
    dst_port: int | None = None
    src_port: int | None = None


class TraceIdCarrier(Strict):
    namespace_id: int = Field(ge=0, le=0xFFFF)
    carrier: Literal["dex_flow_id", "namespace", "flow_label", "static"] = "namespace"
    node_id_field: Literal["short", "wide"] = "short"
    """Where NodeIDs are read: trace-type bit 0 (24 bit, `short`) or bit 8 (56 bit, `wide`)."""
    static: list[StaticTraceRule] = []


class AgentSettings(Strict):
    listen: str = "0.0.0.0:9470"
    interfaces: list[InterfaceSettings] = []
    engine: Literal["auto", "ebpf", "afpacket"] = "auto"
    """How packets are counted: `ebpf` (a TC program counts in the kernel; needs CAP_BPF,
    CAP_NET_ADMIN, CAP_PERFMON and Linux 5.11+), `afpacket` (a ring of packets parsed in
    Python; needs CAP_NET_RAW), or `auto`: eBPF when it loads and attaches, else AF_PACKET."""
    ebpf_map_entries: int = Field(8192, ge=64, le=1 << 20)
    """Distinct keys the eBPF engine can count between two reads (4 a second): one per
    (interface, namespace, TraceID, trace of up to 8 NodeIDs), or per NodeID of a longer
    trace; more are counted as kernel drops. Kernel memory, reserved when the agent starts:
    about 2 x this x (32 x possible CPUs + 130) bytes."""
    trace_ids: list[TraceIdCarrier] = []
    max_flows: int = Field(100_000, gt=0)
    """Hard cap on the flow table; the oldest idle entries are evicted past it (counted)."""
    max_trace_ids: int = Field(1000, gt=0)
    """Distinct TraceIDs kept as labels; more go to `other` (bounded cardinality)."""
    idle_timeout_seconds: float = Field(300.0, gt=0)
    workers: int = Field(1, ge=1, le=64)
    sample: int = Field(1, ge=1)
    """Count one packet in N and scale by N (marked by e2e_energy_agent_sampling_ratio)."""
    ring_block_size: int = Field(1 << 20, gt=0)
    ring_block_count: int = Field(64, gt=0)
    snaplen: int = Field(512, ge=128)
    k8s_node: str | None = None
    """Value of the k8s_node label; defaults to $NODE_NAME, else the host name."""
    promiscuous: bool = False


class AgentsKubernetes(Strict):
    namespace: str = "e2e-energy"
    service: str = "e2e-energy-agent"
    port: int = 9470


class AgentsSettings(Strict):
    urls: list[str] = []
    kubernetes: AgentsKubernetes | None = None
    timeout_seconds: float = Field(5.0, gt=0)
    max_response_bytes: int = Field(64 << 20, gt=0)
    """Largest agent exposition accepted (bytes); a larger or endless one is `too_large`."""
