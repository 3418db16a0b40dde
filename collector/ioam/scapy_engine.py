"""The scapy engine: an independent oracle for the walker, built on scapy's own layer chain.

`Ether(frame)` (or CookedLinux, CookedLinuxV2, IPv6, IP for the other link types) dissects the
frame; the engine follows the resulting layers (Dot1Q/Dot1AD, IP, IPv6 and scapy's extension
header classes, UDP, scapy.contrib.gtp's GTP_U_Header) and decodes each IOAM option from the
project's scapy IOAM layers. It shares no offset arithmetic with walker.py: where an option is
and where a header ends come from scapy's fields and from the bytes scapy hands each layer
(`Packet.original`, already cut to the length fields above it).

Where scapy's dissection departs from the standards or from the project's documented rules, the
engine adds one of these rules, and nothing else:

1. Short headers: scapy raises on some link headers cut short, fills others from what is there,
   and turns a header it cannot dissect into Raw. A link header shorter than scapy builds it
   carries no IP; where an IPv6 packet is due (EtherType, or a T-PDU's version nibble) and scapy
   cannot dissect one, it is "IPv6 header truncated"; under 20 bytes of IPv4, "IPv4 header
   truncated"; no options header where one is due, "options header truncated". scapy also
   raises on a Routing header stub of under 3 bytes (it reads the third to spot an SRH), losing
   the packet around it: the engine leaves such a stub to Raw.
2. The 0x9100 VLAN TPID (pre-802.1ad QinQ) is bound to Dot1Q, as 0x8100 and 0x88a8 are.
3. IPv6 Payload Length 0 (jumbograms, offloaded captures): scapy keeps no payload, or guesses a
   jumbogram length and can fail at it; the engine dissects IPv6 with `IPv6Captured`, scapy's
   IPv6 that takes every byte captured for Payload Length 0. UDP Length under 8 (0 in
   jumbograms, RFC 2675): scapy cuts the payload from the end; the engine takes every byte of
   the IP payload.
4. Extension headers other than options and Fragment (Routing, AH, Mobility, HIP, Shim6, the
   experimental 253/254): scapy has no layer for some, ends the chain at AH, and sizes an SRH
   from its Last Entry; the engine dissects them with `IPv6ExtHdrGeneric`, the uniform format of
   RFC 8200 section 4 / RFC 6564 (AH in 4-octet units, RFC 4302), and scapy goes on from there.
5. Options: scapy's classes for Router Alert, Jumbo, RPL and HAO read fixed fields whatever Opt
   Data Len says; the engine dissects options with Pad1, the IOAM layers and scapy's generic TLV
   (HBHOptUnknown), the format of RFC 8200 section 4.2.
6. GTP-U (TS 29.281 section 5): only UDP destination port 2152 carries G-PDUs (scapy also takes
   the source port). scapy sizes its PDU Session Container from the fields it knows and has no
   layer for most other extension header types, so the engine dissects the chain with
   `GTPUExtension`, the generic format of section 5.2.1. A header whose flags announce optional
   fields that are cut off cannot be dissected by GTP_U_Header; the engine then reads the eight
   mandatory bytes with `GTPUMandatory` to report it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from scapy.contrib.gtp import GTP_U_Header
from scapy.fields import (
    BitField,
    ByteEnumField,
    ByteField,
    IntField,
    PacketListField,
    ShortField,
    StrLenField,
)
from scapy.layers import inet6
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import (
    HBHOptUnknown,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    Pad1,
    _IPv6ExtHdr,
    ipv6nh,
)
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether
from scapy.packet import NoPayload, Packet, Padding, Raw, bind_layers

from collector.ioam import checks, wire
from collector.ioam import scapy_layers as layers
from collector.ioam.fulldecode import Record, header_error_record
from collector.ioam.scapy_decode import option_record

_LINKS: dict[int, tuple[Any, int]] = {  # link type -> scapy layer, its header size
    wire.LINKTYPE_ETHERNET: (Ether, 14),
    wire.LINKTYPE_LINUX_SLL: (CookedLinux, 16),
    wire.LINKTYPE_LINUX_SLL2: (CookedLinuxV2, 20),
}
_OPTIONS_HEADERS = {wire.NH_HOPOPTS: IPv6ExtHdrHopByHop, wire.NH_DSTOPTS: IPv6ExtHdrDestOpt}
_HEADER_NAMES = {wire.NH_HOPOPTS: "hop_by_hop", wire.NH_DSTOPTS: "destination"}
_GENERIC_EXT = (43, 51, 135, 139, 140, 253, 254)
_AH = 51

for _under in (Ether, Dot1Q, Dot1AD):  # rule 2
    bind_layers(_under, Dot1Q, type=0x9100)

_scapy_guess = inet6._IPv6GuessPayload.default_payload_class


def _guess_routing_stub(self: Packet, payload: bytes) -> Any:
    """Rule 1: scapy reads a Routing header's third byte to spot an SRH, and raises (losing the
    whole packet) when fewer bytes follow; such a stub is left to Raw."""
    if self.nh == 43 and len(payload) < 3:
        return Raw
    return _scapy_guess(self, payload)


inet6._IPv6GuessPayload.default_payload_class = _guess_routing_stub


class IPv6ExtHdrGeneric(_IPv6ExtHdr):  # type: ignore[misc]
    """Rule 4: Next Header, Hdr Ext Len and the rest, (Hdr Ext Len + 1) x 8 octets in all."""

    name = "IPv6 extension header (generic format)"
    fields_desc: ClassVar[list[Any]] = [
        ByteEnumField("nh", 59, ipv6nh),
        ByteField("len", 0),
        StrLenField("data", b"", length_from=lambda pkt: pkt.header_bytes() - 2),
    ]

    def header_bytes(self) -> int:
        return int((self.len + 1) * 8)


class AHGeneric(IPv6ExtHdrGeneric):
    """Rule 4 for AH: Payload Len counts 4-octet units, minus 2 (RFC 4302 section 2.2)."""

    name = "IPv6 Authentication Header (generic format)"

    def header_bytes(self) -> int:
        return int((self.len + 2) * 4)


class IPv6Captured(IPv6):  # type: ignore[misc]
    """Rule 3: Payload Length 0 means every byte captured (scapy keeps none, or guesses a
    jumbogram length and can fail at it); any other value is scapy's IPv6 as it is."""

    def extract_padding(self, data: bytes) -> tuple[bytes, bytes]:
        if self.plen == 0:
            return data, b""
        return super().extract_padding(data)  # type: ignore[no-any-return]


