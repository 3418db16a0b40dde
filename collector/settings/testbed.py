"""The network-namespace testbed's section (`testbed:`; testbed/topology.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from collector.models import Direction
from collector.settings.base import Strict


class TestbedNode(Strict):
    """One network namespace of the chain, in chain order (UE first, inference server last)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9]{0,5}$")
    role: Literal["ue", "ru", "du", "cu", "upf", "inference"]
    nf: str | None = None
    """The NF (nfs[].name) this namespace is; None for the UE."""
    node_id: int | None = Field(None, ge=1, lt=1 << 24)
    """net.ipv6.ioam6_id of the namespace: the NodeID the kernel stamps (None: stamps nothing)."""


class TestbedLink(Strict):
    """A veth between two adjacent nodes; interfaces are named after the peer (`<peer>0`)."""

    a: str
    b: str
    subnet: str
    """An IPv6 ULA /64 (fd00::/8): a gets ::1, b gets ::2. Nothing is routed off the machine."""
    a_if_id: int = Field(ge=0, lt=1 << 16)
    b_if_id: int = Field(ge=0, lt=1 << 16)
    gtpu: bool = False
    """N3: user packets cross this link inside GTP-U (UDP 2152), by user-space processes."""


class TestbedGtpu(Strict):
    uplink_teid: int = Field(0x100, ge=0, lt=1 << 32)
    downlink_teid: int = Field(0x200, ge=0, lt=1 << 32)
    port: int = 2152
    tun_mtu: int = Field(1400, ge=1280)
    cu_tun_if_id: int = Field(31, ge=0, lt=1 << 16)
    upf_tun_if_id: int = Field(41, ge=0, lt=1 << 16)


class TestbedApp(Strict):
    """A UE application: its own IOAM namespace (the TraceID carrier) and server port."""

    app: str
    """apps[].name this traffic belongs to."""
    namespace_id: int = Field(ge=1, le=0xFFFE)
    port: int = Field(ge=1024, le=65535)
    rate_per_second: float = Field(gt=0)
    payload_bytes: int = Field(ge=0)
    """Opaque bytes sent with each request (stands in for an image)."""
    prompt_words: int = Field(ge=1)
    texts: int = Field(1, ge=1)
    """Sentences per request embedded by the model (more = heavier)."""


class RadioModel(Strict):
    """EARTH linear model (Auer et al. 2011): P = N_trx (P0 + delta_p P_out); no sleep mode."""

    n_trx: int = Field(4, ge=1)
    p0_watts: float = Field(6.8, ge=0)
    delta_p: float = Field(4.0, ge=0)
    p_max_watts: float = Field(0.13, gt=0)
    capacity_bits_per_second: float = Field(20e6, gt=0)
    """Throughput at full load (P_out = P_max)."""
    source: str = ""


class TrafficModel(Strict):
    """Kernel-forwarding NF: P = static + J/packet x pkt/s + J/byte x byte/s (Vishwanath et al.)."""

    static_watts: float = Field(ge=0)
    joules_per_packet: float = Field(ge=0)
    joules_per_byte: float = Field(ge=0)
    source: str = ""


class CpuModel(Strict):
    """User-space NF: P = static + watts_per_core x (CPU seconds per second of its processes)."""

    static_watts: float = Field(ge=0)
    watts_per_core: float = Field(gt=0)
    source: str = ""


class TestbedPower(Strict):
    radio: dict[str, RadioModel] = {}
    """node name -> model, served as an APC rPDU2 outlet by snmpd."""
    traffic: dict[str, TrafficModel] = {}
    cpu: dict[str, CpuModel] = {}
    """node name -> model; served in Kepler format (modelled)."""
    kepler_generation: Literal["0.9", "0.10"] = "0.10"
    pods: dict[str, str] = {}
    """node name -> "namespace/pod" in the Kepler output."""
    snmp_community: str = "testbed"
    outlets: dict[str, int] = {}
    """node name -> APC outlet index."""


class TestbedSettings(Strict):
    prefix: str = Field("e2tb", pattern=r"^[a-z][a-z0-9]{0,9}$")
    """Every namespace and root-side interface name starts with this (teardown scans for it)."""
    trace_slots: int = Field(6, ge=2, le=60)
    """Pre-allocated NodeID slots per packet (even: the Hop-by-Hop header is 8-octet aligned)."""
    datagram_bytes: int = Field(1200, ge=64, le=1300)
    nodes: list[TestbedNode] = Field(min_length=2)
    links: list[TestbedLink] = []
    gtpu: TestbedGtpu = TestbedGtpu()
    apps: list[TestbedApp] = []
    power: TestbedPower = TestbedPower()
    agent_nodes: dict[str, Direction] = {}
    """node name -> direction: where an agent captures (the node's interface towards the UE side
    for uplink at the server, towards the core for downlink at the UE)."""
    verify_capture: bool = True
    """Capture the CU-UPF (GTP-U) link for verification; never fed to the attributor."""

    @model_validator(mode="after")
    def _consistent(self) -> TestbedSettings:
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ValueError("testbed.nodes: duplicate names")
        for i, link in enumerate(self.links):
            if [link.a, link.b] != names[i : i + 2]:
                raise ValueError(f"testbed.links[{i}]: must join nodes {names[i : i + 2]} in order")
        if self.trace_slots % 2:
            raise ValueError("testbed.trace_slots must be even")
        ids = [a.namespace_id for a in self.apps]
        if len(set(ids)) != len(ids):
            raise ValueError("testbed.apps: each app needs its own namespace_id")
        return self

    def node(self, name: str) -> TestbedNode:
        return next(n for n in self.nodes if n.name == name)
