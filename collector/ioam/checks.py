"""The malformation rules for IOAM options, as plain functions over header values.

Both decode engines (struct and scapy) extract the values their own way and ask these rules, so
an option judged broken by one is judged broken, with the same words, by the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.ioam import wire

IPV4_TRUNCATED = "IPv4 header truncated"
IPV6_TRUNCATED = "IPv6 header truncated"
OPTIONS_HEADER_TRUNCATED = "options header truncated"
GTPU_OPTIONAL_TRUNCATED = "GTP-U optional fields truncated"
GTPU_EXTENSION_TRUNCATED = "GTP-U extension header truncated"


def options_header_past(header_bytes: int) -> str:
    return f"options header of {header_bytes} bytes runs past the packet"


def option_past_header(code: int, offset: int) -> str:
    return f"option 0x{code:02x} at offset {offset} runs past its header"


def misaligned(offset_in_header: int) -> str | None:
    """RFC 9486 section 4: an IOAM option starts at a 4n offset of its extension header."""
    if offset_in_header % 4:
        return f"IOAM option at offset {offset_in_header} of its header is not 4n-aligned"
    return None


def too_short(option_type: str, data_len: int, need: int) -> str | None:
    if data_len < need:
        return f"{option_type} option truncated: {data_len} data bytes, header needs {need}"
    return None


@dataclass(frozen=True, slots=True)
class TracePlan:
    """Where a trace's node data starts (byte offset after the trace header) and what is wrong."""

    start: int
    errors: tuple[str, ...]

    @property
    def walkable(self) -> bool:
        return not self.errors


def plan_trace(
    *, incremental: bool, data_len: int, trace_type: int, node_len: int, remaining_len: int
) -> TracePlan:
    """Check the trace header against the option length; data_len counts bytes after the header."""
    if not trace_type & wire.DATA_BITS_MASK:
        return TracePlan(0, (f"trace type {wire.trace_type_hex(trace_type)} selects no data",))
    expected = wire.node_words(trace_type)
    if node_len != expected:
        return TracePlan(
            0,
            (
                f"NodeLen {node_len} does not match trace type "
                f"{wire.trace_type_hex(trace_type)} (expects {expected})",
            ),
        )
    if incremental:
        return TracePlan(0, ())
    if remaining_len * 4 > data_len:
        return TracePlan(
            0,
            (
                f"RemainingLen {remaining_len} ({remaining_len * 4} bytes) exceeds the "
                f"{data_len} bytes of trace data",
            ),
        )
    return TracePlan(remaining_len * 4, ())


def not_whole_nodes(span: int, node_bytes: int) -> str:
    return f"node data of {span} bytes is not a whole number of {node_bytes}-byte nodes"


def node_truncated(index: int) -> str:
    return f"node {index} runs past the end of the option"


def dex_layout(extension_flags: int, extra_bytes: int) -> tuple[bool, bool, str | None]:
    """Which optional DEX fields are present (flow id, sequence) and any length disagreement.

    RFC 9326: 0x80 Flow ID, 0x40 Sequence Number. The Linux form 0x03 with exactly both fields
    (Flow ID first) is accepted too; any other disagreement with the length is an error.
    """
    if extension_flags == wire.DEX_LINUX_BOTH and extra_bytes == 8:
        return True, True, None
    has_flow = bool(extension_flags & wire.DEX_FLOW_ID)
    has_seq = bool(extension_flags & wire.DEX_SEQUENCE)
    expected = 4 * (has_flow + has_seq)
    if extra_bytes != expected:
        return (
            False,
            False,
            f"DEX Extension-Flags 0x{extension_flags:02x} announce {expected} optional bytes "
            f"but the option carries {extra_bytes}",
        )
    return has_flow, has_seq, None


def unknown_ioam_type(ioam_type: int) -> str:
    return f"unknown IOAM option-type {ioam_type}"
