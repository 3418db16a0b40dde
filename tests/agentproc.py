"""Runs the real `e2e-energy agent` (or tshark) inside a network namespace for the tests."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

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
    def __init__(self, ns: str, *args: str) -> None:
        cmd = ["ip", "netns", "exec", ns, sys.executable, "-m", "collector", "agent", *args]
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
