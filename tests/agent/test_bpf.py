"""The kernel prefilter: the interpreter's verdicts (used by replay) and the kernel's (live)."""

from __future__ import annotations

import socket
import struct
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.agent import bpf, bpfvm
from tests.conftest import need_root
from tests.netns import inside, namespaces, veth

SRC6 = bytes.fromhex("20010db8000000000000000000000001")
DST6 = bytes.fromhex("20010db8000000000000000000000002")


def ipv6(nh: int, payload: bytes) -> bytes:
    # version 6 | tclass | flow label, payload length, next header, hop limit, src, dst
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, 64) + SRC6 + DST6 + payload


def hbh(nh: int, payload: bytes) -> bytes:
    # next header, hdr ext len 0 (8 bytes), PadN of 4 bytes
    return bytes([nh, 0, 1, 4, 0, 0, 0, 0]) + payload


def udp(dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", 40000, dport, 8 + len(payload), 0) + payload


def ipv4(proto: int, payload: bytes, frag: int = 0) -> bytes:
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, frag, 64, proto, 0,
                       b"\x0a\0\0\x01", b"\x0a\0\0\x02")  # fmt: skip
    return head + payload


def gtp(inner: bytes, *, msg: int = 0xFF, exts: tuple[bytes, ...] = ()) -> bytes:
    if not exts:  # flags 0x30: version 1, PT 1; message type; length; TEID
        return struct.pack("!BBHI", 0x30, msg, len(inner), 7) + inner
    # E flag: sequence(2), N-PDU(1), next extension type(1), then the extension headers
    body = struct.pack("!HBB", 0, 0, 0x85) + b"".join(exts) + inner
    return struct.pack("!BBHI", 0x34, msg, len(body), 7) + body


def ext(content: bytes, next_type: int) -> bytes:
    # length in 4-octet units | content | next extension header type
    return bytes([(len(content) + 2) // 4]) + content + bytes([next_type])


MARK = b"MARKMARK"
INNER_HBH = ipv6(0, hbh(17, udp(5000, MARK)))
PDU_SESSION = ext(b"\x10\x09", 0)
# (name, EtherType, packet from the network header, accepted?)
CASES = [
    ("v6 hop-by-hop", 0x86DD, INNER_HBH, True),
    ("v6 destination options", 0x86DD, ipv6(60, hbh(17, udp(5000, MARK))), True),
    ("v6 plain udp", 0x86DD, ipv6(17, udp(53, MARK)), False),
    ("v6 tcp", 0x86DD, ipv6(6, MARK * 3), False),
    ("gtp-u over v4", 0x0800, ipv4(17, udp(2152, gtp(INNER_HBH))), True),
    ("gtp-u over v6", 0x86DD, ipv6(17, udp(2152, gtp(INNER_HBH))), True),
    ("gtp-u, one extension", 0x0800,
     ipv4(17, udp(2152, gtp(INNER_HBH, exts=(PDU_SESSION,)))), True),
    ("gtp-u, two extensions", 0x0800,
     ipv4(17, udp(2152, gtp(INNER_HBH, exts=(ext(b"\x10\x09", 0x85), PDU_SESSION)))), True),
    ("gtp-u, inner without hbh", 0x0800, ipv4(17, udp(2152, gtp(ipv6(17, udp(1, MARK))))), False),
    ("gtp-u inner ipv4", 0x0800, ipv4(17, udp(2152, gtp(ipv4(17, udp(1, MARK))))), False),
    ("gtp echo request", 0x0800, ipv4(17, udp(2152, gtp(INNER_HBH, msg=1))), False),
    ("v4 non-first fragment", 0x0800, ipv4(17, udp(2152, gtp(INNER_HBH)), frag=100), False),
    ("v4 other udp", 0x0800, ipv4(17, udp(2153, gtp(INNER_HBH))), False),
    ("truncated gtp-u", 0x0800, ipv4(17, udp(2152, b"\x30\xff")), False),
    ("arp", 0x0806, bytes(28) + MARK, False),
]  # fmt: skip


@pytest.mark.parametrize(("name", "proto", "packet", "accepted"), CASES, ids=[c[0] for c in CASES])
def test_interpreter_verdicts(name: str, proto: int, packet: bytes, accepted: bool) -> None:
    snap = bpfvm.run(bpf.ioam_filter(256), packet, protocol=proto)
    assert snap == (256 if accepted else 0)


def test_outgoing_dropped_by_filter() -> None:
    program = bpf.ioam_filter(256)
    assert bpfvm.run(program, INNER_HBH, protocol=0x86DD, pkttype=0) == 256
    assert bpfvm.run(program, INNER_HBH, protocol=0x86DD, pkttype=bpf.PACKET_OUTGOING) == 0


@given(st.binary(max_size=200), st.sampled_from([0x0800, 0x86DD, 0x0806]))
def test_interpreter_total_on_any_bytes(data: bytes, proto: int) -> None:
    assert bpfvm.run(bpf.ioam_filter(128), data, protocol=proto) in (0, 128)


def test_backward_jumps_rejected() -> None:
    a = bpf.Assembler()
    a.label("top")
    a.goto("top")
    with pytest.raises(ValueError, match="backward"):
        a.assemble()


@pytest.mark.netns
def test_kernel_verdicts_match_interpreter() -> None:
    """Send every case over a veth pair; the ring on the far end receives exactly the accepted."""
    need_root()
    from collector.agent.ring import Ring, RingConfig

    with namespaces("bpf") as (ns,):
        veth(ns, "va", ns, "vb")
        with inside(ns):
            ring = Ring("vb", RingConfig(block_size=1 << 16, block_count=4, snaplen=256))
            tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            tx.bind(("va", 0))
            out_on_vb = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            out_on_vb.bind(("vb", 0))
        try:
            for i, (_n, proto, packet, _a) in enumerate(CASES):
                frame = b"\xff" * 6 + b"\x02\0\0\0\0\x01" + struct.pack("!H", proto)
                tx.send(frame + packet + struct.pack("!H", i))
            # sent by the capturing host itself: PACKET_OUTGOING, never counted
            out_on_vb.send(b"\xff" * 6 + b"\x02\0\0\0\0\x02\x86\xdd" + INNER_HBH + b"\xff\xff")
            got = _drain(ring)
        finally:
            ring.close()
            tx.close()
            out_on_vb.close()
    ours = [g for g in got if MARK in g]  # the kernel's own MLD reports carry Hop-by-Hop too
    expected = {CASES[i][2] + struct.pack("!H", i) for i in range(len(CASES)) if CASES[i][3]}
    assert set(ours) == expected
    assert len(ours) == len(expected)


def _drain(ring: object) -> list[bytes]:
    from collector.agent.ring import Ring

    assert isinstance(ring, Ring)
    got: list[bytes] = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        ring.wait(100)
        while (frames := ring.read_block()) is not None:
            got.extend(frames)
    return got
