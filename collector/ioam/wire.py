"""IOAM wire constants and the trace-type table (RFC 9197 section 4.4, RFC 9486, RFC 9326).

One table drives the struct decoder, the scapy layers and the builders, so the three agree on
which bit carries which field and how wide it is.
"""

from __future__ import annotations

from typing import Final

LINKTYPE_ETHERNET: Final = 1
LINKTYPE_RAW: Final = 101
LINKTYPE_LINUX_SLL: Final = 113
LINKTYPE_IPV6: Final = 229
LINKTYPE_LINUX_SLL2: Final = 276

IPV6_OPT_IOAM: Final = 0x31  # RFC 9486: data may change en route (Linux IPV6_TLV_IOAM)
IPV6_OPT_IOAM_FIXED: Final = 0x11  # RFC 9486: data does not change en route
IOAM_IPV6_OPTIONS: Final = frozenset({IPV6_OPT_IOAM, IPV6_OPT_IOAM_FIXED})

NH_HOPOPTS: Final = 0
NH_TCP: Final = 6
NH_UDP: Final = 17
NH_DSTOPTS: Final = 60
GTPU_PORT: Final = 2152

IOAM_PREALLOCATED: Final = 0
IOAM_INCREMENTAL: Final = 1
IOAM_POT: Final = 2
IOAM_E2E: Final = 3
IOAM_DEX: Final = 4
OPTION_TYPE_NAMES: Final = {
    IOAM_PREALLOCATED: "preallocated_trace",
    IOAM_INCREMENTAL: "incremental_trace",
    IOAM_POT: "pot",
    IOAM_E2E: "e2e",
    IOAM_DEX: "dex",
}

TRACE_HEADER_BYTES: Final = 8
# Option data before the trace/DEX header: Reserved(8) | IOAM Option-Type(8).
OPTION_PREFIX_BYTES: Final = 2

DEX_FLOW_ID: Final = 0x80  # RFC 9326 Extension-Flags bit 0
DEX_SEQUENCE: Final = 0x40  # RFC 9326 Extension-Flags bit 1
DEX_LINUX_BOTH: Final = 0x03  # the Linux implementation's form: both fields, Flow ID first

MASK_24: Final = (1 << 24) - 1
MASK_56: Final = (1 << 56) - 1

# Trace-type bit (0 = most significant of the 24) -> (field size in bytes, JSON keys).
# Bits 12-21 are undefined: a node writes 0xFFFFFFFF, 4 bytes each. Bit 22 is the variable
# opaque state snapshot (not counted in NodeLen); bit 23 is reserved and carries nothing.
TRACE_FIELDS: Final[dict[int, tuple[int, tuple[str, ...]]]] = {
    0: (4, ("hop_limit", "node_id")),
    1: (4, ("ingress_if_id", "egress_if_id")),
    2: (4, ("timestamp_seconds",)),
    3: (4, ("timestamp_fraction",)),
    4: (4, ("transit_delay",)),
    5: (4, ("namespace_data",)),
    6: (4, ("queue_depth",)),
    7: (4, ("checksum_complement",)),
    8: (8, ("hop_limit", "node_id_wide")),
    9: (8, ("ingress_if_id_wide", "egress_if_id_wide")),
    10: (8, ("namespace_data_wide",)),
    11: (4, ("buffer_occupancy",)),
    **{bit: (4, (f"undefined_bit_{bit}",)) for bit in range(12, 22)},
}
OSS_BIT: Final = 22
RESERVED_BIT: Final = 23


def bit_mask(bit: int) -> int:
    """The trace-type value of one bit: bit 0 is the most significant of 24."""
    return 1 << (23 - bit)


OSS_MASK: Final = bit_mask(OSS_BIT)
NODE_ID_MASK: Final = bit_mask(0)
NODE_ID_WIDE_MASK: Final = bit_mask(8)
# The bits that put data into a node (everything but the reserved bit 23).
DATA_BITS_MASK: Final = MASK_24 & ~bit_mask(RESERVED_BIT)


def set_bits(trace_type: int) -> list[int]:
    """The fixed-size data bits present in a trace type, in wire order (OSS excluded)."""
    return [bit for bit in range(22) if trace_type & bit_mask(bit)]


def node_words(trace_type: int) -> int:
    """NodeLen the trace type implies: fixed data per node in 4-octet units (OSS excluded)."""
    return sum(TRACE_FIELDS[bit][0] for bit in set_bits(trace_type)) // 4


def wide_id_offset(trace_type: int) -> int:
    """Byte offset of the 64-bit hop-limit/node-id field (bit 8) inside one node's data."""
    return 4 * sum(1 for bit in range(8) if trace_type & bit_mask(bit))


def trace_type_hex(trace_type: int) -> str:
    return f"0x{trace_type:06x}"
