"""The concrete names, addresses and routes of one testbed run, derived from the topology.

Setup, teardown, the demo and the tests all read the same plan, so an interface name or an
address is computed in exactly one place. Nothing here touches the system.
"""

from __future__ import annotations

import ipaddress
import zlib
from dataclasses import dataclass

from testbed.settings import TestbedSettings

TUN_NAME = "gtp0"
MGMT_IF = "mgmt0"


@dataclass(frozen=True, slots=True)
class Iface:
    node: str
    name: str
    address: str
    """Without prefix length (always /64)."""
    if_id: int
    peer: str


@dataclass(frozen=True, slots=True)
class Route:
    node: str
    dst: str
    gateway: str | None
    dev: str


@dataclass(frozen=True, slots=True)
class Mgmt:
    """A veth from the root namespace into a node, so local processes reach its servers."""

    node: str
    root_if: str
    root_address: str
    node_address: str


@dataclass(frozen=True, slots=True)
class Plan:
    prefix: str
    namespaces: dict[str, str]
    ifaces: tuple[Iface, ...]
    routes: tuple[Route, ...]
    mgmt: tuple[Mgmt, ...]
    gtpu_nodes: tuple[str, str] | None
    """(encapsulating CU-side node, decapsulating UPF-side node) for uplink."""

    def ns(self, node: str) -> str:
        return self.namespaces[node]

    def iface(self, node: str, peer: str) -> Iface:
        return next(i for i in self.ifaces if i.node == node and i.peer == peer)

    def address(self, node: str, peer: str) -> str:
        return self.iface(node, peer).address

    def mgmt_address(self, node: str) -> str:
        return next(m.node_address for m in self.mgmt if m.node == node)


def _mgmt_tag(prefix: str) -> str:
    """A /48 per run prefix, so concurrent runs never share root-namespace addresses."""
    if prefix == "e2tb":
        return "ff"
    return f"{zlib.crc32(prefix.encode()) % 0xFE00 + 0x100:x}"


def make_plan(tb: TestbedSettings, prefix: str | None = None) -> Plan:
    pre = prefix or tb.prefix
    names = [n.name for n in tb.nodes]
    namespaces = {n: f"{pre}-{n}" for n in names}
    ifaces: list[Iface] = []
    for link in tb.links:
        net = ipaddress.IPv6Network(link.subnet)
        ifaces.append(Iface(link.a, f"{link.b}0", str(net[1]), link.a_if_id, link.b))
        ifaces.append(Iface(link.b, f"{link.a}0", str(net[2]), link.b_if_id, link.a))
    gtpu_index = next((i for i, lk in enumerate(tb.links) if lk.gtpu), None)
    routes = [r for i in range(len(names)) for r in _routes_of(tb, names, i, gtpu_index)]
    mgmt_nodes = sorted(
        set(tb.agent_nodes) | {n.name for n in tb.nodes if n.role == "inference"},
        key=names.index,
    )
    tag = _mgmt_tag(pre)
    mgmt = tuple(
        Mgmt(
            node=n,
            root_if=f"{pre}-{n}",
            root_address=f"fd00:e2e:{tag}:{names.index(n) + 1}::1",
            node_address=f"fd00:e2e:{tag}:{names.index(n) + 1}::2",
        )
        for n in mgmt_nodes
    )
    gtpu_nodes = None
    if gtpu_index is not None:
        gtpu_nodes = (tb.links[gtpu_index].a, tb.links[gtpu_index].b)
    return Plan(pre, namespaces, tuple(ifaces), tuple(routes), mgmt, gtpu_nodes)


def _routes_of(
    tb: TestbedSettings, names: list[str], i: int, gtpu_index: int | None
) -> list[Route]:
    """Routes of node i to every subnet it is not attached to, along the chain."""
    node = names[i]
    out: list[Route] = []
    for j, link in enumerate(tb.links):
        if j in (i - 1, i):
            continue
        towards_right = j > i
        hop = i if towards_right else i - 1
        via_link = tb.links[hop]
        if gtpu_index is not None and hop == gtpu_index:
            out.append(Route(node, link.subnet, None, TUN_NAME))
            continue
        peer = names[i + 1] if towards_right else names[i - 1]
        net = ipaddress.IPv6Network(via_link.subnet)
        gateway = str(net[2] if towards_right else net[1])
        out.append(Route(node, link.subnet, gateway, f"{peer}0"))
    return out
