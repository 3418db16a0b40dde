"""Acceptance: the kernel fills IOAM traces along a chain of namespaces; at the receiver the
eBPF engine, the AF_PACKET engine (both running at once on the same interface) and tshark count
exactly what was sent, per application and node, and a replay of tshark's capture gives the live
counters.

    snd --- r1 --- r2 --- r3 --- rcv        (r1..r3 stamp NodeIDs 11, 12, 13)
    app A: IOAM namespace 100, 4 pre-allocated slots (3 used)
    app B: IOAM namespace 200, 2 slots: r3 finds no room and sets Overflow
    app C: IOAM namespace 300, 4 slots, GTP-U: UDP to port 2152 carrying G-PDUs, the trace in
           the outer (transport) IPv6 header as on an N3/N9 link
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from collector.agent.scrape import parse_agent_metrics
from collector.ioam import build
from collector.ioam.build import hopopts_for_socket
from tests.agentproc import Agent, Tshark
from tests.conftest import ROOT, need_binary, need_root
from tests.netns import inside, namespaces, sh, veth

pytestmark = pytest.mark.netns
TRACE_TYPE = 0x800000  # bit 0: hop limit + 24-bit node id
ROUTERS = {"r1": 11, "r2": 12, "r3": 13}
APPS = {100: 4, 200: 2, 300: 4}  # namespace -> pre-allocated slots
GTP_APP = 300
RCV = "2001:db8:4::2"


def build_chain(names: dict[str, str]) -> None:
    hops = ["snd", "r1", "r2", "r3", "rcv"]
    for i in range(4):
        a, b = names[hops[i]], names[hops[i + 1]]
        veth(a, "dn0", b, "up0")
        sh("ip", "-6", "addr", "add", f"2001:db8:{i + 1}::1/64", "dev", "dn0", "nodad", ns=a)
        sh("ip", "-6", "addr", "add", f"2001:db8:{i + 1}::2/64", "dev", "up0", "nodad", ns=b)
    sh("ip", "-6", "route", "add", "default", "via", "2001:db8:1::2", ns=names["snd"])
    sh("ip", "-6", "route", "add", "default", "via", "2001:db8:4::1", ns=names["rcv"])
    for i, router in enumerate(("r1", "r2", "r3")):
        ns = names[router]
        sh("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1", ns=ns)
        sh("ip", "-6", "route", "add", "2001:db8:4::/64", "via", f"2001:db8:{i + 2}::2", ns=ns)
        sh("ip", "-6", "route", "add", "2001:db8:1::/64", "via", f"2001:db8:{i + 1}::1", ns=ns)
        for j in range(1, i + 1):
            sh("ip", "-6", "route", "add", f"2001:db8:{j}::/64", "via", f"2001:db8:{i + 1}::1",
               ns=ns, check=False)  # fmt: skip
        sh("sysctl", "-qw", f"net.ipv6.ioam6_id={ROUTERS[router]}", ns=ns)
        sh("sysctl", "-qw", "net.ipv6.conf.up0.ioam6_enabled=1", ns=ns)
        sh("sysctl", "-qw", f"net.ipv6.conf.up0.ioam6_id={ROUTERS[router]}", ns=ns)
        for app in APPS:
            sh("ip", "ioam", "namespace", "add", str(app), ns=ns)
    for _ in range(50):  # neighbours warm up before anything is counted
        if ping(names["snd"]):
            return
    raise AssertionError("no route through the chain")


def ping(snd_ns: str) -> bool:
    cmd = ["ip", "netns", "exec", snd_ns, "ping", "-6", "-c1", "-W1", RCV]
    return subprocess.run(cmd, capture_output=True).returncode == 0


def warm_up(snd_ns: str, pcap: Path) -> None:
    """tshark says "Capturing on" before dumpcap captures: ping until the file grows."""
    for _ in range(100):
        ping(snd_ns)
        if pcap.exists() and pcap.stat().st_size > 24:
            return
        time.sleep(0.1)
    raise AssertionError("tshark captured nothing")


def g_pdu(i: int) -> bytes:
    """A G-PDU carrying a small inner IPv6/UDP packet (no IOAM of its own)."""
    inner = build.ipv6(upper=build.udp(5000, 6000, bytes(i % 200)))
    return build.gtpu(inner, teid=0x300 + i % 4)


def send(snd_ns: str, counts: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Send UDP with an empty pre-allocated trace per app; returns app -> (packets, bytes)."""

    sent: dict[int, tuple[int, int]] = {}
    with inside(snd_ns):
        socks = {}
        for app, slots in APPS.items():
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.setsockopt(
                socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, hopopts_for_socket(app, TRACE_TYPE, slots)
            )
            socks[app] = s
    try:
        for app, n in counts.items():
            hbh_len = len(hopopts_for_socket(app, TRACE_TYPE, APPS[app]))
            total = 0
            for i in range(n):
                payload = g_pdu(i) if app == GTP_APP else bytes(10 + (i * 37) % 300)
                socks[app].sendto(payload, (RCV, 2152 if app == GTP_APP else 9999))
                total += 40 + hbh_len + 8 + len(payload)
                if i % 50 == 49:
                    time.sleep(0.002)  # stay far below the ring's capacity
            sent[app] = (n, total)
    finally:
        for s in socks.values():
            s.close()
    return sent


