"""Full decode of every IOAM field of a frame into the JSON records of `e2e-energy ioam decode`.

One record per IOAM option. Anything malformed lands in the record's `errors` list; nothing here
raises on any byte string.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from collector.ioam import checks, nodes, walker, wire

Record = dict[str, Any]
_U16 = struct.Struct("!H").unpack_from
_U32 = struct.Struct("!I").unpack_from
HEADER_NAMES = {wire.NH_HOPOPTS: "hop_by_hop", wire.NH_DSTOPTS: "destination"}


@dataclass(frozen=True, slots=True)
class FoundOption:
    """One IOAM option: where its option-type byte is and what carries it."""

    header: str  # "hop_by_hop" or "destination"
    option_code: int  # 0x31 or 0x11
    offset: int  # of the option-type byte in the frame
    offset_in_header: int
    data_len: int  # the option's Opt Data Len
    gtpu: bool


def base_record(header: str, option_code: int, gtpu: bool) -> Record:
    return {
        "header": header,
        "ipv6_option": f"0x{option_code:02x}",
        "gtpu": gtpu,
        "option_type": None,
        "errors": [],
    }


def header_error_record(errors: tuple[str, ...]) -> Record:
    """A record for a packet whose headers broke before its IOAM options could be found."""
    return {
        "header": None,
        "ipv6_option": None,
        "gtpu": False,
        "option_type": None,
        "errors": list(errors),
    }


def decode_frame(frame: bytes, linktype: int = wire.LINKTYPE_ETHERNET) -> list[Record]:
    """Records for every IOAM option in the frame (without the `packet` index)."""
    data = bytes(frame)
    outer, inner, _, error = walker.walk(data, linktype)
    records: list[Record] = []
    for carrier, gtpu in ((outer, False), (inner, True)):
        if carrier is not None:
            records += [decode_option(data, found) for found in found_options(data, carrier, gtpu)]
            error = error or carrier[5]
    if error is not None:
        records.append(header_error_record((error,)))
    return records


def found_options(data: bytes, carrier: walker.Carrier, gtpu: bool) -> list[FoundOption]:
    """The IOAM options the walker located in one IPv6 packet, in wire order."""
    return [
        FoundOption(HEADER_NAMES[nh], data[q], q, q - p, qe - q - 2, gtpu)
        for nh, p, q, qe in carrier[4]
    ]


def decode_option(data: bytes, option: FoundOption) -> Record:
    record = base_record(option.header, option.option_code, option.gtpu)
    errors: list[str] = record["errors"]
    if (problem := checks.misaligned(option.offset_in_header)) is not None:
        errors.append(problem)
    start, size = option.offset + 2, option.data_len
    if (problem := checks.too_short("IOAM", size, 2)) is not None:
        errors.append(problem)
        return record
    ioam_type = data[start + 1]
    body = data[start + 2 : start + size]
    if ioam_type in (wire.IOAM_PREALLOCATED, wire.IOAM_INCREMENTAL):
        decode_trace(body, ioam_type, record)
    elif ioam_type == wire.IOAM_DEX:
        decode_dex(body, record)
    elif ioam_type == wire.IOAM_POT:
        decode_pot(body, record)
    elif ioam_type == wire.IOAM_E2E:
        decode_e2e(body, record)
    else:
        record["option_type"] = "unknown"
        record["ioam_type"] = ioam_type
        record["data"] = body.hex()
        errors.append(checks.unknown_ioam_type(ioam_type))
    return record


def trace_header_fields(body: bytes) -> tuple[int, int, int, int, int]:
    """(namespace_id, node_len, flags, remaining_len, trace_type) of an 8-byte trace header."""
    namespace_id = _U16(body, 0)[0]
    b2, b3 = body[2], body[3]
    trace_type = _U32(body, 4)[0] >> 8
    return namespace_id, b2 >> 3, ((b2 & 0x07) << 1) | (b3 >> 7), b3 & 0x7F, trace_type


def decode_trace(body: bytes, ioam_type: int, record: Record) -> None:
    record["option_type"] = wire.OPTION_TYPE_NAMES[ioam_type]
    errors: list[str] = record["errors"]
    if (problem := checks.too_short("trace", len(body) + 2, 10)) is not None:
        errors.append(problem)
        return
    namespace_id, node_len, flags, remaining_len, trace_type = trace_header_fields(body)
    record.update(
        namespace_id=namespace_id,
        trace_type=wire.trace_type_hex(trace_type),
        flags=flags,
        remaining_len=remaining_len,
        node_len=node_len,
        nodes=[],
    )
    plan = checks.plan_trace(
        incremental=ioam_type == wire.IOAM_INCREMENTAL,
        data_len=len(body) - 8,
        trace_type=trace_type,
        node_len=node_len,
        remaining_len=remaining_len,
    )
    errors.extend(plan.errors)
    if plan.walkable:
        record["nodes"] = nodes.decode_nodes(body, 8 + plan.start, len(body), trace_type, errors)


def decode_dex(body: bytes, record: Record) -> None:
    record["option_type"] = "dex"
    errors: list[str] = record["errors"]
    if (problem := checks.too_short("dex", len(body) + 2, 10)) is not None:
        errors.append(problem)
        return
    extension_flags = body[3]
    record.update(
        namespace_id=_U16(body, 0)[0],
        trace_type=wire.trace_type_hex(_U32(body, 4)[0] >> 8),
        flags=body[2],
        extension_flags=extension_flags,
    )
    has_flow, has_seq, problem = checks.dex_layout(extension_flags, len(body) - 8)
    if problem is not None:
        errors.append(problem)
        return
    pos = 8
    if has_flow:
        record["flow_id"] = _U32(body, pos)[0]
        pos += 4
    if has_seq:
        record["sequence_number"] = _U32(body, pos)[0]


def decode_pot(body: bytes, record: Record) -> None:
    """RFC 9197 4.5: Namespace-ID(16) | POT-Type(8) | Flags(8) | POT data, kept opaque."""
    record["option_type"] = "pot"
    if (problem := checks.too_short("pot", len(body) + 2, 6)) is not None:
        record["errors"].append(problem)
        return
    record.update(
        namespace_id=_U16(body, 0)[0], pot_type=body[2], flags=body[3], data=body[4:].hex()
    )


def decode_e2e(body: bytes, record: Record) -> None:
    """RFC 9197 4.6: Namespace-ID(16) | E2E-Type(16) | E2E data, kept opaque."""
    record["option_type"] = "e2e"
    if (problem := checks.too_short("e2e", len(body) + 2, 6)) is not None:
        record["errors"].append(problem)
        return
    record.update(
        namespace_id=_U16(body, 0)[0], e2e_type=f"0x{_U16(body, 2)[0]:04x}", data=body[4:].hex()
    )
