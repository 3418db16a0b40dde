"""Builders: exact bytes for the socket option, and packets an independent stack accepts."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from collector.ioam import build
from tests.ioam.test_fastparse import hexbytes


def test_hopopts_for_socket_bytes() -> None:
    expected = hexbytes(
        """
        00          # next header (the kernel fills it in)
        03          # header length 3: (3+1)*8 = 32 bytes
        01 00       # PadN with no data: the IOAM option lands at offset 4
        31          # option type 0x31
        1a          # option data length 26
        00          # reserved
        00          # IOAM option-type 0: pre-allocated trace
        007b        # namespace id 123
        08          # NodeLen 1 | flags 0
        04          # RemainingLen 4: four empty one-word slots
        800000      # trace type: bit 0, hop limit and node id
        00          # reserved
        00000000 00000000 00000000 00000000  # the four slots; 32 bytes in all, no end padding
        """
    )
    assert build.hopopts_for_socket(123, 0x800000, 4) == expected


def test_option_too_long_is_refused() -> None:
    with pytest.raises(ValueError, match="exceeds 255"):
        build.hopopts_for_socket(1, 0xFFF000, 10)


def test_checksums_verified_by_scapy() -> None:
    option = build.trace_option(namespace_id=1, trace_type=0x800000, nodes=[{"node_id": 1}])
    frame = build.ethernet(build.ipv6(hop_by_hop=[option], upper=build.udp(7, 9, b"payload")))
    packet = Ether(frame)
    recomputed = Ether(frame)
    recomputed[UDP].chksum = None
    assert Ether(bytes(recomputed))[UDP].chksum == packet[UDP].chksum != 0
    assert packet[IPv6].plen == len(frame) - 14 - 40


def test_gtpu_stack_seen_by_scapy() -> None:
    inner = build.ipv6(upper=build.udp(1, 2, b"x"))
    gtp = build.gtpu(inner, teid=0x1234, extensions=[(0x85, b"\x10\x09")])
    frame = build.ethernet(build.ipv4(upper=build.udp(2152, 2152, gtp)), ethertype=0x0800)
    packet = Ether(frame)
    assert packet[IP].len == len(frame) - 14
    assert IP(bytes(packet[IP])).chksum == packet[IP].chksum
    assert bytes(packet[UDP].payload).endswith(inner)
    # flags 0x34 (version 1, PT, E), G-PDU, length = everything after the 8-byte header
    assert gtp[:4] == bytes([0x34, 0xFF]) + (len(gtp) - 8).to_bytes(2, "big")
