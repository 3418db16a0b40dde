"""scapy layers for the IPv6 IOAM options 0x31 and 0x11 (RFC 9486) and their payloads.

Importing this module registers both option codes in scapy's Hop-by-Hop/Destination option
dispatch, so `IPv6(raw)` dissects IOAM and `IOAM(body=IOAMPreallocatedTrace(...))` builds it.
The scapy engine (scapy_engine.py) dissects with them as the oracle the struct decoder and the
hot path are tested against.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

from scapy.fields import (
    BitField,
    ByteEnumField,
    ByteField,
    ConditionalField,
    Field,
    FieldLenField,
    IntField,
    LongField,
    PacketLenField,
    PacketListField,
    ShortField,
    StrField,
    StrLenField,
    ThreeBytesField,
    X3BytesField,
    XByteField,
    XShortField,
)
from scapy.layers import inet6
from scapy.packet import Packet, Raw

from collector.ioam import wire

IOAM_TYPES = {0: "Pre-allocated Trace", 1: "Incremental Trace", 2: "POT", 3: "E2E", 4: "DEX"}


class _NodeLenField(BitField):  # type: ignore[misc]
    """NodeLen left unset is computed from the trace type when building."""

    def i2m(self, pkt: Any, x: Any) -> Any:
        return wire.node_words(pkt.trace_type) if x is None else x


class _DexFlagsField(XByteField):  # type: ignore[misc]
    """Extension-Flags left unset follow the fields present (RFC 9326 bit order)."""

    def i2m(self, pkt: Any, x: Any) -> Any:
        if x is not None:
            return x
        return (wire.DEX_FLOW_ID if pkt.fields.get("flow_id") is not None else 0) | (
            wire.DEX_SEQUENCE if pkt.fields.get("sequence_number") is not None else 0
        )


def _node_fields(trace_type: int) -> list[Field]:
    fields: list[Field] = []
    for bit in wire.set_bits(trace_type):
        if bit == 0:
            fields += [ByteField("hop_limit", 0xFF), ThreeBytesField("node_id", wire.MASK_24)]
        elif bit == 1:
            fields += [ShortField("ingress_if_id", 0xFFFF), ShortField("egress_if_id", 0xFFFF)]
        elif bit == 8:
            fields += [ByteField("wide_hop_limit", 0xFF), _Int56Field("node_id_wide", wire.MASK_56)]
        elif bit == 9:
            fields += [
                IntField("ingress_if_id_wide", 0xFFFFFFFF),
                IntField("egress_if_id_wide", 0xFFFFFFFF),
            ]
        elif bit == 10:
            fields.append(LongField("namespace_data_wide", 2**64 - 1))
        else:
            fields.append(IntField(wire.TRACE_FIELDS[bit][1][0], 0xFFFFFFFF))
    if trace_type & wire.OSS_MASK:
        fields += [
            FieldLenField(
                "oss_len", None, length_of="oss_data", fmt="B", adjust=lambda _, x: x // 4
            ),
            X3BytesField("oss_schema_id", 0),
            StrLenField("oss_data", b"", length_from=lambda pkt: pkt.oss_len * 4),
        ]
    return fields


class _Int56Field(Field):  # type: ignore[misc]
    """A 7-byte unsigned integer (the wide node id after its hop limit byte)."""

    def __init__(self, name: str, default: int) -> None:
        Field.__init__(self, name, default, fmt="7s")

    def i2m(self, pkt: Any, x: Any) -> bytes:
        return int(x or 0).to_bytes(7, "big")

    def m2i(self, pkt: Any, x: bytes) -> int:
        return int.from_bytes(x, "big")


class IOAMNode(Packet):  # type: ignore[misc]
    """Base of the per-trace-type node classes made by `node_class`."""

    trace_type = 0

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


@lru_cache(maxsize=256)
def node_class(trace_type: int) -> type[IOAMNode]:
    """The node layout of one trace type, as a scapy Packet class."""
    name = f"IOAMNode_{trace_type:06x}"
    fixed = 4 * wire.node_words(trace_type)
    attrs = {"name": f"IOAM node {trace_type:06x}", "fields_desc": _node_fields(trace_type)}
    cls = type(name, (IOAMNode,), attrs | {"trace_type": trace_type, "fixed_bytes": fixed})
    return cls


def _next_node(pkt: Any, lst: list[Any], cur: Any, remain: bytes) -> type[IOAMNode] | None:
    """Dissect nodes while a whole one fits; leftovers go to `trailing` for the decoder."""
    trace_type = pkt.trace_type
    fixed = 4 * wire.node_words(trace_type)
    need = fixed + (4 if trace_type & wire.OSS_MASK else 0)
    if need == 0 or len(remain) < need:
        return None
    return node_class(trace_type)


def _trace_header(ioam_type: int) -> list[Field]:
    return [
        ByteField("reserved", 0),
        ByteEnumField("ioam_type", ioam_type, IOAM_TYPES),
        ShortField("namespace_id", 0),
        _NodeLenField("node_len", None, 5),
        BitField("flags", 0, 4),
        BitField("remaining_len", 0, 7),
        X3BytesField("trace_type", 0),
        ByteField("trace_reserved", 0),
    ]


class IOAMPreallocatedTrace(Packet):  # type: ignore[misc]
    name = "IOAM Pre-allocated Trace"
    fields_desc: ClassVar[list[Any]] = [
        *_trace_header(wire.IOAM_PREALLOCATED),
        StrLenField("free", b"", length_from=lambda pkt: pkt.remaining_len * 4),
        PacketListField("nodes", [], next_cls_cb=_next_node),
        StrField("trailing", b""),
    ]


class IOAMIncrementalTrace(Packet):  # type: ignore[misc]
    name = "IOAM Incremental Trace"
    fields_desc: ClassVar[list[Any]] = [
        *_trace_header(wire.IOAM_INCREMENTAL),
        PacketListField("nodes", [], next_cls_cb=_next_node),
        StrField("trailing", b""),
    ]


def _dex_has(pkt: Any, flag: int) -> bool:
    extra = vars(pkt).get("dissect_extra")
    if extra is None:  # building: a field is there when it has a value
        name = "flow_id" if flag == wire.DEX_FLOW_ID else "sequence_number"
        return pkt.fields.get(name) is not None
    ext = pkt.getfieldval("extension_flags")
    if ext == wire.DEX_LINUX_BOTH and extra == 8:
        return True
    expected = 4 * (bool(ext & wire.DEX_FLOW_ID) + bool(ext & wire.DEX_SEQUENCE))
    return expected == extra and bool(ext & flag)


class IOAMDirectExport(Packet):  # type: ignore[misc]
    name = "IOAM Direct Export"
    fields_desc: ClassVar[list[Any]] = [
        ByteField("reserved", 0),
        ByteEnumField("ioam_type", 4, IOAM_TYPES),
        ShortField("namespace_id", 0),
        XByteField("flags", 0),
        _DexFlagsField("extension_flags", None),
        X3BytesField("trace_type", 0),
        ByteField("trace_reserved", 0),
        ConditionalField(IntField("flow_id", None), lambda p: _dex_has(p, wire.DEX_FLOW_ID)),
        ConditionalField(
            IntField("sequence_number", None), lambda p: _dex_has(p, wire.DEX_SEQUENCE)
        ),
        StrField("trailing", b""),
    ]

    def pre_dissect(self, s: bytes) -> bytes:
        self.dissect_extra = len(s) - 10  # after Reserved, Option-Type and the DEX header
        return s


class IOAMProofOfTransit(Packet):  # type: ignore[misc]
    name = "IOAM Proof of Transit"
    fields_desc: ClassVar[list[Any]] = [
        ByteField("reserved", 0),
        ByteEnumField("ioam_type", 2, IOAM_TYPES),
        ShortField("namespace_id", 0),
        ByteField("pot_type", 0),
        XByteField("flags", 0),
        StrField("data", b""),
    ]


class IOAMEdgeToEdge(Packet):  # type: ignore[misc]
    name = "IOAM Edge-to-Edge"
    fields_desc: ClassVar[list[Any]] = [
        ByteField("reserved", 0),
        ByteEnumField("ioam_type", 3, IOAM_TYPES),
        ShortField("namespace_id", 0),
        XShortField("e2e_type", 0),
        StrField("data", b""),
    ]


class IOAMUnknown(Packet):  # type: ignore[misc]
    name = "IOAM option of unknown type"
    fields_desc: ClassVar[list[Any]] = [
        ByteField("reserved", 0),
        ByteEnumField("ioam_type", 5, IOAM_TYPES),
        StrField("data", b""),
    ]


BODY_CLASSES: dict[int, type[Packet]] = {
    0: IOAMPreallocatedTrace,
    1: IOAMIncrementalTrace,
    2: IOAMProofOfTransit,
    3: IOAMEdgeToEdge,
    4: IOAMDirectExport,
}


def _body(data: bytes, _parent: Any = None) -> Packet:
    """Dispatch the option data on its IOAM Option-Type byte."""
    if len(data) < 2:
        return Raw(load=data)
    return BODY_CLASSES.get(data[1], IOAMUnknown)(data, _parent=_parent)


class IOAM(Packet):  # type: ignore[misc]
    """IPv6 option 0x31: IOAM data that may change en route (traces, DEX)."""

    name = "IOAM"
    fields_desc: ClassVar[list[Any]] = [
        inet6._OTypeField("otype", wire.IPV6_OPT_IOAM, inet6._hbhopts),
        FieldLenField("optlen", None, length_of="body", fmt="B"),
        PacketLenField("body", None, _body, length_from=lambda pkt: pkt.optlen),
    ]

    def alignment_delta(self, curpos: int) -> int:
        """RFC 9486: 4n alignment."""
        return -curpos % 4

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class IOAMFixed(IOAM):
    """IPv6 option 0x11: IOAM data that does not change en route."""

    name = "IOAM (fixed en route)"
    fields_desc: ClassVar[list[Any]] = [
        inet6._OTypeField("otype", wire.IPV6_OPT_IOAM_FIXED, inet6._hbhopts),
        *IOAM.fields_desc[1:],
    ]


def register() -> None:
    """Put IOAM into scapy's option dispatch (idempotent; done on import)."""
    inet6._hbhopts[wire.IPV6_OPT_IOAM] = "IOAM"
    inet6._hbhopts[wire.IPV6_OPT_IOAM_FIXED] = "IOAM (fixed)"
    inet6._hbhoptcls[wire.IPV6_OPT_IOAM] = IOAM
    inet6._hbhoptcls[wire.IPV6_OPT_IOAM_FIXED] = IOAMFixed


register()
