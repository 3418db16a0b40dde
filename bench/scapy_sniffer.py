"""The scapy baseline for bench/capture.py: AsyncSniffer with an lfilter that keeps IPv6 packets
whose first extension header is Hop-by-Hop or Destination Options, counting per NodeID with the
project's own parser (so scapy does the capture and dissection, not the IOAM decode).

Protocol: prints "ready" once sniffing, then answers each stdin line with the packet count.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scapy.all import AsyncSniffer, IPv6, Packet

from collector.ioam.fastparse import hot_parse


def main(interface: str) -> None:
    count = 0
    per_node: dict[int, int] = {}

    def keep(p: Packet) -> bool:
        return IPv6 in p and p[IPv6].nh in (0, 60)

    def counted(p: Packet) -> None:
        nonlocal count
        count += 1
        for node in set(hot_parse(bytes(p)).node_ids):
            per_node[node] = per_node.get(node, 0) + 1

    sniffer = AsyncSniffer(iface=interface, lfilter=keep, prn=counted, store=False)
    sniffer.start()
    print("ready", flush=True)
    for _line in sys.stdin:
        print(count, flush=True)
    sniffer.stop()


if __name__ == "__main__":
    main(sys.argv[1])
