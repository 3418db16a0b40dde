"""A user-space GTP-U data plane (3GPP TS 29.281) on a TUN device: the CU-UP or the UPF.

Packets the kernel routes into the TUN are wrapped in a G-PDU (8-byte header, TEID of the peer)
and sent over UDP 2152 to the peer; G-PDUs from the peer are checked and their inner packet is
written back into the TUN, where the kernel (ioam6_enabled on the TUN) stamps this node's ID.
Doing this in user space makes the NF spend real CPU time that the power model can measure.

Run inside the NF's namespace:
    python -m testbed.gtpu --tun gtp0 --local ADDR --peer ADDR --tx-teid N --rx-teid N
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import select
import signal
import socket
import struct
from pathlib import Path
from typing import Any

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
GTPU_FLAGS = 0x30
"""Version 1, protocol type GTP, no E/S/PN fields: the mandatory 8-byte header only."""
GTPU_GPDU = 0xFF


def encapsulate(packet: bytes, teid: int) -> bytes:
    return struct.pack("!BBHI", GTPU_FLAGS, GTPU_GPDU, len(packet), teid) + packet


def decapsulate(datagram: bytes, teid: int) -> bytes | None:
    """The inner packet of a G-PDU for `teid`, or None for anything else (counted by the caller).

    Optional fields (E, S or PN set) add 4 bytes; extension headers are skipped by their length.
    """
    if len(datagram) < 8:
        return None
    flags, msg_type, length, rx_teid = struct.unpack_from("!BBHI", datagram)
    if flags >> 5 != 1 or msg_type != GTPU_GPDU or rx_teid != teid or len(datagram) < 8 + length:
        return None
    offset = 8
    if flags & 0x07:
        if len(datagram) < 12:
            return None
        next_ext = datagram[11]
        offset = 12
        while next_ext:
            if offset >= len(datagram) or datagram[offset] == 0:
                return None
            ext_len = datagram[offset] * 4
            next_ext = datagram[offset + ext_len - 1]
            offset += ext_len
    return datagram[offset : 8 + length]


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def serve(args: argparse.Namespace) -> dict[str, Any]:
    tun = open_tun(args.tun)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind((args.local, args.port))
    stats = {"encapsulated": 0, "decapsulated": 0, "malformed": 0}
    stop = False

    def _stop(_sig: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop:
        try:
            ready, _, _ = select.select([tun, sock.fileno()], [], [], 0.5)
        except InterruptedError:
            continue
        if tun in ready:
            packet = os.read(tun, 65535)
            sock.sendto(encapsulate(packet, args.tx_teid), (args.peer, args.port))
            stats["encapsulated"] += 1
        if sock.fileno() in ready:
            datagram, _ = sock.recvfrom(65535)
            inner = decapsulate(datagram, args.rx_teid)
            if inner is None:
                stats["malformed"] += 1
            else:
                os.write(tun, inner)
                stats["decapsulated"] += 1
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tun", default="gtp0")
    parser.add_argument("--local", required=True)
    parser.add_argument("--peer", required=True)
    parser.add_argument("--port", type=int, default=2152)
    parser.add_argument("--tx-teid", type=lambda s: int(s, 0), required=True)
    parser.add_argument("--rx-teid", type=lambda s: int(s, 0), required=True)
    parser.add_argument("--stats", type=Path)
    args = parser.parse_args()
    stats = serve(args)
    if args.stats:
        args.stats.write_text(json.dumps(stats), encoding="utf-8")


if __name__ == "__main__":
    main()