def tshark_counts(pcap: Path) -> Counter[tuple[int, int, str]]:
    """Per (namespace, node): packets and bytes, decoded by tshark with the counting rule."""
    tshark = need_binary("tshark")
    out = subprocess.run(
        [tshark, "-r", str(pcap), "-T", "fields", "-E", "aggregator=;",
         "-e", "ipv6.opt.ioam.trace.ns", "-e", "ipv6.opt.ioam.trace.node.id", "-e", "ipv6.plen",
         "-Y", "ipv6.opt.ioam.trace.ns"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    counts: Counter[tuple[int, int, str]] = Counter()
    for line in out.stdout.splitlines():
        ns, nodes, plens = line.split("\t")
        plen = plens.split(";")[0]  # the packet carrying the trace; a G-PDU's inner comes next
        for node in {int(n, 0) for n in nodes.split(";") if n}:  # tshark prints hex
            counts[(int(ns, 0), node, "packets")] += 1
            counts[(int(ns, 0), node, "bytes")] += 40 + int(plen, 0)
    return counts


def agent_counts(text: str) -> Counter[tuple[int, int, str]]:
    counts: Counter[tuple[int, int, str]] = Counter()
    for c in parse_agent_metrics(text, 0.0).traffic:
        assert c.direction == "uplink" and c.trace_id == str(c.namespace_id)
        counts[(c.namespace_id, c.node_id, "packets")] += int(c.packets_total)
        counts[(c.namespace_id, c.node_id, "bytes")] += int(c.bytes_total)
    return counts


def results(text: str) -> dict[str, float]:
    return {
        line.split('result="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("e2e_energy_agent_packets_total{")
    }


def test_kernel_traces_counted_alike_by_both_engines_tshark_and_replay(tmp_path: Path) -> None:
    need_root()
    need_binary("tshark")
    need_binary("ethtool")
    tags = ["snd", "r1", "r2", "r3", "rcv"]
    with namespaces(*tags) as ns_list:
        names = dict(zip(tags, ns_list, strict=True))
        build_chain(names)
        pcap = tmp_path / "rcv.pcap"
        capture = Tshark(names["rcv"], "up0", str(pcap))
        warm_up(names["snd"], pcap)
        agents = {
            engine: Agent(names["rcv"], "--interface", "up0:uplink", "--engine", engine)
            for engine in ("ebpf", "afpacket")
        }
        try:
            sent = send(names["snd"], {100: 700, 200: 300, 300: 400})
            time.sleep(1.0)  # blocks retire after 50 ms, tallies flush every 250 ms
            live = {engine: agent.scrape() for engine, agent in agents.items()}
        finally:
            for agent in agents.values():
                assert agent.stop() == 0, "".join(agent.err)
            capture.stop()
    for engine, agent in agents.items():
        assert f'e2e_energy_agent_info{{engine="{engine}"' in live[engine]
        assert "e2e-energy agent: stopped" in "".join(agent.err)

    expected: Counter[tuple[int, int, str]] = Counter()
    for app, nodes in ((100, (11, 12, 13)), (200, (11, 12)), (300, (11, 12, 13))):
        for node in nodes:
            expected[(app, node, "packets")] = sent[app][0]
            expected[(app, node, "bytes")] = sent[app][1]
    for engine in live:
        assert agent_counts(live[engine]) == expected, engine
        assert results(live[engine])["overflow"] == sent[200][0]
        assert results(live[engine])["parsed"] == sent[100][0] + sent[300][0]
        assert results(live[engine])["malformed"] == 0
    assert tshark_counts(pcap) == expected

    replayed = subprocess.run(
        [sys.executable, "-m", "collector", "agent", "--pcap", str(pcap), "--once"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert agent_counts(replayed.stdout) == expected
    for result in ("parsed", "overflow", "malformed"):
        assert results(replayed.stdout)[result] == results(live["ebpf"])[result]
