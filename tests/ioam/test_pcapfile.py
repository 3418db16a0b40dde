"""pcap/pcapng reading: both byte orders, µs and ns, pcapng blocks, clear errors."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from collector.ioam.pcapfile import PcapError, read_packets, write_pcap
from tests.conftest import need_binary

FRAMES = [(1_700_000_000.25, b"\x01" * 60), (1_700_000_001.5, b"\x02" * 61)]


def test_write_then_read(tmp_path: Path) -> None:
    path = tmp_path / "a.pcap"
    assert write_pcap(path, FRAMES, linktype=101) == 2
    got = list(read_packets(path))
    assert [(round(t, 6), lt, f) for t, lt, f in got] == [(t, 101, f) for t, f in FRAMES]


def test_big_endian_nanosecond_pcap(tmp_path: Path) -> None:
    header = bytes.fromhex(
        "a1b23c4d"  # magic: nanosecond resolution, written big-endian
        "0002 0004"  # version 2.4
        "00000000 00000000"  # thiszone, sigfigs
        "0000ffff"  # snaplen
        "00000001"  # linktype 1: Ethernet
    )
    record = bytes.fromhex(
        "00000010"  # seconds 16
        "1dcd6500"  # nanoseconds 500_000_000
        "00000003 00000003"  # captured and original length 3
        "aabbcc"  # frame
    )
    path = tmp_path / "be.pcap"
    path.write_bytes(header + record)
    assert list(read_packets(path)) == [(16.5, 1, b"\xaa\xbb\xcc")]


def _block(block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def test_pcapng_blocks(tmp_path: Path) -> None:
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    # interface: linktype 229 (raw IPv6), snaplen 0, option if_tsresol (9) = 9 (ns), end
    idb = _block(1, struct.pack("<HHI", 229, 0, 0) + struct.pack("<HHB3x", 9, 1, 9) + b"\0" * 4)
    ticks = 3_250_000_000  # 3.25 s in nanoseconds
    epb = _block(
        6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, 5, 5) + b"hello\0\0\0"
    )
    spb = _block(3, struct.pack("<I", 2) + b"hi\0\0")
    path = tmp_path / "a.pcapng"
    path.write_bytes(shb + idb + epb + spb)
    assert list(read_packets(path)) == [(3.25, 229, b"hello"), (0.0, 229, b"hi")]


def test_pcapng_written_by_tshark(tmp_path: Path) -> None:
    tshark = need_binary("tshark")
    src, dst = tmp_path / "a.pcap", tmp_path / "a.pcapng"
    write_pcap(src, FRAMES)
    subprocess.run([tshark, "-r", src, "-F", "pcapng", "-w", dst], check=True, capture_output=True)
    got = [(round(t, 6), lt, f) for t, lt, f in read_packets(dst)]
    assert got == [(t, 1, f) for t, f in FRAMES]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "too short"),
        (b"GIF89a" + bytes(40), "not a pcap"),
        (bytes.fromhex("d4c3b2a1") + bytes(10), "header truncated"),
    ],
)
def test_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(PcapError, match=message):
        list(read_packets(path))


def test_missing_file_and_truncated_record(tmp_path: Path) -> None:
    with pytest.raises(PcapError, match="cannot read"):
        read_packets(tmp_path / "nope.pcap")
    path = tmp_path / "t.pcap"
    write_pcap(path, FRAMES)
    path.write_bytes(path.read_bytes()[:-10])
    packets = read_packets(path)
    assert next(packets)[2] == FRAMES[0][1]  # what precedes the damage is still delivered
    with pytest.raises(PcapError, match="truncated at offset"):
        next(packets)


@pytest.mark.parametrize(
    "idb_body",
    [
        b"",  # no linktype at all
        struct.pack("<HHI", 1, 0, 0) + struct.pack("<HH", 9, 1),  # if_tsresol without its byte
    ],
)
def test_broken_interface_block_is_a_pcap_error(tmp_path: Path, idb_body: bytes) -> None:
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    path = tmp_path / "bad.pcapng"
    path.write_bytes(shb + _block(1, idb_body))
    with pytest.raises(PcapError, match="interface description block"):
        list(read_packets(path))
