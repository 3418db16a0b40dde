"""Offline counting of a pcap/pcapng file, with the same filter and counting rule as live.

Each frame is cut down to its network header (as the SOCK_DGRAM socket sees it live), run
through the kernel prefilter program in the BPF interpreter, and counted by the same Tally.
Outgoing frames of Linux cooked captures are skipped like live. Idle expiry is off: a
capture's counts are its totals (the hard caps still apply).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from collector.agent import bpf, bpfvm
from collector.agent.state import AgentState
from collector.agent.tally import Tally
from collector.agent.traceid import TraceIdResolver
from collector.ioam.fastparse import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_RAW,
)
from collector.ioam.pcapfile import read_packets
from collector.settings import AgentSettings

_VLAN_TYPES = (0x8100, 0x88A8)


@dataclass(slots=True)
class ReplayStats:
    frames: int = 0
    filtered_out: int = 0
    outgoing: int = 0
    unsupported_linktype: int = 0


def network_layer(frame: bytes, linktype: int) -> tuple[bytes, int, int] | None:
    """(packet from the network header, EtherType, Linux pkttype) or None when unknown."""
    if linktype == LINKTYPE_ETHERNET:
        off, proto = 14, int.from_bytes(frame[12:14])
        while proto in _VLAN_TYPES and len(frame) >= off + 4:
            proto = int.from_bytes(frame[off + 2 : off + 4])
            off += 4
        return frame[off:], proto, 0
    if linktype == LINKTYPE_LINUX_SLL:
        return frame[16:], int.from_bytes(frame[14:16]), int.from_bytes(frame[0:2])
    if linktype == LINKTYPE_LINUX_SLL2:
        return frame[20:], int.from_bytes(frame[0:2]), frame[10] if len(frame) > 10 else 0
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV6):
        version = frame[0] >> 4 if frame else 0
        return frame, {4: 0x0800, 6: 0x86DD}.get(version, 0), 0
    return None


def replay(
    path: str | Path, settings: AgentSettings, direction: str, state: AgentState | None = None
) -> tuple[AgentState, ReplayStats]:
    """Count every frame of `path` (into `state`, adding to its counts, when given: its engine
    and reason are the caller's); raises PcapError for an unreadable or corrupt file."""
    if state is None:
        state = AgentState(settings)
        state.set_engine("pcap", "replay")
    tally = Tally(TraceIdResolver(settings.trace_ids), sample=settings.sample)
    program = bpf.ioam_filter(settings.snaplen)
    stats = ReplayStats()
    for t, linktype, frame in read_packets(path):
        stats.frames += 1
        cut = network_layer(frame, linktype)
        if cut is None:
            stats.unsupported_linktype += 1
            continue
        packet, proto, pkttype = cut
        if pkttype == bpf.PACKET_OUTGOING:
            stats.outgoing += 1
            continue
        snap = bpfvm.run(program, packet, protocol=proto, pkttype=pkttype)
        if snap == 0:
            stats.filtered_out += 1
            continue
        tally.count((packet[:snap],), LINKTYPE_RAW, direction, t)
        if len(tally) >= 4096:
            state.merge(tally.take())
    state.merge(tally.take())
    return state, stats
