"""`e2e-energy agent` reads the `agent:` block of the settings file (replay needs no root)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from collector.agent.scrape import parse_agent_metrics
from collector.ioam import build
from collector.ioam.pcapfile import write_pcap
from tests.conftest import ROOT


def agent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", "agent", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_config_block_drives_replay(tmp_path: Path) -> None:
    option = build.trace_option(namespace_id=9, trace_type=0x800000, nodes=[{"node_id": 4}])
    frames = [
        build.ethernet(build.ipv6(upper=build.udp(1, 2), hop_by_hop=[option], flow_label=label))
        for label in (1, 2, 3, 3)
    ]
    pcap = tmp_path / "f.pcap"
    write_pcap(pcap, [(float(i), f) for i, f in enumerate(frames)])
    config = tmp_path / "settings.yaml"
    config.write_text(
        "agent:\n"
        "  interfaces: [{name: eth1, direction: downlink}]\n"
        "  trace_ids: [{namespace_id: 9, carrier: flow_label}]\n"
        "  max_trace_ids: 2\n"
        "  k8s_node: edge-7\n"
    )
    out = agent("--config", str(config), "--pcap", str(pcap), "--once")
    assert out.returncode == 0, out.stderr
    reading = parse_agent_metrics(out.stdout, 0.0)
    assert reading.k8s_node == "edge-7"
    got = {(c.trace_id, c.direction): c.packets_total for c in reading.traffic}
    assert got == {("1", "downlink"): 1, ("2", "downlink"): 1, ("other", "downlink"): 2}


def test_bad_settings_name_the_key_and_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("agent:\n  max_flowz: 3\n")
    out = agent("--config", str(config), "--pcap", "/dev/null", "--once")
    assert out.returncode == 1
    assert f"{config}: agent.max_flowz: unknown key" in out.stderr


def test_bad_interface_argument() -> None:
    out = agent("--interface", "eth0:sideways")
    assert out.returncode == 2
    assert "expected IF or IF:uplink or IF:downlink" in out.stderr
