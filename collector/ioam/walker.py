"""The one walk over a raw frame to its IOAM options: link layer, IP, extension headers, GTP-U.

The agent's hot path (fastparse.hot_parse) and the full decoder (fulldecode.decode_frame) both
take the options they judge from `walk`, so the two cannot disagree on where an option is or
which header is broken; what an option's data means is theirs to judge.

Every layer is read inside the bytes its own length field gives it, bounded by what was
captured: IPv4 Total Length (RFC 791; below the header length, as TSO captures show it, it is
ignored), IPv6 Payload Length (RFC 8200; 0, as in jumbograms and offloaded captures, means to the
end of the capture), UDP Length (RFC 768; under 8 likewise ignored).

It runs once per captured packet, so it is straight-line code on the frame itself and returns
plain tuples (a NamedTuple costs a tenth of the agent's per-packet budget to make and free):

  Walk    = (outer, inner, outer_len, error)
            outer: the frame's IPv6 packet, a Carrier (None for IPv4, non-IP, a cut header);
            inner: the IPv6 packet inside a GTP-U G-PDU, a Carrier or None;
            outer_len: total length of the IP packet around a G-PDU the walk entered, else 0;
            error: a broken header outside any Carrier (IPv4, GTP-U, an IPv6 fixed header).
  Carrier = (off, end, nh, upper, options, error) for one IPv6 packet:
            off: its header's offset; end: where its bytes end; nh: the protocol after the
            last extension header walked; upper: that header's offset, -1 when not reached;
            options: (header's Next Header code 0/60, header offset, option-type offset, option
            end) per IOAM option; error: the broken header that stopped the walk inside this packet.
"""

from __future__ import annotations

from typing import Final, TypeAlias

from collector.ioam import checks

Option: TypeAlias = tuple[int, int, int, int]
Carrier: TypeAlias = tuple[int, int, int, int, list[Option], str | None]
Walk: TypeAlias = tuple[Carrier | None, Carrier | None, int, str | None]

# Extension headers walked over on the way to the upper layer (RFC 8200 section 4, RFC 6564):
# length in 8-octet units after the first 8; AH (51) counts 4-octet units after the first 8;
# a Fragment header (44) is 8 octets.
_WALKED_OVER: Final = frozenset({43, 44, 51, 135, 139, 140, 253, 254})
_VLAN: Final = frozenset({0x8100, 0x88A8, 0x9100})  # 802.1Q, 802.1ad, the older QinQ TPID
GTPU_PORT: Final = 2152
NOTHING: Final[Walk] = (None, None, 0, None)
_CUT_IPV6: Final[Walk] = (None, None, 0, checks.IPV6_TRUNCATED)


def walk(frame: bytes, linktype: int) -> Walk:
    """Where the IOAM options of a frame are: its IPv6 packet, then a GTP-U inner one."""
    n = len(frame)
    if linktype == 1 and n >= 14 and frame[12] == 0x86 and frame[13] == 0xDD:
        off = 14  # untagged Ethernet first: the common case
    elif (linktype == 101 or linktype == 229) and n and frame[0] >> 4 == 6:
        off = 0  # raw IP, what the agent's SOCK_DGRAM ring delivers
    else:
        off = _link(frame, linktype, n)
        if off < 0:
            return NOTHING if off == -1 else _over_ipv4(frame, -2 - off, n)
    outer = ipv6(frame, off, n)
    if outer is None:
        return _CUT_IPV6
    udp = outer[3]
    if (
        outer[2] == 17
        and udp >= 0
        and udp + 4 <= outer[1]
        and frame[udp + 2] == 0x08  # destination port 2152
        and frame[udp + 3] == 0x68
        and outer[5] is None
    ):
        return _gtpu(frame, udp, outer[1], outer, 40 + ((frame[off + 4] << 8) | frame[off + 5]))
    return (outer, None, 0, None)


def _link(frame: bytes, linktype: int, n: int) -> int:
    """Offset of an IPv6 header, -2 - offset of an IPv4 one, or -1 when neither follows."""
    if linktype == 1:  # Ethernet, any number of VLAN tags
        if n < 14:
            return -1
        ethertype, off = (frame[12] << 8) | frame[13], 14
        while ethertype in _VLAN and n >= off + 4:
            ethertype, off = (frame[off + 2] << 8) | frame[off + 3], off + 4
    elif linktype == 101 or linktype == 229:  # raw IP: the version nibble says which
        version = frame[0] >> 4 if n else 0
        ethertype, off = (0x86DD if version == 6 else 0x0800 if version == 4 else 0), 0
    elif linktype == 113:  # Linux cooked capture v1: protocol at 14, header 16 bytes
        ethertype, off = ((frame[14] << 8) | frame[15] if n >= 16 else 0), 16
    elif linktype == 276:  # Linux cooked capture v2: protocol at 0, header 20 bytes
        ethertype, off = ((frame[0] << 8) | frame[1] if n >= 20 else 0), 20
    else:
        return -1
    return off if ethertype == 0x86DD else -2 - off if ethertype == 0x0800 else -1


