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


def test_every_replays_the_capture_again_and_says_so(tmp_path: Path) -> None:
    """`--pcap F --every S` serves /metrics and adds the capture's counts again every S seconds;
    agent_info's reason says what runs (the per-replay "replay" reason used to overwrite it)."""
    import re
    import time

    from tests.http_fixture import request

    option = build.trace_option(namespace_id=9, trace_type=0x800000, nodes=[{"node_id": 4}])
    frame = build.ethernet(build.ipv6(upper=build.udp(1, 2), hop_by_hop=[option], flow_label=5))
    pcap = tmp_path / "f.pcap"
    write_pcap(pcap, [(float(i), frame) for i in range(3)])  # 3 packets per replay
    config = tmp_path / "settings.yaml"
    config.write_text("agent:\n  trace_ids: [{namespace_id: 9, carrier: flow_label}]\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "collector", "agent", "--config", str(config), "--pcap", str(pcap),
         "--every", "0.2", "--listen", "127.0.0.1:0"],
        cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"listening on (http://\S+)", line)
        assert found, line
        seen: list[float] = []
        deadline = time.monotonic() + 60
        while len(set(seen)) < 3:
            assert time.monotonic() < deadline, seen
            status, body = request(found.group(1))
            assert status == 200
            text = body.decode()
            reading = parse_agent_metrics(text, 0.0)
            seen += [c.packets_total for c in reading.traffic if c.trace_id == "5"]
            time.sleep(0.1)
        assert all(n % 3 == 0 and n > 0 for n in seen), seen  # whole replays only
        assert seen == sorted(seen)
        assert f'reason="replaying {pcap} every 0.2 s"' in text
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


def test_every_without_a_capture_or_with_once_is_a_usage_error(tmp_path: Path) -> None:
    for args in (("--every", "1"), ("--pcap", "/dev/null", "--once", "--every", "1")):
        out = agent(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert "--every needs --pcap FILE" in out.stderr
