"""What the eBPF program is told about the settings: map entries built from the TraceID carriers.

Pure, so tested without a kernel. Per namespace, `ns_cfg` holds the carrier and whether NodeIDs
are wide. Static rules (at most 64 per namespace, first match wins as in traceid.py) become
bit masks: an LPM trie per address side maps (namespace, address) to the rules whose prefix
contains it, a hash per port side maps (namespace, port) to the rules naming that port, and
`rules_any` holds the rules without a port. The packet's rule is the lowest bit set in all four.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from collector.agent.traceid import address_prefix
from collector.settings import StaticTraceRule, TraceIdCarrier

MAX_RULES: Final = 64
CARRIERS: Final = {"namespace": 0, "flow_label": 1, "dex_flow_id": 2, "static": 3}
NS_WIDE: Final = 0x10
LINK_ETHERNET, LINK_RAW = 0, 1
ARPHRD_ETHER, ARPHRD_LOOPBACK = 1, 772
"""Device types whose frames start with an Ethernet header at TC ingress."""
U32: Final = struct.Struct("=I")
U64: Final = struct.Struct("=Q")
POINT: Final = struct.Struct("=III")  # struct point_cfg
MAX_SNAPLEN: Final = 4096
"""The program copies at most this many bytes of a packet (its snap length past the link
header then stops at 4050 on Ethernet)."""
RULES_ANY: Final = struct.Struct("=QQ")  # struct ns_rules
LPM_KEY: Final = struct.Struct("=I20s")  # struct lpm_key


class ConfigError(ValueError):
    """The settings cannot be expressed in the eBPF program's maps."""


@dataclass(slots=True)
class KernelConfig:
    """Entries per map name, as (key, value) bytes; rule_ids: namespace -> TraceID by rule."""

    entries: dict[str, list[tuple[bytes, bytes]]] = field(default_factory=dict)
    rule_ids: dict[int, list[int]] = field(default_factory=dict)

    def add(self, name: str, key: bytes, value: bytes) -> None:
        self.entries.setdefault(name, []).append((key, value))


def link_of(device_type: int) -> int:
    """LINK_ETHERNET or LINK_RAW for an ARPHRD_* device type (/sys/class/net/IF/type)."""
    return LINK_ETHERNET if device_type in (ARPHRD_ETHER, ARPHRD_LOOPBACK) else LINK_RAW


def point_entries(
    config: KernelConfig, ifindexes: Sequence[int], links: Sequence[int], snaplen: int
) -> None:
    """Collection point i is the interface ifindexes[i]; `snaplen` bytes past the link header
    are parsed, as the AF_PACKET engine's capture length."""
    for point, (ifindex, link) in enumerate(zip(ifindexes, links, strict=True)):
        config.add("points", U32.pack(ifindex), POINT.pack(point, link, min(snaplen, MAX_SNAPLEN)))


def kernel_config(carriers: Sequence[TraceIdCarrier]) -> KernelConfig:
    config = KernelConfig()
    for c in carriers:
        flags = CARRIERS[c.carrier] | (NS_WIDE if c.node_id_field == "wide" else 0)
        config.add("ns_cfg", U32.pack(c.namespace_id), U32.pack(flags))
        if c.carrier == "static":
            _static_rules(config, c.namespace_id, c.static)
    return config


def _static_rules(config: KernelConfig, ns: int, rules: Sequence[StaticTraceRule]) -> None:
    if len(rules) > MAX_RULES:
        raise ConfigError(
            f"namespace {ns} has {len(rules)} static rules; the eBPF engine takes at most "
            f"{MAX_RULES} per namespace (use engine: afpacket)"
        )
    config.rule_ids[ns] = [rule.trace_id for rule in rules]
    for side in ("src", "dst"):
        for key, mask in _prefix_masks(ns, [getattr(rule, side) for rule in rules]):
            config.add(f"{side}_rules", key, U64.pack(mask))
    any_ports = []
    for side, attr in (("sport", "src_port"), ("dport", "dst_port")):
        ports = [getattr(rule, attr) for rule in rules]
        any_ports.append(_bits(i for i, port in enumerate(ports) if port is None))
        for port in sorted({p for p in ports if p is not None and 0 <= p <= 0xFFFF}):
            mask = _bits(i for i, p in enumerate(ports) if p is None or p == port)
            config.add(f"{side}_rules", U32.pack(ns << 16 | port), U64.pack(mask))
    config.add("rules_any", U32.pack(ns), RULES_ANY.pack(*any_ports))


def _bits(indexes: Iterable[int]) -> int:
    return sum(1 << i for i in indexes)


def _prefix_masks(ns: int, texts: Sequence[str | None]) -> list[tuple[bytes, int]]:
    """LPM entries for one address side: for every prefix a rule names (and ::/0), the rules
    whose prefix contains it. The longest match for an address then holds exactly the rules
    matching that address, since the prefixes containing one address are nested."""
    prefixes: list[tuple[int, int] | None] = []
    for text in texts:
        if text is None:
            prefixes.append(None)
            continue
        network, netmask = address_prefix(text)
        prefixes.append((network, netmask.bit_count()))
    out = []
    for net, length in sorted({(0, 0)} | {p for p in prefixes if p is not None}):
        mask = _bits(
            i for i, rule in enumerate(prefixes) if rule is None or _contains(rule, (net, length))
        )
        key = LPM_KEY.pack(16 + length, ns.to_bytes(2, "big") + net.to_bytes(16, "big") + b"\0\0")
        out.append((key, mask))
    return out


def _contains(outer: tuple[int, int], inner: tuple[int, int]) -> bool:
    """Whether prefix `outer` (network, length) contains prefix `inner`."""
    (o_net, o_len), (i_net, i_len) = outer, inner
    if o_len > i_len:
        return False
    shift = 128 - o_len
    return o_net >> shift == i_net >> shift if o_len else True
