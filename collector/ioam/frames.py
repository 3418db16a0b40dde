"""Find IOAM options in a raw frame: link layer, IPv4/IPv6, extension headers, GTP-U.

This is the readable walker behind the full decode; the agent's hot path (fastparse.hot_parse)
inlines the same steps and is tested against it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from collector.ioam import checks, wire

_U16 = struct.Struct("!H").unpack_from

# Extension headers skipped on the way to the upper layer: next header -> length rule.
_GENERIC_EXT: Final = frozenset({43, 135, 139, 140, 253, 254})
_FRAGMENT: Final = 44
_AH: Final = 51
_VLAN_TAGS: Final = frozenset({0x8100, 0x88A8, 0x9100})
ETH_IPV6: Final = 0x86DD
ETH_IPV4: Final = 0x0800


@dataclass(frozen=True, slots=True)
class FoundOption:
    """One IOAM option: where its option-type byte is and what carries it."""

    header: str  # "hop_by_hop" or "destination"
    option_code: int  # 0x31 or 0x11
    offset: int  # of the option-type byte in the frame
    offset_in_header: int
    data_len: int  # the option's Opt Data Len
    gtpu: bool


@dataclass(frozen=True, slots=True)
class WalkResult:
    options: tuple[FoundOption, ...]
    errors: tuple[str, ...]


def network_offset(frame: bytes, linktype: int) -> tuple[int, int]:
    """(IP version, offset of the IP header), or (0, -1) when the frame carries no IP."""
    n = len(frame)
    if linktype == wire.LINKTYPE_ETHERNET:
        off, ethertype = 14, (_U16(frame, 12)[0] if n >= 14 else 0)
        while ethertype in _VLAN_TAGS and n >= off + 4:
            ethertype, off = _U16(frame, off + 2)[0], off + 4
    elif linktype == wire.LINKTYPE_LINUX_SLL:
        off, ethertype = 16, (_U16(frame, 14)[0] if n >= 16 else 0)
    elif linktype == wire.LINKTYPE_LINUX_SLL2:
        off, ethertype = 20, (_U16(frame, 0)[0] if n >= 20 else 0)
    elif linktype in (wire.LINKTYPE_RAW, wire.LINKTYPE_IPV6):
        version = frame[0] >> 4 if n else 0
        return (version, 0) if version in (4, 6) else (0, -1)
    else:
        return 0, -1
    if ethertype == ETH_IPV6:
        return 6, off
    if ethertype == ETH_IPV4:
        return 4, off
    return 0, -1


def walk_frame(frame: bytes, linktype: int) -> WalkResult:
    """All IOAM options of the frame (outer packet, then the GTP-U inner one)."""
    version, off = network_offset(frame, linktype)
    options: list[FoundOption] = []
    errors: list[str] = []
    if version == 6:
        udp = _walk_ipv6(frame, off, False, options, errors)
    elif version == 4:
        udp = _ipv4_udp(frame, off, errors)
    else:
        return WalkResult((), ())
    if (
        udp >= 0
        and not errors
        and len(frame) >= udp + 4
        and _U16(frame, udp + 2)[0] == wire.GTPU_PORT
    ):
        inner = _gtpu_payload(frame, udp + 8, errors)
        if inner >= 0 and frame[inner] >> 4 == 6:
            _walk_ipv6(frame, inner, True, options, errors)
    return WalkResult(tuple(options), tuple(errors))


def _ipv4_udp(frame: bytes, off: int, errors: list[str]) -> int:
    """Offset of the UDP header in an IPv4 packet, or -1."""
    if len(frame) < off + 20:
        errors.append(checks.IPV4_TRUNCATED)
        return -1
    ihl = (frame[off] & 0x0F) * 4
    fragment_offset = _U16(frame, off + 6)[0] & 0x1FFF
    if frame[off + 9] != wire.NH_UDP or fragment_offset or ihl < 20:
        return -1
    return off + ihl


def _walk_ipv6(
    frame: bytes, off: int, gtpu: bool, options: list[FoundOption], errors: list[str]
) -> int:
    """Collect IOAM options of one IPv6 packet; return its UDP header offset or -1."""
    n = len(frame)
    if n < off + 40:
        errors.append(checks.IPV6_TRUNCATED)
        return -1
    payload_len = _U16(frame, off + 4)[0]
    end = off + 40 + payload_len if payload_len else n
    nh, p = frame[off + 6], off + 40
    while True:
        if nh in (wire.NH_HOPOPTS, wire.NH_DSTOPTS):
            if p + 2 > n:
                errors.append(checks.OPTIONS_HEADER_TRUNCATED)
                return -1
            hdr_len = (frame[p + 1] + 1) * 8
            if p + hdr_len > min(n, end):
                errors.append(checks.options_header_past(hdr_len))
                return -1
            kind = "hop_by_hop" if nh == wire.NH_HOPOPTS else "destination"
            if not _scan_options(frame, p, p + hdr_len, kind, gtpu, options, errors):
                return -1
            nh, p = frame[p], p + hdr_len
        elif nh in _GENERIC_EXT or nh in (_AH, _FRAGMENT):
            if p + 8 > n:
                return -1
            if nh == _FRAGMENT:
                if _U16(frame, p + 2)[0] & 0xFFF8:
                    return -1
                nh, p = frame[p], p + 8
            else:
                size = (frame[p + 1] + 2) * 4 if nh == _AH else (frame[p + 1] + 1) * 8
                nh, p = frame[p], p + size
        else:
            return p if nh == wire.NH_UDP else -1


def _scan_options(
    frame: bytes,
    start: int,
    end: int,
    kind: str,
    gtpu: bool,
    options: list[FoundOption],
    errors: list[str],
) -> bool:
    """TLV walk over one options header; False when its TLVs are broken."""
    q = start + 2
    while q < end:
        code = frame[q]
        if code == 0:
            q += 1
            continue
        if q + 2 > end or q + 2 + frame[q + 1] > end:
            errors.append(checks.option_past_header(code, q - start))
            return False
        if code in wire.IOAM_IPV6_OPTIONS:
            options.append(FoundOption(kind, code, q, q - start, frame[q + 1], gtpu))
        q += 2 + frame[q + 1]
    return True


def _gtpu_payload(frame: bytes, g: int, errors: list[str]) -> int:
    """Offset of a G-PDU's inner packet (after any extension headers), or -1."""
    n = len(frame)
    if n < g + 8 or frame[g] >> 4 != 0x3 or frame[g + 1] != 0xFF:
        return -1
    q = g + 8
    if frame[g] & 0x07:
        if n < q + 4:
            errors.append(checks.GTPU_OPTIONAL_TRUNCATED)
            return -1
        next_type, q = (frame[q + 3] if frame[g] & 0x04 else 0), q + 4  # only with E
        while next_type:
            if q >= n or frame[q] == 0 or q + frame[q] * 4 > n:
                errors.append(checks.GTPU_EXTENSION_TRUNCATED)
                return -1
            size = frame[q] * 4
            next_type, q = frame[q + size - 1], q + size
    return q if q < n else -1
