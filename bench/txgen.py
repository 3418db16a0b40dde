"""The benchmark's traffic generator: sender processes each driving a PACKET_TX_RING.

Frames are written into the memory-mapped ring once; sending a batch is flipping status words
and one send() call, so Python touches 4 bytes per packet and the kernel does the rest. Each
process paces itself to its share of the offered rate in 1 ms steps.
"""

from __future__ import annotations

import mmap
import multiprocessing
import socket
import struct
import time
from collections.abc import Sequence

SOL_PACKET = 263
PACKET_VERSION = 10
PACKET_TX_RING = 13
PACKET_QDISC_BYPASS = 20
TPACKET_V2 = 1
TP_STATUS_SEND_REQUEST = 1
FRAME_SIZE = 2048
FRAMES = 4096
DATA_OFFSET = 32  # TPACKET_ALIGN(sizeof(struct tpacket2_hdr))
_SEND = struct.pack("=I", TP_STATUS_SEND_REQUEST)


def _open(interface: str, frames: Sequence[bytes]) -> tuple[socket.socket, mmap.mmap]:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
    sock.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
    req = struct.pack("=4I", FRAME_SIZE * 64, FRAMES // 64, FRAME_SIZE, FRAMES)
    sock.setsockopt(SOL_PACKET, PACKET_TX_RING, req)
    mm = mmap.mmap(sock.fileno(), FRAME_SIZE * FRAMES, mmap.MAP_SHARED)
    sock.bind((interface, 0))
    for i in range(FRAMES):
        frame = frames[i % len(frames)]
        base = i * FRAME_SIZE
        struct.pack_into("=III", mm, base, 0, len(frame), len(frame))
        mm[base + DATA_OFFSET : base + DATA_OFFSET + len(frame)] = frame
    return sock, mm


def _send_loop(
    sock: socket.socket, mm: mmap.mmap, rate: float, duration: float, start_at: float
) -> int:
    """Send at `rate` packets/s (0 = as fast as possible) for `duration` s; returns the count."""
    slot = 0
    sent = 0
    while time.time() < start_at:
        time.sleep(0.001)
    t0 = time.monotonic()
    end = t0 + duration
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = FRAMES // 2 if rate <= 0 else min(int((now - t0) * rate) - sent, FRAMES // 2)
        if due <= 0:
            time.sleep(0.0005)
            continue
        queued = 0
        for _ in range(due):
            base = slot * FRAME_SIZE
            if mm[base] != 0:  # still owned by the kernel: flush what we have
                break
            mm[base : base + 4] = _SEND
            slot = (slot + 1) % FRAMES
            queued += 1
        if queued:
            sock.send(b"")
            sent += queued
    while sent and any(mm[i * FRAME_SIZE] for i in range(FRAMES)):
        sock.send(b"")
        time.sleep(0.001)
    return sent


def _sender(
    interface: str,
    frames: Sequence[bytes],
    rate: float,
    duration: float,
    start_at: float,
    out: multiprocessing.SimpleQueue,  # type: ignore[type-arg]
) -> None:
    sock, mm = _open(interface, frames)
    try:
        out.put(_send_loop(sock, mm, rate, duration, start_at))
    finally:
        mm.close()
        sock.close()


def generate(
    interface: str, frames: Sequence[bytes], *, rate: float, duration: float, processes: int
) -> int:
    """Run `processes` senders for `duration` seconds at `rate` in total; returns packets sent.

    Must be called from inside the generator's network namespace (the sockets are opened
    by forked children, which inherit it).
    """
    ctx = multiprocessing.get_context("fork")
    out = ctx.SimpleQueue()
    start_at = time.time() + 0.2
    procs = [
        ctx.Process(
            target=_sender,
            args=(interface, frames, rate / processes, duration, start_at, out),
        )
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return sum(out.get() for _ in procs)
