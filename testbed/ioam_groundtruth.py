"""Capture IOAM traces filled in by the Linux kernel, as ground truth for the decoders.

    sender (S) v0 ---- v1 router A v2 ---- v3 router B v4 ---- v5 receiver (R)
    fd00:1::1          node 1              node 2              fd00:3::2
                       v1: if 11 (IOAM on)  v3: if 21 (IOAM on)
                       v2: if 12            v4: if 22

The sender opens a UDP socket with IPV6_HOPOPTS carrying an empty pre-allocated trace (this
kernel lacks the ioam6 lwtunnel encap); A and B fill their slots; dumpcap on R's v5 records
the packets before R's own stack sees them. Network namespaces are named e2io<pid><role> and
are always deleted again.

Usage (root): python -m testbed.ioam_groundtruth --out FILE.pcapng [--packets 8]
              [--trace-type 0xfff000] [--namespace 123] [--oss] [--slots 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from collector.ioam.build import hopopts_for_socket

IPV6_HOPOPTS = 54  # linux/in6.h
ROUTERS = {  # role -> (node id, wide node id, {ifname: (if id, wide if id, ioam enabled)})
    "a": (1, 0x00A0000000000001, {"v1": (11, 0xA011, True), "v2": (12, 0xA012, False)}),
    "b": (2, 0x00B0000000000002, {"v3": (21, 0xB021, True), "v4": (22, 0xB022, False)}),
}
# iproute2 6.1 rejects some large decimal "wide" values: they are passed in hex.
NAMESPACE_DATA = {"a": (0xA1A1A1A1, 0x0A1A1A1A1A1A1A1A), "b": (0xB2B2B2B2, 0x0B2B2B2B2B2B2B2B)}
SCHEMA_ID, SCHEMA_DATA = 7, "e2ee"  # 4 bytes of opaque state per node


def sh(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"`{' '.join(args)}` failed: {done.stderr.strip()}")


def in_ns(ns: str, *args: str) -> None:
    sh("ip", "netns", "exec", ns, *args)


@contextlib.contextmanager
def topology(prefix: str, namespace_id: int, oss: bool) -> Iterator[dict[str, str]]:
    """Create the four namespaces and links; yield role -> netns name; always clean up."""
    names = {role: f"{prefix}{role}" for role in "sabr"}
    try:
        for name in names.values():
            sh("ip", "netns", "add", name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
        for (left, lif), (right, rif) in (
            (("s", "v0"), ("a", "v1")),
            (("a", "v2"), ("b", "v3")),
            (("b", "v4"), ("r", "v5")),
        ):
            sh(
                "ip",
                "link",
                "add",
                lif,
                "netns",
                names[left],
                "type",
                "veth",
                "peer",
                "name",
                rif,
                "netns",
                names[right],
            )
        _addresses(names)
        for role, (node_id, node_wide, interfaces) in ROUTERS.items():
            _router(names[role], role, node_id, node_wide, interfaces, namespace_id, oss)
        yield names
    finally:
        for name in names.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _addresses(names: dict[str, str]) -> None:
    plan = [
        ("s", "v0", "fd00:1::1/64"),
        ("a", "v1", "fd00:1::2/64"),
        ("a", "v2", "fd00:2::1/64"),
        ("b", "v3", "fd00:2::2/64"),
        ("b", "v4", "fd00:3::1/64"),
        ("r", "v5", "fd00:3::2/64"),
    ]
    for role, ifname, address in plan:
        sh("ip", "-n", names[role], "addr", "add", address, "dev", ifname, "nodad")
        sh("ip", "-n", names[role], "link", "set", ifname, "up")
    routes = [
        ("s", "default", "fd00:1::2"),
        ("a", "fd00:3::/64", "fd00:2::2"),
        ("b", "fd00:1::/64", "fd00:2::1"),
        ("r", "default", "fd00:3::1"),
    ]
    for role, prefix, via in routes:
        sh("ip", "-n", names[role], "-6", "route", "add", prefix, "via", via)


def _router(
    ns: str,
    role: str,
    node_id: int,
    node_wide: int,
    interfaces: dict[str, tuple[int, int, bool]],
    namespace_id: int,
    oss: bool,
) -> None:
    settings = [
        "net.ipv6.conf.all.forwarding=1",
        f"net.ipv6.ioam6_id={node_id}",
        f"net.ipv6.ioam6_id_wide={node_wide}",
    ]
    for ifname, (if_id, if_wide, enabled) in interfaces.items():
        settings += [
            f"net.ipv6.conf.{ifname}.ioam6_enabled={int(enabled)}",
            f"net.ipv6.conf.{ifname}.ioam6_id={if_id}",
            f"net.ipv6.conf.{ifname}.ioam6_id_wide={if_wide}",
        ]
    in_ns(ns, "sysctl", "-qw", *settings)
    data, wide = NAMESPACE_DATA[role]
    sh(
        "ip",
        "-n",
        ns,
        "ioam",
        "namespace",
        "add",
        str(namespace_id),
        "data",
        hex(data),
        "wide",
        hex(wide),
    )
    if oss:
        sh("ip", "-n", ns, "ioam", "schema", "add", str(SCHEMA_ID), SCHEMA_DATA)
        sh("ip", "-n", ns, "ioam", "namespace", "set", str(namespace_id), "schema", str(SCHEMA_ID))


def send(dst: str, hopopts_hex: str, count: int) -> None:
    """Runs inside the sender's namespace: UDP datagrams carrying the Hop-by-Hop header."""
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_HOPOPTS, bytes.fromhex(hopopts_hex))
        for index in range(count):
            sock.sendto(f"ioam ground truth {index}".encode(), (dst, 5000))
            time.sleep(0.05)


