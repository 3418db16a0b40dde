"""Choosing and running the engine: `auto` takes eBPF and says so, falls back to AF_PACKET with
the reason when a capability is missing, `ebpf` then fails naming it; SIGTERM removes the filter
(and the clsact qdisc only when the agent added it); an agent killed with SIGKILL and restarted
leaves exactly one program counting."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from collector.agent import libbpf
from collector.agent.engine import missing_for_ebpf
from collector.ioam import build
from tests.agentproc import Agent, run_agent, value
from tests.conftest import ROOT
from tests.netns import sh

pytestmark = pytest.mark.netns
NO_BPF = ("setpriv", "--inh-caps=-bpf,-sys_admin", "--bounding-set=-bpf,-sys_admin")
NO_PERFMON = ("setpriv", "--inh-caps=-perfmon,-sys_admin", "--bounding-set=-perfmon,-sys_admin")
FRAME = build.ethernet(
    build.ipv6(
        upper=build.udp(1, 2, b"x"),
        hop_by_hop=[
            build.trace_option(namespace_id=9, trace_type=0x800000, nodes=[{"node_id": 4}])
        ],
    )
)


def bpf_filters(ns: str) -> list[int]:
    """Program ids of the BPF filters at vb's ingress."""
    out = sh("tc", "filter", "show", "dev", "vb", "ingress", ns=ns)
    return [int(m) for m in re.findall(r"direct-action.* id (\d+)", out)]


def has_clsact(ns: str) -> bool:
    return "clsact" in sh("tc", "qdisc", "show", "dev", "vb", ns=ns)


def info(text: str) -> str:
    return next(ln for ln in text.splitlines() if ln.startswith("e2e_energy_agent_info{"))


def test_capabilities_the_ebpf_engine_needs() -> None:
    assert missing_for_ebpf({"CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN"}) == []
    assert missing_for_ebpf({"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}) == []
    assert missing_for_ebpf({"CAP_NET_RAW"}) == ["CAP_NET_ADMIN", "CAP_BPF", "CAP_PERFMON"]
    assert missing_for_ebpf({"CAP_BPF", "CAP_NET_ADMIN"}) == ["CAP_PERFMON"]


def test_auto_chooses_ebpf_and_sigterm_removes_what_it_added(veth_ns: str) -> None:
    assert not has_clsact(veth_ns)
    agent = Agent(veth_ns, "--interface", "vb")
    try:
        text = agent.scrape()
        assert 'engine="ebpf"' in info(text) and 'reason="auto"' in info(text)
        assert len(bpf_filters(veth_ns)) == 1 and has_clsact(veth_ns)
    finally:
        assert agent.stop() == 0, "".join(agent.err)
    assert "engine ebpf (eBPF engine (auto))" in "".join(agent.err)
    assert bpf_filters(veth_ns) == [] and not has_clsact(veth_ns)


def test_a_clsact_qdisc_that_was_there_stays(veth_ns: str) -> None:
    sh("tc", "qdisc", "add", "dev", "vb", "clsact", ns=veth_ns)
    try:
        run_agent(veth_ns, [FRAME], "--engine", "ebpf")
        assert bpf_filters(veth_ns) == [] and has_clsact(veth_ns)
    finally:
        sh("tc", "qdisc", "del", "dev", "vb", "clsact", ns=veth_ns)


def test_auto_falls_back_to_af_packet_with_the_reason(veth_ns: str) -> None:
    text = run_agent(veth_ns, [FRAME] * 5, prefix=NO_BPF)
    assert 'engine="afpacket"' in info(text) and 'reason="missing_capability"' in info(text)
    assert value(text, 'e2e_energy_ioam_packets_total{direction="downlink"') == 5
    assert bpf_filters(veth_ns) == []


@pytest.mark.parametrize(("prefix", "named"), [(NO_BPF, "CAP_BPF"), (NO_PERFMON, "CAP_PERFMON")])
def test_ebpf_without_a_capability_is_a_clear_error(
    veth_ns: str, prefix: tuple[str, ...], named: str
) -> None:
    out = subprocess.run(
        ["ip", "netns", "exec", veth_ns, *prefix, sys.executable, "-m", "collector", "agent",
         "--interface", "vb", "--engine", "ebpf", "--listen", "127.0.0.1:0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 1
    assert f"the eBPF engine needs {named}" in out.stderr
    assert bpf_filters(veth_ns) == []


def test_sigkill_and_restart_leave_one_program_counting(veth_ns: str) -> None:
    killed = Agent(veth_ns, "--interface", "vb", "--engine", "ebpf")
    [stale] = bpf_filters(veth_ns)
    os.kill(killed.proc.pid, signal.SIGKILL)  # ip netns exec execs: this is the agent itself
    killed.stop()
    assert bpf_filters(veth_ns) == [stale]  # the kernel keeps a filter nobody reads
    agent = Agent(veth_ns, "--interface", "vb", "--engine", "ebpf")
    try:
        [current] = bpf_filters(veth_ns)
        assert current != stale
        with pytest.raises(libbpf.BpfError, match="No such file"):
            libbpf.prog_fd_by_id(stale)  # replaced, and with it gone from the kernel
    finally:
        assert agent.stop() == 0, "".join(agent.err)
    assert f"replacing the e2e-energy filter already there (program id {stale})" in "".join(
        agent.err
    )
    assert bpf_filters(veth_ns) == []
    sh("tc", "qdisc", "del", "dev", "vb", "clsact", ns=veth_ns)  # the killed agent's
