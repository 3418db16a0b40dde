"""The apps' request/answer framing over UDP: one message = numbered datagrams of bounded size.

UDP keeps "packets the app sent" exact (one datagram = one IPv6 packet, no retransmissions, no
ACKs), so the end-to-end test can compare the agent's per-app packet counts with the apps' own.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from collector.ioam.build import hopopts_for_socket

TRACE_TYPE_NODE_ID = 0x800000
"""Trace-type bit 0 (most significant of 24): Hop_Lim(8) + node_id(24), 4 octets per hop."""
IPV6_HOPOPTS = getattr(socket, "IPV6_HOPOPTS", 54)
MAGIC = b"E2"
KIND_REQUEST = 1
KIND_ANSWER = 2
HEADER = struct.Struct("!2sBBIHH")
"""magic, kind, reserved, message id, chunk index, chunk count."""
UDP_HEADER_BYTES = 8
IPV6_HEADER_BYTES = 40


def encode_body(meta: dict[str, Any], payload: bytes = b"") -> bytes:
    head = json.dumps(meta, separators=(",", ":")).encode()
    return struct.pack("!I", len(head)) + head + payload


def decode_body(body: bytes) -> tuple[dict[str, Any], bytes]:
    (n,) = struct.unpack_from("!I", body)
    meta: dict[str, Any] = json.loads(body[4 : 4 + n])
    return meta, body[4 + n :]


def chunks(kind: int, message_id: int, body: bytes, datagram_bytes: int) -> list[bytes]:
    room = datagram_bytes - HEADER.size
    parts = [body[i : i + room] for i in range(0, len(body), room)] or [b""]
    return [
        HEADER.pack(MAGIC, kind, 0, message_id, i, len(parts)) + part
        for i, part in enumerate(parts)
    ]


def ipv6_length(datagram: bytes, hopopts_bytes: int) -> int:
    """What the agent counts for this datagram: 40 + Payload Length (extension headers included)."""
    return IPV6_HEADER_BYTES + hopopts_bytes + UDP_HEADER_BYTES + len(datagram)


@dataclass
class Assembler:
    """Collects chunks per (peer, message id); incomplete messages expire and are counted."""

    expire_seconds: float = 10.0
    partial: dict[tuple[Any, int], tuple[float, dict[int, bytes], int]] = field(
        default_factory=dict
    )
    expired: int = 0
    malformed: int = 0

    def add(
        self, peer: Any, datagram: bytes, now: float | None = None
    ) -> tuple[int, int, bytes] | None:
        """Returns (kind, message id, body) when `datagram` completes a message."""
        now = time.monotonic() if now is None else now
        if len(datagram) < HEADER.size:
            self.malformed += 1
            return None
        magic, kind, _, mid, index, count = HEADER.unpack_from(datagram)
        if magic != MAGIC or index >= count:
            self.malformed += 1
            return None
        key = (peer, mid)
        started, parts, _ = self.partial.get(key, (now, {}, count))
        parts[index] = datagram[HEADER.size :]
        if len(parts) < count:
            self.partial[key] = (started, parts, count)
            self._expire(now)
            return None
        self.partial.pop(key, None)
        return kind, mid, b"".join(parts[i] for i in range(count))

    def _expire(self, now: float) -> None:
        old = [k for k, (t, _, _) in self.partial.items() if now - t > self.expire_seconds]
        for k in old:
            del self.partial[k]
        self.expired += len(old)


def set_hopopts(sock: socket.socket, namespace_id: int, slots: int) -> int:
    """Make every packet of `sock` carry an empty pre-allocated IOAM trace (this kernel lacks the
    IOAM lwtunnel encap, so the sender inserts it and every forwarding namespace with
    ioam6_enabled fills one slot); returns the Hop-by-Hop header's length."""
    if slots % 2:
        raise ValueError("slots must be even so the header is a multiple of 8 octets")
    header = hopopts_for_socket(namespace_id, TRACE_TYPE_NODE_ID, slots)
    sock.setsockopt(socket.IPPROTO_IPV6, IPV6_HOPOPTS, header)
    return len(header)
