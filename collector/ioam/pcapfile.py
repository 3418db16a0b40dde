"""Read pcap (both byte orders, µs and ns) and pcapng files; write classic pcap.

The whole file is read once and records are sliced out of it, which is what makes a 200k-packet
benchmark file load in a fraction of a second. Broken files raise PcapError naming the offset.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
_BYTE_ORDER_MAGIC = 0x1A2B3C4D


class PcapError(ValueError):
    """The file is not a readable pcap/pcapng capture."""


def read_packets(path: str | Path) -> Iterator[tuple[float, int, bytes]]:
    """(timestamp seconds, linktype, frame) for every packet of a pcap or pcapng file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PcapError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) < 4:
        raise PcapError(f"{path}: too short to be a capture file ({len(data)} bytes)")
    if struct.unpack_from("<I", data)[0] == PCAPNG_SHB:
        return _pcapng(data, str(path))
    return _pcap(data, str(path))


def _pcap(data: bytes, name: str) -> Iterator[tuple[float, int, bytes]]:
    for order in ("<", ">"):
        magic = struct.unpack_from(order + "I", data)[0]
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            break
    else:
        raise PcapError(f"{name}: not a pcap or pcapng file (magic 0x{data[:4].hex()})")
    if len(data) < 24:
        raise PcapError(f"{name}: pcap header truncated")
    divisor = 1e9 if magic == PCAP_MAGIC_NS else 1e6
    linktype = struct.unpack_from(order + "I", data, 20)[0] & 0x0FFFFFFF
    record = struct.Struct(order + "IIII").unpack_from
    return _pcap_records(data, name, record, divisor, linktype)


def _pcap_records(
    data: bytes,
    name: str,
    unpack: Callable[[bytes, int], tuple[Any, ...]],
    divisor: float,
    linktype: int,
) -> Iterator[tuple[float, int, bytes]]:
    pos, end = 24, len(data)
    while pos < end:
        if pos + 16 > end:
            raise PcapError(f"{name}: record header truncated at offset {pos}")
        seconds, fraction, caplen, _ = unpack(data, pos)
        if pos + 16 + caplen > end:
            raise PcapError(f"{name}: packet data truncated at offset {pos}")
        yield seconds + fraction / divisor, linktype, data[pos + 16 : pos + 16 + caplen]
        pos += 16 + caplen


def _pcapng(data: bytes, name: str) -> Iterator[tuple[float, int, bytes]]:
    """Section header, interface description, enhanced/simple/obsolete packet blocks."""
    order = "<"
    interfaces: list[tuple[int, float]] = []  # (linktype, ticks per second)
    pos, end = 0, len(data)
    while pos < end:
        if pos + 12 > end:
            raise PcapError(f"{name}: pcapng block header truncated at offset {pos}")
        block_type = struct.unpack_from(order + "I", data, pos)[0]
        if block_type == PCAPNG_SHB:
            magic = struct.unpack_from("<I", data, pos + 8)[0]
            if magic not in (_BYTE_ORDER_MAGIC, 0x4D3C2B1A):
                raise PcapError(f"{name}: bad pcapng byte-order magic at offset {pos}")
            order = "<" if magic == _BYTE_ORDER_MAGIC else ">"
            interfaces = []
        length = struct.unpack_from(order + "I", data, pos + 4)[0]
        if length < 12 or length % 4 or pos + length > end:
            raise PcapError(f"{name}: pcapng block of length {length} at offset {pos} is broken")
        body = data[pos + 8 : pos + length - 4]
        if block_type == 1:
            interfaces.append(_interface(body, order, name, pos))
        elif block_type in (6, 3, 2):
            yield _packet_block(block_type, body, order, interfaces, name, pos)
        pos += length


def _interface(body: bytes, order: str, name: str, offset: int) -> tuple[int, float]:
    broken = f"{name}: interface description block at offset {offset} is truncated"
    if len(body) < 8:
        raise PcapError(broken)
    linktype = struct.unpack_from(order + "H", body)[0]
    ticks = 1e6
    pos = 8
    while pos + 4 <= len(body):
        code, size = struct.unpack_from(order + "HH", body, pos)
        if code == 0:
            break
        if pos + 4 + size > len(body):
            raise PcapError(broken)
        if code == 9 and size >= 1:
            value = body[pos + 4]
            ticks = float(2 ** (value & 0x7F)) if value & 0x80 else float(10**value)
        pos += 4 + size + (-size % 4)
    return linktype, ticks


def _packet_block(
    block_type: int,
    body: bytes,
    order: str,
    interfaces: list[tuple[int, float]],
    name: str,
    offset: int,
) -> tuple[float, int, bytes]:
    if block_type == 3:  # simple packet block: interface 0, no timestamp
        if not interfaces or len(body) < 4:
            raise PcapError(f"{name}: simple packet block without interface at offset {offset}")
        caplen = min(struct.unpack_from(order + "I", body)[0], len(body) - 4)
        return 0.0, interfaces[0][0], body[4 : 4 + caplen]
    if len(body) < 20:
        raise PcapError(f"{name}: packet block truncated at offset {offset}")
    if block_type == 6:
        iface, high, low, caplen = struct.unpack_from(order + "IIII", body)
    else:
        iface, _, high, low, caplen = struct.unpack_from(order + "HHIII", body)
    if iface >= len(interfaces):
        raise PcapError(f"{name}: packet for undeclared interface {iface} at offset {offset}")
    if 20 + caplen > len(body):
        raise PcapError(f"{name}: packet data truncated at offset {offset}")
    linktype, ticks = interfaces[iface]
    return ((high << 32) | low) / ticks, linktype, body[20 : 20 + caplen]


def write_pcap(path: str | Path, frames: Iterable[tuple[float, bytes]], linktype: int = 1) -> int:
    """Write a little-endian microsecond pcap; returns the number of packets written."""
    count = 0
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, 262144, linktype))
        for timestamp, frame in frames:
            seconds = int(timestamp)
            micros = round((timestamp - seconds) * 1e6)
            if micros >= 1_000_000:
                seconds, micros = seconds + 1, micros - 1_000_000
            out.write(struct.pack("<IIII", seconds, micros, len(frame), len(frame)))
            out.write(frame)
            count += 1
    return count
