"""The scapy engine: frames dissected header by header with scapy's own layers.

Each header is dissected by its scapy class from the bytes where it starts; the header lengths
scapy reports drive the walk. Limits (payload length, captured bytes) follow the same rules as
frames.py, so the two engines see the same options and report the same broken headers.
"""

from __future__ import annotations

from scapy.contrib.gtp import GTP_U_Header
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
)
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1Q, Ether

from collector.ioam import checks, wire
from collector.ioam import scapy_layers as layers
from collector.ioam.fulldecode import FoundOption, Record, header_error_record
from collector.ioam.scapy_decode import option_record

_VLAN = (0x8100, 0x88A8, 0x9100)
_GENERIC_EXT = (43, 135, 139, 140, 253, 254)


def scapy_decode_frame(frame: bytes, linktype: int = wire.LINKTYPE_ETHERNET) -> list[Record]:
    """Records for every IOAM option in the frame, dissected by scapy."""
    data = bytes(frame)
    records: list[Record] = []
    errors: list[str] = []
    version, off = _network(data, linktype)
    udp = -1
    if version == 6:
        udp = _ipv6(data, off, False, records, errors)
    elif version == 4:
        udp = _ipv4_udp(data, off, errors)
    if udp >= 0 and not errors and len(data) >= udp + 4 and _dport(data, udp) == wire.GTPU_PORT:
        inner = _gtpu(data, udp + 8, errors)
        if inner >= 0 and data[inner] >> 4 == 6:
            _ipv6(data, inner, True, records, errors)
    if errors:
        records.append(header_error_record(tuple(errors)))
    return records


def _dport(data: bytes, udp: int) -> int:
    return int(UDP(data[udp : udp + 8] + bytes(max(0, udp + 8 - len(data)))).dport)


def _network(data: bytes, linktype: int) -> tuple[int, int]:
    if linktype == wire.LINKTYPE_ETHERNET:
        if len(data) < 14:
            return 0, -1
        link = Ether(data[:14])  # becomes Dot3 (no EtherType) for values up to 1500
        ethertype, off = (link.type if isinstance(link, Ether) else 0), 14
        while ethertype in _VLAN and len(data) >= off + 4:
            ethertype, off = Dot1Q(data[off : off + 4]).type, off + 4
    elif linktype == wire.LINKTYPE_LINUX_SLL and len(data) >= 16:
        ethertype, off = CookedLinux(data[:16]).proto, 16
    elif linktype == wire.LINKTYPE_LINUX_SLL2 and len(data) >= 20:
        ethertype, off = CookedLinuxV2(data[:20]).proto, 20
    elif linktype in (wire.LINKTYPE_RAW, wire.LINKTYPE_IPV6) and data:
        version = data[0] >> 4
        return (version, 0) if version in (4, 6) else (0, -1)
    else:
        return 0, -1
    return {0x86DD: (6, off), 0x0800: (4, off)}.get(ethertype, (0, -1))


def _ipv4_udp(data: bytes, off: int, errors: list[str]) -> int:
    if len(data) < off + 20:
        errors.append(checks.IPV4_TRUNCATED)
        return -1
    ip = IP(data[off : off + 20])
    if ip.proto != wire.NH_UDP or ip.frag or ip.ihl < 5:
        return -1
    return off + int(ip.ihl) * 4


def _ipv6(data: bytes, off: int, gtpu: bool, records: list[Record], errors: list[str]) -> int:
    """Decode the IOAM options of one IPv6 packet; return its UDP header offset or -1."""
    n = len(data)
    if n < off + 40:
        errors.append(checks.IPV6_TRUNCATED)
        return -1
    header = IPv6(data[off : off + 40])
    lim = min(n, off + 40 + header.plen) if header.plen else n
    nh, pos = header.nh, off + 40
    while True:
        if nh in (wire.NH_HOPOPTS, wire.NH_DSTOPTS):
            if pos + 2 > n:
                errors.append(checks.OPTIONS_HEADER_TRUNCATED)
                return -1
            cls = IPv6ExtHdrHopByHop if nh == wire.NH_HOPOPTS else IPv6ExtHdrDestOpt
            size = (cls(data[pos : pos + 2] + bytes(6)).len + 1) * 8  # scapy reads Hdr Ext Len
            if pos + size > lim:
                errors.append(checks.options_header_past(size))
                return -1
            kind = "hop_by_hop" if nh == wire.NH_HOPOPTS else "destination"
            if not _options(data[pos : pos + size], pos, kind, gtpu, records, errors):
                return -1
            nh, pos = data[pos], pos + size
        elif nh == 44 or nh == 51 or nh in _GENERIC_EXT:
            if pos + 8 > n:
                return -1
            if nh == 44:
                fragment = IPv6ExtHdrFragment(data[pos : pos + 8])
                if fragment.offset:
                    return -1
                nh, pos = fragment.nh, pos + 8
            else:
                size = (data[pos + 1] + 2) * 4 if nh == 51 else (data[pos + 1] + 1) * 8
                nh, pos = data[pos], pos + size
        else:
            return pos if nh == wire.NH_UDP else -1


def _options(
    ext: bytes, start: int, kind: str, gtpu: bool, records: list[Record], errors: list[str]
) -> bool:
    """Walk one options header's TLVs (RFC 8200 4.2); IOAM ones are dissected by scapy."""
    pos, size = 2, len(ext)
    while pos < size:
        code = ext[pos]
        if code == 0:  # Pad1
            pos += 1
            continue
        if pos + 2 > size or pos + 2 + ext[pos + 1] > size:
            errors.append(checks.option_past_header(code, pos))
            return False
        end = pos + 2 + ext[pos + 1]
        if code in wire.IOAM_IPV6_OPTIONS:
            cls = layers.IOAM if code == wire.IPV6_OPT_IOAM else layers.IOAMFixed
            option = cls(ext[pos:end])
            found = FoundOption(kind, code, start + pos, pos, option.optlen, gtpu)
            records.append(option_record(option, found))
        pos = end
    return True


def _gtpu(data: bytes, g: int, errors: list[str]) -> int:
    """Offset of a G-PDU's inner packet, reading the header with scapy's GTP_U_Header."""
    n = len(data)
    if n < g + 8:
        return -1
    header = GTP_U_Header(data[g : g + 12] + bytes(max(0, g + 12 - n)))
    if header.version != 1 or header.PT != 1 or header.gtp_type != 0xFF:
        return -1
    q = g + 8
    if header.E or header.S or header.PN:
        if n < q + 4:
            errors.append(checks.GTPU_OPTIONAL_TRUNCATED)
            return -1
        next_type, q = (header.next_ex if header.E else 0), q + 4  # only with E
        while next_type:
            if q >= n or data[q] == 0 or q + data[q] * 4 > n:
                errors.append(checks.GTPU_EXTENSION_TRUNCATED)
                return -1
            size = data[q] * 4
            next_type, q = data[q + size - 1], q + size
    return q if q < n else -1
