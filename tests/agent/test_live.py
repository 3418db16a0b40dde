"""Acceptance on crafted traffic sent raw over veth, for both engines (eBPF and AF_PACKET):
GTP-U-encapsulated IOAM is counted like plain IOAM, malformed and non-IOAM packets are counted by
result (never fatal), AF_PACKET's workers and sampling count the same totals, and replaying the
same frames from a pcap gives the live counters. test_live_carriers.py has the TraceID carriers,
VLAN tags and fragments.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from collector.ioam import build
from collector.ioam.pcapfile import write_pcap
from tests.agentproc import Agent, flows, run_agent, value
from tests.conftest import ROOT, need_binary, need_root

pytestmark = pytest.mark.netns
TT = 0x800000
NODES = [{"node_id": 3, "hop_limit": 61}, {"node_id": 2, "hop_limit": 62}, {"node_id": 1}]
PDU_SESSION = (0x85, b"\x10\x09")


def inner(ns: int, i: int, nodes: list[dict[str, int]] = NODES, flags: int = 0) -> bytes:
    option = build.trace_option(namespace_id=ns, trace_type=TT, nodes=nodes, flags=flags)
    return build.ipv6(upper=build.udp(4000, 8000, bytes(20 + i % 97)), hop_by_hop=[option])


def eth4(packet: bytes) -> bytes:
    return build.ethernet(packet, ethertype=0x0800)


def traffic() -> tuple[list[bytes], dict[str, int]]:
    """Frames to send, and how many of each kind (namespaces 500-505 are the kinds)."""
    frames: list[bytes] = []
    kinds: Counter[str] = Counter()
    for i in range(120):
        frames.append(build.ethernet(inner(500, i)))  # plain
        gtp = build.gtpu(inner(501, i), teid=9)
        frames.append(eth4(build.ipv4(upper=build.udp(2152, 2152, gtp))))
        gtp6 = build.gtpu(inner(502, i))
        frames.append(build.ethernet(build.ipv6(upper=build.udp(2152, 2152, gtp6))))
        gtpx = build.gtpu(inner(503, i), extensions=[PDU_SESSION])
        frames.append(eth4(build.ipv4(upper=build.udp(2152, 2152, gtpx))))
        frames.append(build.ethernet(inner(504, i, nodes=[{"node_id": 7}, {"node_id": 8}] * 2)))
        frames.append(build.ethernet(inner(505, i, flags=0x8)))  # Overflow set
        kinds.update(["plain"] * 6)
    broken = build.trace_option(namespace_id=506, trace_type=TT, nodes=NODES, remaining_len=50)
    for i in range(30):
        frames.append(
            build.ethernet(build.ipv6(upper=build.udp(1, 2, bytes(i)), hop_by_hop=[broken]))
        )
        frames.append(build.ethernet(inner(500, i)[:50]))  # truncated inside the trace
        frames.append(build.ethernet(inner(500, i)[:20]))  # truncated IPv6 header
        frames.append(build.ethernet(build.ipv6(upper=build.udp(1, 2), hop_by_hop=[])))
        frames.append(build.ethernet(build.ipv6(upper=build.udp(1, 2, bytes(i)))))  # filtered
        frames.append(eth4(build.ipv4(upper=build.udp(53, 53, bytes(i)))))  # filtered
        kinds.update(["malformed", "malformed", "malformed", "no_ioam", "filtered", "filtered"])
    return frames, dict(kinds)


@pytest.fixture(scope="module")
def live_single(veth_ns: str, engine: str) -> str:
    return run_agent(veth_ns, traffic()[0], "--engine", engine)


def test_gtpu_counted_like_plain(live_single: str) -> None:
    f = flows(live_single)
    for node in (1, 2, 3):
        plain = f[(500, "500", node)]
        assert plain[0] == 120  # the truncated copies of 500 are malformed, not counted
        for ns in (501, 502, 503):
            assert f[(ns, str(ns), node)] == plain
    outer = [ln for ln in live_single.splitlines() if ln.startswith("e2e_energy_ioam_outer_bytes")]
    by_ns = {int(ln.split('namespace_id="')[1].split('"')[0]) for ln in outer}
    assert by_ns == {501, 502, 503}
    # outer IP packet per frame, by hand: IPv4 20 or IPv6 40, UDP 8, GTP-U 8 (+ 4 for the
    # sequence/N-PDU/next-type word and 4 for the PDU session container of namespace 503)
    header = {501: 20 + 8 + 8, 502: 40 + 8 + 8, 503: 20 + 8 + 8 + 4 + 4}
    expected = {ns: sum(h + len(inner(ns, i)) for i in range(120)) for ns, h in header.items()}
    for ns, total in expected.items():
        for node in (1, 2, 3):  # each node of the trace gets the packet's outer bytes once
            line = f'namespace_id="{ns}"'
            got = [ln for ln in outer if line in ln and f'node_id="{node}"' in ln]
            assert [float(ln.rsplit(" ", 1)[1]) for ln in got] == [total], (ns, node)
    summed = value(live_single, 'e2e_energy_ioam_outer_bytes_total{direction="downlink",k8s_node')
    assert summed == 3 * sum(expected.values())


def test_repeated_node_counts_once_and_overflow_counted(live_single: str) -> None:
    f = flows(live_single)
    size = sum(len(inner(504, i, nodes=[{"node_id": 7}, {"node_id": 8}] * 2)) for i in range(120))
    assert f[(504, "504", 7)] == (120, size)
    assert f[(504, "504", 8)] == (120, size)
    assert f[(505, "505", 1)][0] == 120
    assert value(live_single, 'e2e_energy_agent_packets_total{k8s_node="') == 120 * 6 + 30 * 4


def test_results_by_kind(live_single: str) -> None:
    _frames, kinds = traffic()
    for name, count in (("malformed", kinds["malformed"]), ("no_ioam", kinds["no_ioam"]),
                        ("overflow", 120), ("parsed", 120 * 5)):  # fmt: skip
        lines = [ln for ln in live_single.splitlines() if f'result="{name}"' in ln]
        assert float(lines[0].rsplit(" ", 1)[1]) == count, name
    every_result = value(live_single, 'e2e_energy_agent_packets_total{k8s_node="')
    assert every_result == sum(v for k, v in kinds.items() if k != "filtered")
    assert value(live_single, "e2e_energy_agent_kernel_drops_total") == 0


def test_two_workers_count_the_same(veth_ns: str, live_single: str) -> None:
    """AF_PACKET with two fanout workers counts what either engine counts alone."""
    text = run_agent(veth_ns, traffic()[0], "--engine", "afpacket", "--workers", "2")
    assert flows(text) == flows(live_single)
    assert value(text, "e2e_energy_agent_packets_total") == value(
        live_single, "e2e_energy_agent_packets_total"
    )


def test_sampling_scales(veth_ns: str) -> None:
    frames = [build.ethernet(inner(500, 0)) for _ in range(400)]
    text = run_agent(veth_ns, frames, "--engine", "afpacket", "--sample", "4")
    assert flows(text)[(500, "500", 2)] == (400, 400 * len(inner(500, 0)))
    assert 'e2e_energy_agent_sampling_ratio{k8s_node="' in text
    assert value(text, "e2e_energy_agent_sampling_ratio") == 0.25


def test_replay_equals_live(tmp_path: Path, live_single: str) -> None:
    frames, _kinds = traffic()
    pcap = tmp_path / "sent.pcap"
    write_pcap(pcap, [(1.0 + i * 1e-4, f) for i, f in enumerate(frames)])
    out = subprocess.run(
        [sys.executable, "-m", "collector", "agent", "--pcap", str(pcap), "--once",
         "--direction", "downlink"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert flows(out.stdout) == flows(live_single)
    for name in ("parsed", "overflow", "malformed", "no_ioam"):
        key = 'e2e_energy_agent_packets_total{k8s_node="'
        live = [ln for ln in live_single.splitlines() if ln.startswith(key) and name in ln]
        replayed = [ln for ln in out.stdout.splitlines() if ln.startswith(key) and name in ln]
        assert live[0].rsplit(" ", 1)[1] == replayed[0].rsplit(" ", 1)[1], name
    assert "60 filtered out" in out.stderr
    assert 'e2e_energy_agent_info{engine="pcap"' in out.stdout


def cli(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "collector", "agent", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_missing_interface_is_a_clear_error() -> None:
    out = cli("--interface", "nosuch0", "--listen", "127.0.0.1:0")
    assert out.returncode == 1
    assert "interface 'nosuch0' does not exist" in out.stderr


def test_missing_cap_net_raw_is_named() -> None:
    need_root()
    drop = ("setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw")
    out = cli("--interface", "lo", "--engine", "afpacket", "--listen", "127.0.0.1:0", prefix=drop)
    assert out.returncode == 1
    assert "CAP_NET_RAW" in out.stderr


def test_unreadable_pcap_is_a_clear_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pcap"
    garbage.write_bytes(b"not a capture at all")
    for path in (garbage, tmp_path / "absent.pcap"):
        out = cli("--pcap", str(path), "--once")
        assert out.returncode == 1
        assert f"cannot replay {path}" in out.stderr
    assert cli("--once").returncode == 2


def test_live_exposition_passes_promtool(live_single: str) -> None:
    promtool = need_binary("promtool")
    out = subprocess.run(
        [promtool, "check", "metrics"], input=live_single, capture_output=True, text=True
    )
    assert out.returncode == 0 and not (out.stdout + out.stderr).strip(), out.stdout + out.stderr


def test_agent_exits_with_an_error_when_every_worker_dies(veth_ns: str) -> None:
    agent = Agent(veth_ns, "--interface", "vb", "--engine", "afpacket", "--workers", "2")
    try:
        children = [int(p) for p in Path(f"/proc/{agent.proc.pid}/task/{agent.proc.pid}/children")
                    .read_text().split()]  # fmt: skip
        assert len(children) == 2
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        assert agent.proc.wait(15) == 1
    finally:
        agent.stop()
    assert "every capture worker exited" in "".join(agent.err)