def _over_ipv4(frame: bytes, off: int, n: int) -> Walk:
    """IPv4 matters only as the outer header of GTP-U."""
    if n < off + 20:
        return (None, None, 0, checks.IPV4_TRUNCATED)
    ihl = (frame[off] & 0x0F) << 2
    if frame[off + 9] != 17 or ((frame[off + 6] << 8) | frame[off + 7]) & 0x1FFF or ihl < 20:
        return NOTHING  # not UDP, or not a first fragment
    total = (frame[off + 2] << 8) | frame[off + 3]
    end = off + total if total >= ihl and off + total < n else n
    udp = off + ihl
    if udp + 4 > end or (frame[udp + 2] << 8) | frame[udp + 3] != GTPU_PORT:
        return NOTHING
    return _gtpu(frame, udp, end, None, total)


def _gtpu(frame: bytes, udp: int, end: int, outer: Carrier | None, outer_len: int) -> Walk:
    """Into a G-PDU (TS 29.281 section 5): extension headers are followed only when E is set."""
    g = udp + 8
    if g + 8 > end:
        return (outer, None, 0, None)
    length = (frame[udp + 4] << 8) | frame[udp + 5]
    if length >= 8 and udp + length < end:
        end = udp + length
    if g + 8 > end or frame[g] >> 4 != 3 or frame[g + 1] != 0xFF:  # version 1, PT 1, G-PDU
        return (outer, None, 0, None)
    q = g + 8
    if frame[g] & 0x07:  # E, S or PN: sequence number, N-PDU number, next extension type
        if q + 4 > end:
            return (outer, None, outer_len, checks.GTPU_OPTIONAL_TRUNCATED)
        next_type = frame[q + 3] if frame[g] & 0x04 else 0
        q += 4
        while next_type:  # TS 29.281 5.2.1: Length in 4-octet units, Next Type in the last one
            if q >= end or frame[q] == 0 or q + (frame[q] << 2) > end:
                return (outer, None, outer_len, checks.GTPU_EXTENSION_TRUNCATED)
            q += frame[q] << 2
            next_type = frame[q - 1]
    if q >= end or frame[q] >> 4 != 6:
        return (outer, None, 0, None)
    inner = ipv6(frame, q, end)
    if inner is None:
        return (outer, None, outer_len, checks.IPV6_TRUNCATED)
    return (outer, inner, outer_len, None)


def ipv6(frame: bytes, off: int, limit: int) -> Carrier | None:
    """Walk one IPv6 packet's extension headers; None when its fixed header is cut off."""
    if limit < off + 40:
        return None
    end = off + 40 + ((frame[off + 4] << 8) | frame[off + 5])
    if end == off + 40 or end > limit:
        end = limit
    nh, p = frame[off + 6], off + 40
    found: list[Option] = []
    while True:
        if nh == 0 or nh == 60:
            if p + 2 > end:
                return (off, end, nh, -1, found, checks.OPTIONS_HEADER_TRUNCATED)
            hend = p + ((frame[p + 1] + 1) << 3)
            if hend > end:
                return (off, end, nh, -1, found, checks.options_header_past(hend - p))
            q = p + 2
            while q < hend:  # RFC 8200 4.2: Pad1 is one byte, every other option a TLV
                code = frame[q]
                if code == 0:
                    q += 1
                    continue
                qe = q + 2 + frame[q + 1] if q + 1 < hend else hend + 1
                if qe > hend:
                    return (off, end, nh, -1, found, checks.option_past_header(code, q - p))
                if code == 0x31 or code == 0x11:
                    found.append((nh, p, q, qe))
                q = qe
            nh, p = frame[p], hend
        elif nh not in _WALKED_OVER:
            return (off, end, nh, p, found, None)
        elif p + 8 > end:
            return (off, end, nh, -1, found, None)
        elif nh == 44:
            if ((frame[p + 2] << 8) | frame[p + 3]) & 0xFFF8:  # not a first fragment
                return (off, end, frame[p], -1, found, None)
            nh, p = frame[p], p + 8
        else:
            step = (frame[p + 1] + 2) << 2 if nh == 51 else (frame[p + 1] + 1) << 3
            nh, p = frame[p], p + step
