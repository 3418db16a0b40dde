"""The testbed's settings: the `testbed:` section of testbed/topology.yaml, and the file itself.

The topology file is one file in the collector's settings format plus this section:
`TestbedFile` is the collector's `Settings` with a required `testbed:`; the collector's own
Settings knows nothing of it (the attributor and the agents get the file without the section).

Every parameter of the power models is a `Param`: its value and where it comes from, either a
`source` (a key of `testbed.power.references`, the citation written out) or `assumed` with the
range a reader should expect. A bare number is rejected, so no parameter can lose its origin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from collector.models import Direction
from collector.settings import Settings, Strict, load_settings


class Assumed(Strict):
    """Not taken from a source: the range a reader should expect, with the value inside it."""

    range: tuple[float, float]
    """[low, high] of the plausible values."""


class Param(Strict):
    """A power-model parameter with its origin: `source` or `assumed`, never neither."""

    value: float
    source: str | None = None
    """A key of testbed.power.references: the citation (paper, table, equation, DOI)."""
    assumed: Assumed | None = None
    spread: tuple[float, float] | None = None
    """For a sourced value: the spread the source itself shows (e.g. quartiles), optional."""
    note: str = ""
    """How the value follows from the source, or why the assumption is what it is."""

    @model_validator(mode="after")
    def _origin(self) -> Param:
        if (self.source is None) == (self.assumed is None):
            raise ValueError("give exactly one of `source` (a reference key) or `assumed`")
        for name, rng in (
            ("assumed.range", self.assumed.range if self.assumed is not None else None),
            ("spread", self.spread),
        ):
            if rng is not None and not rng[0] <= self.value <= rng[1]:
                raise ValueError(f"value {self.value:g} lies outside its {name} {list(rng)}")
        return self


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


class TestbedModels(Strict):
    """The real models the server loads (names from testbed/models.py); requests pick one."""

    large: str = "all-mpnet-base-v2"
    """The baseline's model."""
    small: str = "all-MiniLM-L6-v2"
    """The what-if's model (the paper's lever: choose a smaller model)."""
    workers: int = Field(2, ge=1, le=8)
    """Server threads running the model, one CPU thread each."""


class RadioModel(Strict):
    """EARTH model (Auer et al. 2011, eq. 1): P = N_trx (P0 + delta_p P_out); no sleep mode."""

    n_trx: Param
    p0_watts: Param
    delta_p: Param
    p_max_watts: Param
    capacity_bits_per_second: Param
    """Throughput at full load (P_out = P_max)."""

    @property
    def static_watts(self) -> float:
        return self.n_trx.value * self.p0_watts.value


class TrafficModel(Strict):
    """Kernel-forwarding NF: P = static + J/packet x pkt/s + J/byte x byte/s (Vishwanath et al.)."""

    static_watts: Param
    joules_per_packet: Param
    joules_per_byte: Param


class CpuModel(Strict):
    """User-space NF: P = static + watts_per_core x (CPU seconds per second of its processes)."""

    static_watts: Param
    watts_per_core: Param
    """Watts per busy hardware thread (one CPU second per second)."""


class TestbedPower(Strict):
    references: dict[str, str] = {}
    """key -> citation, referred to by every parameter's `source`."""
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

    @model_validator(mode="after")
    def _sources_known(self) -> TestbedPower:
        for path, param in self.params():
            if param.source is not None and param.source not in self.references:
                raise ValueError(f"{path}.source: no reference named {param.source!r}")
        return self

    def params(self) -> list[tuple[str, Param]]:
        """(dotted path under testbed.power, parameter) for every model parameter."""
        out: list[tuple[str, Param]] = []
        groups: tuple[
            tuple[str, dict[str, RadioModel] | dict[str, TrafficModel] | dict[str, CpuModel]], ...
        ]
        groups = (("radio", self.radio), ("traffic", self.traffic), ("cpu", self.cpu))
        for group, models in groups:
            for node, model in models.items():
                for name in type(model).model_fields:
                    out.append((f"{group}.{node}.{name}", getattr(model, name)))
        return out

    def served_static_watts(self, node: str) -> float | None:
        """The static power as its source reports it: an APC outlet serves whole watts
        (rPDU2OutletMeteredStatusPower), so an RU behind one reads round(N_TRX x P0)."""
        static = self.static_watts(node)
        if static is not None and node in self.outlets:
            return float(round(static))
        return static

    def static_watts(self, node: str) -> float | None:
        """The modelled static power of `node` (None: not modelled)."""
        if node in self.radio:
            return self.radio[node].static_watts
        if node in self.traffic:
            return self.traffic[node].static_watts.value
        if node in self.cpu:
            return self.cpu[node].static_watts.value
        return None


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
    models: TestbedModels = TestbedModels()
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


class TestbedFile(Settings):
    """The topology file: the collector's settings plus the required `testbed:` section."""

    testbed: TestbedSettings

    @model_validator(mode="after")
    def _idle_matches_model(self) -> TestbedFile:
        """An NF with a fixed idle power must have its model's static power as its source serves
        it: the attributor's static/dynamic split then follows the model (an integer-watt PDU's
        rounding would otherwise show up as dynamic power)."""
        nfs = {nf.name: nf for nf in self.nfs}
        for node in self.testbed.nodes:
            nf = nfs.get(node.nf or "")
            static = self.testbed.power.served_static_watts(node.name)
            if nf is None or static is None or nf.idle is None or nf.idle.policy != "fixed":
                continue
            if abs((nf.idle.watts or 0.0) - static) > 1e-9 * max(1.0, static):
                raise ValueError(
                    f"nfs[{nf.name}].idle.watts is {nf.idle.watts:g} W but the testbed's power "
                    f"model of node {node.name!r} serves {static:g} W static: make them equal"
                )
        return self

    def collector_settings(self) -> Settings:
        """The same file without the testbed section: what the agents and the attributor read."""
        return Settings(**self.model_dump(exclude={"testbed"}))


def load_topology(path: str | Path) -> TestbedFile:
    """Read and validate a topology file; errors name the file and the dotted key."""
    return load_settings(path, TestbedFile)
