"""The agent's exposition: names and labels, promtool-clean, and read back by scrape.py."""

from __future__ import annotations

import dataclasses
import re
import socket
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from collector.agent.metrics import AgentCollector
from collector.agent.scrape import parse_agent_metrics
from collector.agent.state import AgentSnapshot
from collector.sources import PayloadError
from tests.conftest import need_binary

SYSFS = Path(__file__).resolve().parent.parent / "fixtures" / "agent" / "sysfs"


def snapshot() -> AgentSnapshot:
    return AgentSnapshot(
        flows=(
            ((100, 100, 4113, "uplink"), (10.0, 1500.0, 0.0, 1.0)),
            ((100, "other", 4130, "downlink"), (3.0, 300.0, 400.0, 1.0)),
        ),
        results={"parsed": 12.0, "overflow": 1.0, "no_ioam": 4.0, "malformed": 2.0},
        kernel_drops={"eth1": 5},
        kernel_packets={"eth1": 24},
        evictions=7,
        folded_packets=3.0,
        sample=4,
    )


def exposition() -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        AgentCollector(snapshot, k8s_node="edge-1", interfaces=["eth1", "gone0"], sysfs_root=SYSFS)
    )
    return generate_latest(registry).decode()


def test_series_and_labels() -> None:
    text = exposition()
    assert (
        'e2e_energy_ioam_packets_total{direction="uplink",k8s_node="edge-1",namespace_id="100",'
        'node_id="4113",trace_id="100"} 10.0' in text
    )
    assert 'e2e_energy_ioam_outer_bytes_total{direction="downlink"' in text
    assert 'e2e_energy_agent_packets_total{k8s_node="edge-1",result="malformed"} 2.0' in text
    assert 'e2e_energy_agent_sampling_ratio{k8s_node="edge-1"} 0.25' in text
    assert 'e2e_energy_agent_kernel_drops_total{interface="eth1",k8s_node="edge-1"} 5.0' in text
    assert 'e2e_energy_agent_flows{k8s_node="edge-1"} 2.0' in text
    assert 'e2e_energy_agent_flow_evictions_total{k8s_node="edge-1"} 7.0' in text
    assert (
        'e2e_energy_interface_bytes_total{direction="rx",interface="eth1",k8s_node="edge-1"} '
        "150000.0" in text
    )
    assert 'e2e_energy_build_info{k8s_node="edge-1",version="' in text
    assert "gone0" not in text  # an absent interface is no data, not an error
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert 'k8s_node="edge-1"' in line


def test_promtool_check_metrics(tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    out = subprocess.run(
        [promtool, "check", "metrics"], input=exposition(), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == "" and out.stderr.strip() == ""


def test_scrape_reads_the_exposition_back() -> None:
    reading = parse_agent_metrics(exposition(), t=42.0)
    assert reading.k8s_node == "edge-1"
    by_key = {(c.namespace_id, c.trace_id, c.node_id, c.direction): c for c in reading.traffic}
    up = by_key[(100, "100", 4113, "uplink")]
    assert (up.packets_total, up.bytes_total, up.t, up.k8s_node) == (10.0, 1500.0, 42.0, "edge-1")
    assert by_key[(100, "other", 4130, "downlink")].bytes_total == 300.0
    [eth1] = reading.interfaces
    assert (eth1.source, eth1.target, eth1.packets_total, eth1.bytes_total) == (
        "agent",
        "eth1",
        1000.0,
        150000.0,
    )
    assert eth1.link_header_bytes == 14


def test_scrape_rejects_garbage() -> None:
    with pytest.raises(PayloadError) as err:
        parse_agent_metrics("e2e_energy_ioam_packets_total{oops 1\n", t=0.0)
    assert err.value.kind == "parse"


@pytest.mark.asyncio
async def test_fetch_agent_over_http() -> None:
    from prometheus_client import start_http_server

    from collector.agent.scrape import AgentSource
    from collector.sources import Runner

    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(snapshot, k8s_node="edge-1", interfaces=[]))
    server, thread = start_http_server(0, "127.0.0.1", registry)
    try:
        port = server.server_address[1]
        agent = Runner(AgentSource(f"http://127.0.0.1:{port}/metrics", 5.0))
        reading = await agent.read()
        await agent.aclose()
        assert {c.node_id for c in reading.traffic} == {4113, 4130}
        assert reading.host == "edge-1" and agent.health.up
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            dead = probe.getsockname()[1]
        down = Runner(AgentSource(f"http://127.0.0.1:{dead}/metrics", 5.0))
        failed = await down.read()
        assert not failed.up and failed.errors[0].kind == "connect"
        assert re.search(rf"127\.0\.0\.1:{dead}.*ConnectError", failed.errors[0].message)
        assert down.health.errors_total == {"connect": 1}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_k8s_node_label_falls_back_to_node_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from collector.services.agent_cmd import k8s_node_name
    from collector.settings import AgentSettings

    monkeypatch.setenv("NODE_NAME", "worker-7")
    assert k8s_node_name(AgentSettings()) == "worker-7"
    assert k8s_node_name(AgentSettings(k8s_node="edge-1")) == "edge-1"
    monkeypatch.delenv("NODE_NAME")
    assert k8s_node_name(AgentSettings()) != ""


def ebpf_exposition() -> str:
    snap = dataclasses.replace(
        snapshot(),
        engine="ebpf",
        engine_reason="auto",
        parse_limits={"eth1": 2},
        bpf_run_seconds=1.5,
        bpf_runs=3_000_000,
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(lambda: snap, k8s_node="edge-1"))
    return generate_latest(registry).decode()


def test_engine_info_and_ebpf_self_metrics() -> None:
    text = exposition()
    assert 'e2e_energy_agent_info{engine="afpacket",k8s_node="edge-1",reason=""} 1.0' in text
    assert "e2e_energy_agent_bpf_run" not in text and "parse_limit" not in text
    text = ebpf_exposition()
    assert 'e2e_energy_agent_info{engine="ebpf",k8s_node="edge-1",reason="auto"} 1.0' in text
    assert 'e2e_energy_agent_bpf_run_seconds_total{k8s_node="edge-1"} 1.5' in text
    assert 'e2e_energy_agent_bpf_runs_total{k8s_node="edge-1"} 3e+06' in text
    assert (
        'e2e_energy_agent_parse_limit_packets_total{interface="eth1",k8s_node="edge-1"} 2.0' in text
    )
    promtool = need_binary("promtool")
    out = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert out.returncode == 0 and not (out.stdout + out.stderr).strip(), out.stdout + out.stderr
