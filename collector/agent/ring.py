"""An AF_PACKET socket with a TPACKET_V3 memory-mapped receive ring.

The kernel writes packets into blocks of a shared ring; user space walks a block's frames with
`struct` and hands the block back by writing its status word. No copy per packet beyond the
slice handed to the parser, and one poll per block instead of one system call per packet.
"""

from __future__ import annotations

import errno
import mmap
import select
import socket
import struct
from dataclasses import dataclass

from collector.agent import bpf

SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_RX_RING = 5
PACKET_STATISTICS = 6
PACKET_VERSION = 10
PACKET_FANOUT = 18
PACKET_IGNORE_OUTGOING = 23
TPACKET_V3 = 2
PACKET_FANOUT_HASH = 0
PACKET_FANOUT_FLAG_DEFRAG = 0x8000
ETH_P_ALL = 0x0003
TP_STATUS_KERNEL = 0
TP_STATUS_USER = 1

# tpacket_block_desc: version, offset_to_priv, then tpacket_hdr_v1: block_status, num_pkts,
# offset_to_first_pkt, ...
_BLOCK = struct.Struct("=8xIII")
# tpacket3_hdr: tp_next_offset @0, tp_snaplen @12, tp_mac @24; sockaddr_ll follows at 48 with
# sll_pkttype @58.
_FRAME = struct.Struct("=I8xI8xH32xB")


class CaptureError(RuntimeError):
    """Capture could not start; the message says why in operator terms."""


@dataclass(frozen=True, slots=True)
class RingConfig:
    block_size: int = 1 << 20
    block_count: int = 64
    snaplen: int = 512
    block_timeout_ms: int = 50
    """A block is handed to user space after this long even when not full (bounded latency)."""


class Ring:
    """One interface's capture socket; iterate `packets()` after `wait()` says data is there."""

    def __init__(
        self,
        interface: str,
        config: RingConfig,
        *,
        fanout_group: int | None = None,
        promiscuous: bool = False,
    ) -> None:
        self.interface = interface
        self.config = config
        self.sock = _open_socket(interface)
        try:
            self._setup(fanout_group, promiscuous)
        except BaseException:
            self.sock.close()
            raise
        self._poll = select.poll()
        self._poll.register(self.sock.fileno(), select.POLLIN | select.POLLERR)
        self._next_block = 0
        self.kernel_packets = 0
        self.kernel_drops = 0

    def _setup(self, fanout_group: int | None, promiscuous: bool) -> None:
        cfg = self.config
        sock = self.sock
        sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        bpf.attach(sock, bpf.ioam_filter(cfg.snaplen))
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        frame_size = 2048
        req = struct.pack(
            "=7I",
            cfg.block_size,
            cfg.block_count,
            frame_size,
            cfg.block_size // frame_size * cfg.block_count,
            cfg.block_timeout_ms,
            0,
            0,
        )
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
        size = cfg.block_size * cfg.block_count
        self.mm = mmap.mmap(sock.fileno(), size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        sock.bind((self.interface, ETH_P_ALL))  # CPython applies htons itself
        if fanout_group is not None:
            arg = (fanout_group & 0xFFFF) | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16)
            sock.setsockopt(SOL_PACKET, PACKET_FANOUT, struct.pack("=I", arg))
        if promiscuous:
            ifindex = socket.if_nametoindex(self.interface)
            mreq = struct.pack("=iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)

    def wait(self, timeout_ms: int) -> bool:
        """True when the next block is ready (or already was)."""
        if self._ready():
            return True
        try:
            self._poll.poll(timeout_ms)
        except InterruptedError:
            return False
        return self._ready()

    def _ready(self) -> bool:
        status = _BLOCK.unpack_from(self.mm, self._next_block * self.config.block_size)[0]
        return bool(status & TP_STATUS_USER)

    def read_block(self) -> list[bytes] | None:
        """The packets of the next ready block (copied out), or None when none is ready.

        The block goes back to the kernel before returning. Outgoing packets are skipped here
        as well, in case a kernel ignores PACKET_IGNORE_OUTGOING and the filter's check.
        """
        mm = self.mm
        base = self._next_block * self.config.block_size
        status, count, first = _BLOCK.unpack_from(mm, base)
        if not status & TP_STATUS_USER:
            return None
        out = []
        off = base + first
        unpack = _FRAME.unpack_from
        for _ in range(count):
            nxt, snap, mac, pkttype = unpack(mm, off)
            if pkttype != bpf.PACKET_OUTGOING:
                out.append(mm[off + mac : off + mac + snap])
            off += nxt
        struct.pack_into("=I", mm, base + 8, TP_STATUS_KERNEL)
        self._next_block = (self._next_block + 1) % self.config.block_count
        return out

    def read_stats(self) -> tuple[int, int]:
        """Accumulate PACKET_STATISTICS (the kernel resets them on each read)."""
        raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)
        packets, drops, _freeze = struct.unpack("=3I", raw)
        self.kernel_packets += packets
        self.kernel_drops += drops
        return self.kernel_packets, self.kernel_drops

    def close(self) -> None:
        self.mm.close()
        self.sock.close()


def check_capture(interface: str) -> None:
    """Fail early, with the reason, when `interface` cannot be captured on."""
    _open_socket(interface).close()


def _open_socket(interface: str) -> socket.socket:
    try:
        socket.if_nametoindex(interface)
    except OSError:
        raise CaptureError(f"interface {interface!r} does not exist on this host") from None
    try:
        # protocol 0: no packet is queued before the filter and the ring exist; bind() arms it
        return socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
    except PermissionError:
        raise CaptureError(
            "opening a packet socket needs CAP_NET_RAW (run as root or grant the capability)"
        ) from None
    except OSError as exc:
        if exc.errno == errno.EPERM:
            raise CaptureError("opening a packet socket needs CAP_NET_RAW") from None
        raise
