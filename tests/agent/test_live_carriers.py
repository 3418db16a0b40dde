"""Live, for both engines: the TraceID carriers (DEX flow id, flow label, static rules, wide
NodeIDs), VLAN-tagged frames and IPv6 fragments are counted as the counting rule says. The
expectations are written out here from the frames sent, not computed by the agent's code."""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import pytest

from collector.ioam import build
from tests.agentproc import flows, run_agent

pytestmark = pytest.mark.netns
REPEAT = 20
SETTINGS = """
agent:
  trace_ids:
    - {namespace_id: 600, carrier: dex_flow_id}
    - {namespace_id: 601, carrier: flow_label}
    - namespace_id: 602
      carrier: static
      static:
        - {trace_id: 7001, dst_port: 8000}
        - {trace_id: 7002, src: "2001:db8::/32"}
    - {namespace_id: 603, node_id_field: wide}
"""
Key = tuple[int, str, int]


def trace(ns: int, *nodes: int, trace_type: int = 0x800000) -> bytes:
    return build.trace_option(
        namespace_id=ns,
        trace_type=trace_type,
        nodes=[{"node_id": n & 0xFFFFFF, "node_id_wide": n} for n in nodes],
    )


def qinq(packet: bytes) -> bytes:
    """Two VLAN tags (802.1ad outside, 802.1Q inside) before IPv6."""
    tags = struct.pack("!HHHH", 0x88A8, 100, 0x8100, 200)
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01" + tags + b"\x86\xdd" + packet


def fragments(ns: int, node: int) -> list[bytes]:
    """One UDP datagram in two IPv6 fragments, each with the trace in its Hop-by-Hop header."""
    segment = build.udp(4000, 8000, bytes(64))[1]
    first = struct.pack("!BBHI", 17, 0, 0 << 3 | 1, 0xABCD) + segment[:48]
    second = struct.pack("!BBHI", 17, 0, 6 << 3 | 0, 0xABCD) + segment[48:]
    return [build.ipv6(upper=(44, body), hop_by_hop=[trace(ns, node)]) for body in (first, second)]


def traffic(engine: str) -> tuple[list[bytes], Counter[tuple[Key, str]]]:
    """Frames to send and the (namespace, TraceID, NodeID) packets and bytes they must add."""
    frames: list[bytes] = []
    want: Counter[tuple[Key, str]] = Counter()

    def send(packet: bytes, keys: list[Key], frame: bytes | None = None) -> None:
        frames.append(build.ethernet(packet) if frame is None else frame)
        for key in keys:
            want[(key, "packets")] += 1
            want[(key, "bytes")] += len(packet)

    udp = build.udp(4000, 8000, b"x" * 30)
    dex = build.dex_option(namespace_id=600, flow_id=4242, sequence_number=1, linux_form=True)
    for _ in range(REPEAT):
        send(build.ipv6(upper=udp, hop_by_hop=[trace(600, 21, 22), dex]),
             [(600, "4242", 21), (600, "4242", 22)])  # fmt: skip
        send(build.ipv6(upper=udp, hop_by_hop=[trace(600, 21)]), [(600, "other", 21)])
        send(build.ipv6(upper=udp, flow_label=0x12345, hop_by_hop=[trace(601, 31)]),
             [(601, str(0x12345), 31)])  # fmt: skip
        send(build.ipv6(upper=udp, hop_by_hop=[trace(602, 41)]), [(602, "7001", 41)])
        other_port = build.udp(4000, 9000, b"y")
        send(build.ipv6(upper=other_port, hop_by_hop=[trace(602, 41)]), [(602, "7002", 41)])
        send(build.ipv6(src="2001:dead::1", upper=other_port, hop_by_hop=[trace(602, 41)]),
             [(602, "other", 41)])  # fmt: skip
        wide = 0x12_3456_789A
        send(build.ipv6(upper=udp, hop_by_hop=[trace(603, wide, trace_type=0x808000)]),
             [(603, "603", wide)])  # fmt: skip
        tagged = build.ipv6(upper=udp, hop_by_hop=[trace(604, 51)])
        send(tagged, [(604, "604", 51)], build.ethernet(tagged, vlan=10))
        # two tags: the kernel strips the outer one; only the eBPF engine reads past the inner
        send(tagged, [(605, "605", 61)] if engine == "ebpf" else [],
             qinq(build.ipv6(upper=udp, hop_by_hop=[trace(605, 61)])))  # fmt: skip
        for fragment in fragments(606, 71):  # each fragment is its own packet
            send(fragment, [(606, "606", 71)])
    return frames, want


def test_carriers_vlan_and_fragments(veth_ns: str, engine: str, tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text(SETTINGS)
    frames, want = traffic(engine)
    text = run_agent(veth_ns, frames, "--engine", engine, "--config", str(config))
    got: Counter[tuple[Key, str]] = Counter()
    for (ns, trace_id, node), (packets, size) in flows(text).items():
        got[((ns, trace_id, node), "packets")] = int(packets)
        got[((ns, trace_id, node), "bytes")] = int(size)
    assert got == want
