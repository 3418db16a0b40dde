"""Which TraceID a packet carries, per IOAM namespace (docs/reference/agent.md).

A namespace without a configured carrier uses the namespace id itself (one namespace per
application), the only carrier every IOAM packet has. A configured carrier that the packet lacks
(no DEX option, no static rule matching) yields the bounded label `other`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import Protocol

from collector.models import OTHER_TRACE
from collector.settings import StaticTraceRule, TraceIdCarrier

TraceKey = int | str


class TraceFields(Protocol):
    """The fields of a parsed packet a carrier may read (a subset of fastparse.HotResult)."""

    @property
    def namespace_id(self) -> int: ...
    @property
    def flow_label(self) -> int: ...
    @property
    def dex_flow_id(self) -> int | None: ...
    @property
    def src(self) -> bytes: ...
    @property
    def dst(self) -> bytes: ...
    @property
    def sport(self) -> int: ...
    @property
    def dport(self) -> int: ...


Carrier = Callable[[TraceFields], TraceKey]


def _namespace(r: TraceFields) -> TraceKey:
    return r.namespace_id


def _flow_label(r: TraceFields) -> TraceKey:
    return r.flow_label


def _dex(r: TraceFields) -> TraceKey:
    return OTHER_TRACE if r.dex_flow_id is None else r.dex_flow_id


def address_prefix(text: str) -> tuple[int, int]:
    """An address or CIDR as (network, mask) integers over 128 bits; IPv4 is IPv4-mapped."""
    net = ipaddress.ip_network(text, strict=False)
    if isinstance(net, ipaddress.IPv4Network):
        net = ipaddress.IPv6Network(f"::ffff:{net.network_address}/{96 + net.prefixlen}")
    return int(net.network_address), int(net.netmask)


class _StaticRule:
    __slots__ = ("dport", "dst", "sport", "src", "trace_id")

    def __init__(self, rule: StaticTraceRule) -> None:
        self.trace_id = rule.trace_id
        self.src = None if rule.src is None else address_prefix(rule.src)
        self.dst = None if rule.dst is None else address_prefix(rule.dst)
        self.sport = rule.src_port
        self.dport = rule.dst_port

    def matches(self, r: TraceFields) -> bool:
        if self.sport is not None and r.sport != self.sport:
            return False
        if self.dport is not None and r.dport != self.dport:
            return False
        for prefix, addr in ((self.src, r.src), (self.dst, r.dst)):
            if prefix is not None and int.from_bytes(addr) & prefix[1] != prefix[0]:
                return False
        return True


def _static(rules: Sequence[StaticTraceRule]) -> Carrier:
    compiled = [_StaticRule(rule) for rule in rules]

    def carrier(r: TraceFields) -> TraceKey:
        for rule in compiled:
            if rule.matches(r):
                return rule.trace_id
        return OTHER_TRACE

    return carrier


class TraceIdResolver:
    """Maps a parsed packet to its TraceID with the carrier configured for its namespace."""

    def __init__(self, carriers: Sequence[TraceIdCarrier] = ()) -> None:
        self._by_namespace: dict[int, Carrier] = {}
        for c in carriers:
            if c.carrier == "static":
                self._by_namespace[c.namespace_id] = _static(c.static)
            else:
                self._by_namespace[c.namespace_id] = {
                    "namespace": _namespace,
                    "flow_label": _flow_label,
                    "dex_flow_id": _dex,
                }[c.carrier]
        self.configured = frozenset(self._by_namespace)
        """Namespaces with a carrier of their own; the rest use the namespace id (no call)."""
        self.wide_namespaces = frozenset(
            c.namespace_id for c in carriers if c.node_id_field == "wide"
        )

    def __call__(self, r: TraceFields) -> TraceKey:
        return self._by_namespace.get(r.namespace_id, _namespace)(r)
