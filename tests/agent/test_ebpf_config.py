"""What the eBPF program is told about the TraceID carriers. The static rules become LPM and port
bit masks; a lookup emulated here the way the kernel does it (longest prefix match, port hash,
lowest bit) picks the same rule as traceid.py's first match, for any rules and packet."""

from __future__ import annotations

import ipaddress
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.agent.ebpf_config import (
    LINK_ETHERNET,
    LINK_RAW,
    NS_WIDE,
    ConfigError,
    KernelConfig,
    kernel_config,
    link_of,
    point_entries,
)
from collector.agent.traceid import TraceIdResolver
from collector.ioam.fastparse import HotResult
from collector.models import OTHER_TRACE
from collector.settings import StaticTraceRule, TraceIdCarrier

NS = 0x1234
PREFIXES = [
    None,
    "2001:db8::/32",
    "2001:db8::/48",
    "2001:db8:0:1::/64",
    "2001:db8::1",
    "2001:db8::/0",
    "10.0.0.0/8",
    "10.1.2.3",
]
ADDRESSES = [
    "2001:db8::1",
    "2001:db8::2",
    "2001:db8:0:1::5",
    "2001:db9::1",
    "::ffff:10.1.2.3",
    "::ffff:10.9.9.9",
    "fe80::1",
]
PORTS = [None, 53, 2152, 4000]


def lpm(entries: list[tuple[bytes, bytes]], ns: int, address: bytes) -> int:
    """The kernel's LPM trie lookup: the longest stored prefix of (namespace, address)."""
    wanted = int.from_bytes(ns.to_bytes(2, "big") + address + b"\0\0")
    best, mask = -1, 0
    for key, value in entries:
        length, data = struct.unpack("=I20s", key)
        stored = int.from_bytes(data)
        shift = 160 - length
        if stored >> shift == wanted >> shift and length > best:
            best, mask = length, struct.unpack("=Q", value)[0]
    return mask


def kernel_rule(config: KernelConfig, ns: int, r: HotResult) -> object:
    any_src, any_dst = struct.unpack(
        "=QQ", dict(config.entries["rules_any"])[struct.pack("=I", ns)]
    )
    ports = {
        side: {
            struct.unpack("=I", k)[0]: struct.unpack("=Q", v)[0]
            for k, v in config.entries.get(f"{side}_rules", [])
        }
        for side in ("sport", "dport")
    }
    mask = lpm(config.entries["src_rules"], ns, r.src) & lpm(config.entries["dst_rules"], ns, r.dst)
    mask &= ports["sport"].get(ns << 16 | r.sport, any_src)
    mask &= ports["dport"].get(ns << 16 | r.dport, any_dst)
    if not mask:
        return OTHER_TRACE
    return config.rule_ids[ns][(mask & -mask).bit_length() - 1]


def packet(src: str, dst: str, sport: int, dport: int) -> HotResult:
    return HotResult(
        0,
        NS,
        0,
        (1,),
        False,
        100,
        0,
        0,
        None,
        ipaddress.ip_address(src).packed,
        ipaddress.ip_address(dst).packed,
        17,
        sport,
        dport,
    )


rules = st.lists(
    st.builds(
        StaticTraceRule,
        trace_id=st.integers(0, 10**6),
        src=st.sampled_from(PREFIXES),
        dst=st.sampled_from(PREFIXES),
        src_port=st.sampled_from(PORTS),
        dst_port=st.sampled_from(PORTS),
    ),
    min_size=1,
    max_size=64,
)


@settings(max_examples=300)
@given(
    rules=rules,
    src=st.sampled_from(ADDRESSES),
    dst=st.sampled_from(ADDRESSES),
    sport=st.sampled_from([53, 2152, 4000, 9]),
    dport=st.sampled_from([53, 2152, 4000, 9]),
)
def test_kernel_lookup_picks_the_first_matching_rule(
    rules: list[StaticTraceRule], src: str, dst: str, sport: int, dport: int
) -> None:
    carrier = TraceIdCarrier(namespace_id=NS, carrier="static", static=rules)
    config = kernel_config([carrier])
    r = packet(src, dst, sport, dport)
    assert kernel_rule(config, NS, r) == TraceIdResolver([carrier])(r)


def test_more_than_64_rules_are_refused_by_name() -> None:
    carrier = TraceIdCarrier(
        namespace_id=5, carrier="static", static=[StaticTraceRule(trace_id=i) for i in range(65)]
    )
    with pytest.raises(ConfigError, match=r"namespace 5 has 65 static rules.*at most 64"):
        kernel_config([carrier])


def test_namespace_flags() -> None:
    config = kernel_config(
        [
            TraceIdCarrier(namespace_id=1, carrier="dex_flow_id"),
            TraceIdCarrier(namespace_id=2, carrier="flow_label", node_id_field="wide"),
            TraceIdCarrier(namespace_id=3),
        ]
    )
    flags = {
        struct.unpack("=I", k)[0]: struct.unpack("=I", v)[0] for k, v in config.entries["ns_cfg"]
    }
    assert flags == {1: 2, 2: 1 | NS_WIDE, 3: 0}
    assert "rules_any" not in config.entries


def test_points_and_link_types() -> None:
    config = KernelConfig()
    point_entries(config, [7, 3], [LINK_ETHERNET, LINK_RAW], 9000)
    assert config.entries["points"] == [
        (struct.pack("=I", 7), struct.pack("=III", 0, 0, 4096)),  # the program's copy at most
        (struct.pack("=I", 3), struct.pack("=III", 1, 1, 4096)),
    ]
    expectations: dict[int, Any] = {
        1: LINK_ETHERNET,
        772: LINK_ETHERNET,
        65534: LINK_RAW,
        519: LINK_RAW,
        776: LINK_RAW,
    }
    for device_type, link in expectations.items():
        assert link_of(device_type) == link