class GTPUMandatory(Packet):  # type: ignore[misc]
    """Rule 6: the eight mandatory octets of a GTPv1-U header (TS 29.281 5.1)."""

    name = "GTP-U mandatory header"
    fields_desc: ClassVar[list[Any]] = [
        BitField("version", 1, 3),
        BitField("PT", 1, 1),
        BitField("reserved", 0, 1),
        BitField("E", 0, 1),
        BitField("S", 0, 1),
        BitField("PN", 0, 1),
        ByteField("gtp_type", 255),
        ShortField("length", 0),
        IntField("teid", 0),
    ]


class GTPUExtension(Packet):  # type: ignore[misc]
    """Rule 6: a GTP-U extension header of TS 29.281 5.2.1 (Length in 4-octet units)."""

    name = "GTP-U extension header (generic format)"
    fields_desc: ClassVar[list[Any]] = [
        ByteField("length", 1),
        StrLenField("content", b"", length_from=lambda pkt: max(0, pkt.length * 4 - 2)),
        ByteField("next_type", 0),
    ]

    def guess_payload_class(self, payload: bytes) -> Any:
        if self.next_type:
            return GTPUExtension
        return IPv6 if payload[0] >> 4 == 6 else Raw  # as GTP_U_Header guesses a T-PDU


class _TLV(HBHOptUnknown):  # type: ignore[misc]
    """Rule 5: Pad1, an IOAM option, or any other option as the TLV of RFC 8200 4.2."""

    @classmethod
    def dispatch_hook(cls, _pkt: bytes | None = None, *args: Any, **kargs: Any) -> Any:
        code = _pkt[0] if _pkt else None
        if code == 0:
            return Pad1
        if code == wire.IPV6_OPT_IOAM:
            return layers.IOAM
        if code == wire.IPV6_OPT_IOAM_FIXED:
            return layers.IOAMFixed
        return cls


class _OptionArea(Packet):  # type: ignore[misc]
    name = "IPv6 options"
    fields_desc: ClassVar[list[Any]] = [PacketListField("options", [], _TLV)]


def scapy_decode_frame(frame: bytes, linktype: int = wire.LINKTYPE_ETHERNET) -> list[Record]:
    """Records for every IOAM option in the frame, dissected by scapy."""
    records: list[Record] = []
    errors: list[str] = []
    ip = _network(bytes(frame), linktype, errors)
    udp = None
    if isinstance(ip, IPv6):
        udp = _ipv6(ip, False, records, errors)
    elif isinstance(ip, IP) and ip.proto == wire.NH_UDP and not ip.frag and ip.ihl >= 5:
        udp = ip.payload if isinstance(ip.payload, UDP) else None
    if udp is not None and not errors and udp.dport == wire.GTPU_PORT:
        inner = _t_pdu(udp, errors)
        if inner is not None:
            _ipv6(inner, True, records, errors)
    if errors:
        records.append(header_error_record(tuple(errors)))
    return records


def _dissect(cls: Any, data: bytes) -> Packet | None:
    if not data:  # scapy would build a packet of default values
        return None
    try:
        return cls(data)
    except Exception:  # rule 1: scapy raises on a header cut short
        return None


def _bytes(layer: Packet) -> bytes:
    """The bytes scapy handed a layer (none for padding past a length field)."""
    if isinstance(layer, NoPayload | Padding):
        return b""
    return bytes(layer.original or b"")


