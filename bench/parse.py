"""IOAM parsing speed: the agent's hot path, the full decode, scapy and tshark on one capture.

Generates one 200k-packet pcap of realistic multi-hop traffic (2-6 hop traces of several trace
types and namespaces, some with DEX flow ids, a share inside GTP-U), then measures packets/s of:
  hot     fastparse.hot_parse as the agent's capture loop calls it (namespace, trace type,
          node ids, trace-id carriers, lengths), frames already in memory;
  full    fulldecode.decode_frame (`ioam decode --engine struct`), every field of every option;
          both find the options with the one walker in collector/ioam/walker.py;
  scapy   scapy dissection (Ether(frame), IOAM layers registered) of a 5,000-packet subset
          (scapy runs at a few thousand packets/s; the whole file would take minutes);
  tshark  `tshark -T fields` exporting the same fields from the whole file (wall time,
          process start included; its start-up alone is reported too);
  ebpf    the agent's eBPF program in the kernel (BPF_PROG_TEST_RUN with `repeat`, as the
          kernel times it), ns per packet over the distinct frames, beside hot's ns per packet;
          `ebpf_filtered_ns` is the same for an ARP frame the program rejects at once (the test
          harness and the program's entry). Needs root; null otherwise.
Prints the figures and the ratios hot/scapy, hot/tshark, full/scapy. Never asserts timings.

Usage: python bench/parse.py [--json] [--packets 200000] [--scapy-packets 5000]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.ioam import build
from collector.ioam.fastparse import hot_parse
from collector.ioam.fulldecode import decode_frame
from collector.ioam.pcapfile import read_packets, write_pcap

TSHARK_FIELDS = [
    "ipv6.opt.ioam.trace.ns",
    "ipv6.opt.ioam.trace.type",
    "ipv6.opt.ioam.trace.nodelen",
    "ipv6.opt.ioam.trace.remlen",
    "ipv6.opt.ioam.trace.node.id",
    "ipv6.flow",
    "ipv6.plen",
]
TRACE_TYPES = [0x800000, 0xC00000, 0xF00000, 0xC08000, 0xD00000]


def make_frame(rnd: random.Random) -> bytes:
    """One realistic packet: a 2-6 hop trace, maybe DEX, maybe inside GTP-U."""
    trace_type = rnd.choice(TRACE_TYPES)
    hops = rnd.randint(2, 6)
    nodes = [
        {
            "hop_limit": 64 - i,
            "node_id": 100 + rnd.randrange(50),
            "ingress_if_id": i,
            "egress_if_id": i + 1,
            "timestamp_seconds": 1_700_000_000 + i,
            "timestamp_fraction": rnd.randrange(2**32),
            "node_id_wide": rnd.randrange(2**56),
        }
        for i in range(hops)
    ]
    options = [
        build.trace_option(
            namespace_id=rnd.choice((1, 2, 123)),
            trace_type=trace_type,
            nodes=nodes,
            free_nodes=rnd.randint(0, 2),
        )
    ]
    if rnd.random() < 0.3:
        options.append(
            build.dex_option(
                namespace_id=1, flow_id=rnd.randrange(64), sequence_number=rnd.randrange(2**32)
            )
        )
    payload = bytes(rnd.randint(20, 1200))
    packet = build.ipv6(
        hop_by_hop=options,
        upper=build.udp(rnd.randint(1024, 65535), 8000, payload),
        flow_label=rnd.randrange(2**20),
    )
    if rnd.random() < 0.25:
        gtp = build.gtpu(packet, teid=rnd.randrange(2**32), extensions=[(0x85, b"\x10\x09")])
        return build.ethernet(build.ipv4(upper=build.udp(2152, 2152, gtp)), ethertype=0x0800)
    return build.ethernet(packet)


def generate(path: Path, packets: int) -> None:
    rnd = random.Random(7)
    pool = [make_frame(rnd) for _ in range(2000)]
    write_pcap(path, ((i * 1e-5, pool[i % len(pool)]) for i in range(packets)))


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def bench_hot(frames: list[tuple[int, bytes]]) -> float:
    parse = hot_parse
    counted = 0
    start = time.perf_counter()
    for linktype, frame in frames:
        result = parse(frame, linktype)
        if result[0] == 0:
            counted += result.ipv6_len + len(result.node_ids)
    return rate(len(frames), time.perf_counter() - start)


def bench_full(frames: list[tuple[int, bytes]]) -> float:
    start = time.perf_counter()
    for linktype, frame in frames:
        decode_frame(frame, linktype)
    return rate(len(frames), time.perf_counter() - start)


def bench_scapy(frames: list[tuple[int, bytes]]) -> float:
    from scapy.layers.l2 import Ether

    import collector.ioam.scapy_layers  # noqa: F401  (registers the IOAM options)

    start = time.perf_counter()
    for _, frame in frames:
        Ether(frame)
    return rate(len(frames), time.perf_counter() - start)


def bench_tshark(path: Path, packets: int, empty: Path) -> tuple[float, float]:
    """(packets/s over the whole file, start-up seconds measured on a one-packet file)."""
    tshark = shutil.which("tshark")
    if tshark is None:
        return float("nan"), float("nan")
    args = [tshark, "-n", "-T", "fields", *[x for f in TSHARK_FIELDS for x in ("-e", f)]]
    start = time.perf_counter()
    subprocess.run([*args, "-r", str(empty)], capture_output=True, check=True)
    startup = time.perf_counter() - start
    start = time.perf_counter()
    done = subprocess.run([*args, "-r", str(path)], capture_output=True, check=True)
    elapsed = time.perf_counter() - start
    assert done.stdout.count(b"\n") == packets, "tshark did not export every packet"
    return rate(packets, elapsed), startup


def bench_ebpf(frames: list[tuple[int, bytes]], repeat: int = 200) -> dict[str, object] | None:
    """Mean ns per run of the eBPF program on each distinct frame, and on a rejected frame."""
    from collector.agent import libbpf
    from collector.agent.ebpf import EbpfError, KernelCounters

    try:
        kernel = KernelCounters([], 8192)
    except EbpfError as exc:
        return {"error": str(exc).splitlines()[0]}
    try:
        kernel.set_points([1], [0], 512)  # BPF_PROG_TEST_RUN runs TC programs on loopback
        pool = list(dict.fromkeys(frame for _, frame in frames))
        times = [libbpf.ProgRun(kernel.prog_fd, frame)(repeat)[1] for frame in pool]
        arp = build.ethernet(bytes(28), ethertype=0x0806)
        filtered = libbpf.ProgRun(kernel.prog_fd, arp)(repeat * 10)[1]
    finally:
        kernel.close()
    return {
        "frames": len(pool),
        "repeat": repeat,
        "ns_per_packet": round(sum(times) / len(times), 1),
        "ebpf_filtered_ns": filtered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--packets", type=int, default=200_000)
    parser.add_argument("--scapy-packets", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="e2e-bench-") as tmp:
        path, empty = Path(tmp) / "ioam.pcap", Path(tmp) / "one.pcap"
        generate(path, args.packets)
        generate(empty, 1)
        frames = [(linktype, frame) for _, linktype, frame in read_packets(path)]
        hot = bench_hot(frames)
        full = bench_full(frames)
        scapy = bench_scapy(frames[: args.scapy_packets])
        tshark, tshark_startup = bench_tshark(path, len(frames), empty)
        ebpf = bench_ebpf(frames)
    hot_ns = 1e9 / hot
    ebpf_ns = ebpf.get("ns_per_packet") if ebpf else None
    result = {
        "packets": len(frames),
        "scapy_packets": min(args.scapy_packets, len(frames)),
        "python": sys.version.split()[0],
        "packets_per_second": {
            "hot": round(hot),
            "full": round(full),
            "scapy": round(scapy),
            "tshark": round(tshark),
        },
        "tshark_startup_seconds": round(tshark_startup, 3),
        "ns_per_packet": {"hot": round(hot_ns, 1), "ebpf": ebpf_ns},
        "ebpf": ebpf,
        "ratios": {
            "hot_vs_scapy": round(hot / scapy, 1),
            "hot_vs_tshark": round(hot / tshark, 2),
            "full_vs_scapy": round(full / scapy, 1),
            "full_vs_tshark": round(full / tshark, 2),
            "ebpf_vs_hot": round(hot_ns / ebpf_ns, 1) if isinstance(ebpf_ns, float) else None,
        },
        "goals": {"hot_vs_scapy_at_least": 100, "hot_vs_tshark_at_least": 5},
    }
    result["goals_met"] = hot / scapy >= 100 and hot / tshark >= 5
    if args.json:
        print(json.dumps(result))
        return
    for name, value in result["packets_per_second"].items():  # type: ignore[attr-defined]
        print(f"{name:>7}: {value:>10,} packets/s")
    for name, value in result["ratios"].items():  # type: ignore[attr-defined]
        print(f"{name:>14}: {value}x")
    subset = result["scapy_packets"]
    print(f"tshark start-up {tshark_startup:.2f} s; scapy measured on {subset} packets")


if __name__ == "__main__":
    main()
