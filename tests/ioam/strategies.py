"""Hypothesis strategies for valid IOAM options and the frames that carry them."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from collector.ioam import build, wire

FIELD_BITS = {
    "hop_limit": 8,
    "node_id": 24,
    "ingress_if_id": 16,
    "egress_if_id": 16,
    "node_id_wide": 56,
    "ingress_if_id_wide": 32,
    "egress_if_id_wide": 32,
    "namespace_data_wide": 64,
}


def _width(key: str) -> int:
    return FIELD_BITS.get(key, 32)


@st.composite
def trace_types(draw: st.DrawFn) -> int:
    """Any non-empty set of data bits 0-22, sometimes with the reserved bit 23."""
    bits = draw(st.sets(st.integers(0, 22), min_size=1, max_size=8))
    value = sum(wire.bit_mask(bit) for bit in bits)
    if draw(st.booleans()) and draw(st.booleans()):
        value |= wire.bit_mask(wire.RESERVED_BIT)
    return value


@st.composite
def nodes_for(draw: st.DrawFn, trace_type: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for bit in wire.set_bits(trace_type):
        for key in wire.TRACE_FIELDS[bit][1]:
            if key not in node:
                node[key] = draw(st.integers(0, 2 ** _width(key) - 1))
    if trace_type & wire.OSS_MASK:
        words = draw(st.integers(0, 3))
        node["opaque_state"] = {
            "schema_id": draw(st.integers(0, 2**24 - 1)),
            "data": draw(st.binary(min_size=4 * words, max_size=4 * words)).hex(),
        }
    return node


@st.composite
def trace_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments for build.trace_option that fit in one option (<= 255 bytes)."""
    trace_type = draw(trace_types())
    words = wire.node_words(trace_type)
    per_node = 4 * words + (16 if trace_type & wire.OSS_MASK else 0)
    most = max(1, min(6, (245 - 8) // max(per_node, 1)))
    nodes = draw(st.lists(nodes_for(trace_type), min_size=1, max_size=most))
    size = sum(len(build.encode_node(n, trace_type)) for n in nodes)
    incremental = draw(st.booleans())
    free_most = 0 if words == 0 else min(3, (245 - 8 - size) // (4 * words))
    return {
        "namespace_id": draw(st.integers(0, 0xFFFF)),
        "trace_type": trace_type,
        "nodes": nodes,
        "free_nodes": draw(st.integers(0, max(0, free_most))),
        "incremental": incremental,
        "flags": draw(st.integers(0, 15)),
        "option_code": draw(st.sampled_from(sorted(wire.IOAM_IPV6_OPTIONS))),
    }


@st.composite
def dex_specs(draw: st.DrawFn) -> dict[str, Any]:
    linux = draw(st.booleans())
    flow = draw(st.integers(0, 2**32 - 1))
    seq = draw(st.integers(0, 2**32 - 1))
    return {
        "namespace_id": draw(st.integers(0, 0xFFFF)),
        "trace_type": draw(st.integers(0, 2**24 - 1)),
        "flow_id": flow if linux or draw(st.booleans()) else None,
        "sequence_number": seq if linux or draw(st.booleans()) else None,
        "linux_form": linux,
    }


@st.composite
def carried_frames(draw: st.DrawFn, options: list[bytes]) -> tuple[bytes, int]:
    """(frame, linktype): options in HBH or DestOpt, any link layer, maybe inside GTP-U."""
    header = draw(st.sampled_from(["hop_by_hop", "destination"]))
    packet = build.ipv6(
        upper=build.udp(draw(st.integers(1, 65535)), 4000, b"data"),
        flow_label=draw(st.integers(0, 0xFFFFF)),
        **{header: options},  # type: ignore[arg-type]
    )
    if draw(st.booleans()):
        extensions = [(0x85, b"\x10\x09")] if draw(st.booleans()) else []
        gtp = build.gtpu(packet, teid=7, extensions=extensions)
        if draw(st.booleans()):
            packet = build.ipv4(upper=build.udp(2152, 2152, gtp))
            return build.ethernet(packet, ethertype=0x0800), wire.LINKTYPE_ETHERNET
        packet = build.ipv6(upper=build.udp(2152, 2152, gtp))
    link = draw(st.sampled_from(["eth", "vlan", "sll", "sll2", "raw"]))
    if link == "eth":
        return build.ethernet(packet), wire.LINKTYPE_ETHERNET
    if link == "vlan":
        return build.ethernet(packet, vlan=10), wire.LINKTYPE_ETHERNET
    if link == "sll":
        return build.linux_sll(packet), wire.LINKTYPE_LINUX_SLL
    if link == "sll2":
        return build.linux_sll2(packet), wire.LINKTYPE_LINUX_SLL2
    return packet, wire.LINKTYPE_RAW