def _network(data: bytes, linktype: int, errors: list[str]) -> Packet | None:
    """The IPv6 or IPv4 layer of the frame; rule 1 for one cut short."""
    if linktype in (wire.LINKTYPE_RAW, wire.LINKTYPE_IPV6):
        version = data[0] >> 4 if data else 0
        ethertype = {6: 0x86DD, 4: 0x0800}.get(version, 0)
        layer, raw = _dissect(IP, data) if version == 4 else None, data
    else:
        cls, size = _LINKS.get(linktype, (None, 0))
        link = _dissect(cls, data) if cls is not None and len(data) >= size else None
        if link is None or not hasattr(link, "type" if linktype == 1 else "proto"):
            return None  # a link header cut short, or 802.3 with a length for an EtherType
        last, layer = link, link.payload
        while linktype == wire.LINKTYPE_ETHERNET and isinstance(layer, Dot1Q | Dot1AD):
            last, layer = layer, layer.payload
        ethertype = last.type if linktype == wire.LINKTYPE_ETHERNET else last.proto
        raw = _bytes(layer)
    if ethertype == 0x86DD:
        return _as_ipv6(raw, errors)
    if ethertype == 0x0800:
        if isinstance(layer, IP):
            return layer
        if len(raw) < 20:
            errors.append(checks.IPV4_TRUNCATED)
    return None


def _as_ipv6(data: bytes, errors: list[str]) -> Packet | None:
    """Rule 3: an IPv6 packet where one is due, dissected by IPv6Captured; rule 1 when cut."""
    ip = _dissect(IPv6Captured, data)
    if ip is None:
        errors.append(checks.IPV6_TRUNCATED)
    return ip


def _ipv6(ip: Packet, gtpu: bool, records: list[Record], errors: list[str]) -> Packet | None:
    """Decode the IOAM options of one IPv6 packet; return its UDP layer when it reaches one."""
    nh, layer = ip.nh, ip.payload
    while True:
        if nh in _OPTIONS_HEADERS:
            if not isinstance(layer, _OPTIONS_HEADERS[nh]):
                errors.append(checks.OPTIONS_HEADER_TRUNCATED)
                return None
            size = (layer.len + 1) * 8
            raw = _bytes(layer)
            if size > len(raw):
                errors.append(checks.options_header_past(size))
                return None
            if not _options(raw[:size], _HEADER_NAMES[nh], gtpu, records, errors):
                return None
            nh, layer = layer.nh, layer.payload
        elif nh == 44:
            if not isinstance(layer, IPv6ExtHdrFragment) or layer.offset:
                return None
            nh, layer = layer.nh, layer.payload
        elif nh in _GENERIC_EXT:
            raw = _bytes(layer)
            generic = _dissect(AHGeneric if nh == _AH else IPv6ExtHdrGeneric, raw)
            if generic is None or len(raw) < 8:
                return None
            nh, layer = generic.nh, generic.payload
        else:
            return layer if nh == wire.NH_UDP and isinstance(layer, UDP) else None


def _options(
    header: bytes, kind: str, gtpu: bool, records: list[Record], errors: list[str]
) -> bool:
    """Rule 5: the options of one options header, IOAM ones decoded; False when one is broken."""
    pos = 2
    for option in _OptionArea(header[2:]).options:
        if isinstance(option, Pad1):
            pos += 1
            continue
        if not isinstance(option, HBHOptUnknown | layers.IOAM):  # Raw: no Opt Data Len left
            errors.append(checks.option_past_header(bytes(option)[0], pos))
            return False
        end = pos + 2 + option.optlen
        if end > len(header):
            errors.append(checks.option_past_header(option.otype, pos))
            return False
        if isinstance(option, layers.IOAM):
            records.append(option_record(option, kind, pos, gtpu))
        pos = end
    return True


def _t_pdu(udp: Packet, errors: list[str]) -> Packet | None:
    """Rule 6: the IPv6 packet a G-PDU carries, its header dissected by GTP_U_Header."""
    rest = _bytes(udp.payload) if udp.len >= 8 else _bytes(udp)[8:]  # rule 3
    gtp = _dissect(GTP_U_Header, rest)
    if not isinstance(gtp, GTP_U_Header):
        head = _dissect(GTPUMandatory, rest[:8])
        if head is not None and _g_pdu(head) and (head.E or head.S or head.PN):
            errors.append(checks.GTPU_OPTIONAL_TRUNCATED)
        return None
    if not _g_pdu(gtp):
        return None
    t_pdu = gtp.payload  # the T-PDU's bytes, whatever class scapy guessed for them
    if gtp.E and gtp.next_ex:
        t_pdu = _dissect(GTPUExtension, _bytes(gtp.payload)) or NoPayload()
        next_type = gtp.next_ex
        while next_type:
            raw = _bytes(t_pdu)
            if not isinstance(t_pdu, GTPUExtension) or not 0 < t_pdu.length * 4 <= len(raw):
                errors.append(checks.GTPU_EXTENSION_TRUNCATED)
                return None
            next_type, t_pdu = t_pdu.next_type, t_pdu.payload
    raw = _bytes(t_pdu)
    return _as_ipv6(raw, errors) if raw and raw[0] >> 4 == 6 else None


def _g_pdu(header: Packet) -> bool:
    return bool(header.version == 1 and header.PT == 1 and header.gtp_type == 0xFF)
