"""Runs the real `e2e-energy agent` (or tshark) inside a network namespace for the tests."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from collector.agent.scrape import parse_agent_metrics
from tests.conftest import ROOT
from tests.netns import inside


class Background:
    """A process whose stderr is collected by a thread; `wait_for` polls it for a pattern."""

    def __init__(self, cmd: list[str]) -> None:
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.err: list[str] = []
        self.out: list[str] = []
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
        ]
        for t in self._threads:
            t.start()

    @staticmethod
    def _pump(stream: object, sink: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink.append(line)

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.err):
                if m := re.search(pattern, line):
                    return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"{pattern!r} not seen; stderr: {''.join(self.err)}")

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        for t in self._threads:
            t.join(2)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return rc


class Agent(Background):
    """`e2e-energy agent ARGS` in namespace `ns` behind `prefix` (setpriv), once it listens."""

    def __init__(self, ns: str, *args: str, prefix: tuple[str, ...] = ()) -> None:
        cmd = ["ip", "netns", "exec", ns, *prefix, sys.executable, "-m", "collector", "agent"]
        cmd += args
        super().__init__([*cmd, "--listen", "127.0.0.1:0"])
        self.ns = ns
        m = self.wait_for(r"listening on http://([\d.]+):(\d+)/metrics")
        self.url = f"http://{m.group(1)}:{m.group(2)}/metrics"

    def scrape(self) -> str:
        with inside(self.ns), urllib.request.urlopen(self.url, timeout=5) as resp:
            return str(resp.read().decode())


class Tshark(Background):
    """tshark writing what the interface receives (`inbound`, as the agent) to a pcap file."""

    def __init__(self, ns: str, interface: str, path: str) -> None:
        super().__init__(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "tshark",
                "-i",
                interface,
                "-f",
                "inbound",
                "-F",
                "pcap",
                "-w",
                path,
            ]
        )
        self.wait_for(r"Capturing on")


def flows(text: str) -> dict[tuple[int, str, int], tuple[float, float]]:
    """(namespace, TraceID, NodeID) -> (packets, bytes) of an agent's exposition."""
    return {
        (c.namespace_id, c.trace_id, c.node_id): (c.packets_total, c.bytes_total)
        for c in parse_agent_metrics(text, 0.0).traffic
    }


def value(text: str, prefix: str) -> float:
    """The sum of the samples whose line starts with `prefix`."""
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def run_agent(ns: str, frames: list[bytes], *args: str, prefix: tuple[str, ...] = ()) -> str:
    """Start the agent on vb (downlink), send `frames` from va, and scrape once it has read all.

    With `--engine X` it checks that X is the engine counting (no silent fallback)."""
    agent = Agent(ns, "--interface", "vb:downlink", *args, prefix=prefix)
    try:
        if "--engine" in args:
            engine = args[args.index("--engine") + 1]
            assert f'e2e_energy_agent_info{{engine="{engine}"' in agent.scrape()
        with inside(ns):
            tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            tx.bind(("va", 0))
        with tx:
            for i, frame in enumerate(frames):
                tx.send(frame)
                if i % 100 == 99:
                    time.sleep(0.001)
        time.sleep(1.0)
        text = agent.scrape()
    finally:
        assert agent.stop() == 0, "".join(agent.err)
    return text
