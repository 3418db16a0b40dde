"""The scapy engine's option decoder: scapy IOAM layers -> the same records as fulldecode.

Values come from the dissected scapy fields; the malformation rules come from checks.py, the
same rules the struct decoder applies, so both engines print identical JSON.
"""

from __future__ import annotations

from typing import Any, cast

from scapy.packet import Packet, Raw

from collector.ioam import checks, wire
from collector.ioam import scapy_layers as layers
from collector.ioam.fulldecode import Record, base_record

_SHORT_NAMES = {0: "trace", 1: "trace", 2: "pot", 3: "e2e", 4: "dex"}
_MIN_DATA = {0: 10, 1: 10, 2: 6, 3: 6, 4: 10}


def option_record(option: Packet, header: str, offset_in_header: int, gtpu: bool) -> Record:
    """One JSON record from a dissected IOAM / IOAMFixed option."""
    record = base_record(header, int(option.otype), gtpu)
    errors: list[str] = record["errors"]
    if (problem := checks.misaligned(offset_in_header)) is not None:
        errors.append(problem)
    size = int(option.optlen)
    body = option.body
    if size < 2 or body is None:
        errors.append(cast(str, checks.too_short("IOAM", size, 2)))
        return record
    if isinstance(body, layers.IOAMPreallocatedTrace | layers.IOAMIncrementalTrace):
        _trace(body, size, record)
    elif isinstance(body, layers.IOAMDirectExport):
        _dex(body, size, record)
    elif isinstance(body, layers.IOAMProofOfTransit):
        record.update(
            option_type="pot",
            namespace_id=body.namespace_id,
            pot_type=body.pot_type,
            flags=body.flags,
            data=bytes(body.data).hex(),
        )
    elif isinstance(body, layers.IOAMEdgeToEdge):
        record.update(
            option_type="e2e",
            namespace_id=body.namespace_id,
            e2e_type=f"0x{body.e2e_type:04x}",
            data=bytes(body.data).hex(),
        )
    elif isinstance(body, layers.IOAMUnknown):
        record.update(option_type="unknown", ioam_type=body.ioam_type, data=bytes(body.data).hex())
        errors.append(checks.unknown_ioam_type(body.ioam_type))
    else:  # scapy could not fill the body's header: the option is too short for its type
        ioam_type = bytes(cast(Raw, body).load)[1]
        record["option_type"] = wire.OPTION_TYPE_NAMES[ioam_type]
        short = checks.too_short(_SHORT_NAMES[ioam_type], size, _MIN_DATA[ioam_type])
        errors.append(cast(str, short))
    return record


def _trace(body: Packet, size: int, record: Record) -> None:
    incremental = isinstance(body, layers.IOAMIncrementalTrace)
    record["option_type"] = "incremental_trace" if incremental else "preallocated_trace"
    trace_type = int(body.trace_type)
    record.update(
        namespace_id=body.namespace_id,
        trace_type=wire.trace_type_hex(trace_type),
        flags=body.flags,
        remaining_len=body.remaining_len,
        node_len=body.node_len,
        nodes=[],
    )
    data_len = size - 10
    plan = checks.plan_trace(
        incremental=incremental,
        data_len=data_len,
        trace_type=trace_type,
        node_len=body.node_len,
        remaining_len=body.remaining_len,
    )
    record["errors"].extend(plan.errors)
    if plan.walkable:
        record["nodes"] = _nodes(body, trace_type, data_len - plan.start, record["errors"])


def _nodes(body: Packet, trace_type: int, span: int, errors: list[str]) -> list[dict[str, Any]]:
    fixed = 4 * wire.node_words(trace_type)
    trailing = bytes(body.trailing)
    nodes: list[dict[str, Any]] = []
    for node in body.nodes:
        out = _node_dict(node)
        if "opaque_state" in out and len(node.oss_data) != node.oss_len * 4:
            errors.append(checks.node_truncated(len(nodes)))
            return nodes
        nodes.append(out)
    if trailing:
        if trace_type & wire.OSS_MASK:
            errors.append(checks.node_truncated(len(nodes)))
        else:
            errors.append(checks.not_whole_nodes(span, fixed))
    return nodes


def _node_dict(node: Packet) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in node.fields_desc:
        name = field.name
        value = node.getfieldval(name)
        if name == "wide_hop_limit":
            out.setdefault("hop_limit", value)
        elif name == "oss_len":
            continue
        elif name == "oss_schema_id":
            out["opaque_state"] = {"schema_id": value, "data": ""}
        elif name == "oss_data":
            out["opaque_state"]["data"] = bytes(value).hex()
        else:
            out.setdefault(name, value)
    return out


def _dex(body: Packet, size: int, record: Record) -> None:
    record["option_type"] = "dex"
    extension_flags = int(body.extension_flags)
    record.update(
        namespace_id=body.namespace_id,
        trace_type=wire.trace_type_hex(int(body.trace_type)),
        flags=body.flags,
        extension_flags=extension_flags,
    )
    _, _, problem = checks.dex_layout(extension_flags, size - 10)
    if problem is not None:
        record["errors"].append(problem)
        return
    if body.flow_id is not None:
        record["flow_id"] = body.flow_id
    if body.sequence_number is not None:
        record["sequence_number"] = body.sequence_number