def capture(
    out: Path, *, packets: int, trace_type: int, namespace_id: int, oss: bool, slots: int
) -> None:
    """Build the topology, send, and let dumpcap on the receiver write `out` (pcapng)."""
    oss_words = 1 + len(SCHEMA_DATA) // 4 if oss else 0
    hopopts = hopopts_for_socket(namespace_id, trace_type, slots, oss_words=oss_words)
    with topology(f"e2io{os.getpid()}", namespace_id, oss) as names:
        dumpcap = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                names["r"],
                "dumpcap",
                "-q",
                "-i",
                "v5",
                "-f",
                "ip6[6] == 0 and ip6[40] == 17",
                "-c",
                str(packets),
                "-a",
                "duration:20",
                "-w",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(1.0)  # dumpcap has no readiness signal on stdout; it opens in well under 1 s
            in_ns(
                names["s"],
                sys.executable,
                __file__,
                "_send",
                "fd00:3::2",
                hopopts.hex(),
                str(packets * 2),
            )
            _, err = dumpcap.communicate(timeout=30)
        finally:
            if dumpcap.poll() is None:
                dumpcap.kill()
                dumpcap.wait()
        if dumpcap.returncode != 0 or not out.exists():
            raise SystemExit(f"dumpcap failed ({dumpcap.returncode}): {err.strip()}")


def main(argv: list[str]) -> None:
    if argv[:1] == ["_send"]:
        send(argv[1], argv[2], int(argv[3]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--packets", type=int, default=8)
    parser.add_argument("--trace-type", type=lambda s: int(s, 0), default=0xFFF000)
    parser.add_argument("--namespace", type=int, default=123)
    parser.add_argument("--oss", action="store_true", help="add bit 22 and an IOAM schema")
    parser.add_argument(
        "--slots", type=int, default=3, help="pre-allocated nodes (fewer than 2 overflows)"
    )
    args = parser.parse_args(argv)
    trace_type = args.trace_type | (0x000002 if args.oss else 0)
    capture(
        args.out,
        packets=args.packets,
        trace_type=trace_type,
        namespace_id=args.namespace,
        oss=args.oss,
        slots=args.slots,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
