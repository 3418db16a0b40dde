"""The capturers bench/capture.py compares, each run inside the capture namespace:
the agent (1 or 2 workers), scapy's AsyncSniffer with an lfilter, and tshark decoding IOAM.

Each exposes `count()` (packets it has counted so far) and `pid` (the root of its process tree,
whose user+sys CPU time is charged to it).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """user+sys of `pid` and all its descendants (live ones, read from /proc)."""
    total = 0.0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def _tree(pid: int) -> Iterator[int]:
    yield pid
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                yield from _tree(int(child))


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Capturer:
    name = ""

    def __init__(self, cmd: list[str], ns: str) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *cmd],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.pid = self.proc.pid
        self.ns = ns

    def count(self) -> int:
        raise NotImplementedError

    def kernel_seconds(self) -> float:
        """CPU time spent for this capturer in kernel context outside its processes (eBPF)."""
        return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class AgentCapturer(Capturer):
    """The agent with the AF_PACKET engine (`workers` processes) or the eBPF engine."""

    def __init__(
        self, ns: str, interface: str, workers: int, config: Path, engine: str = "afpacket"
    ) -> None:
        self.name = "agent-ebpf" if engine == "ebpf" else f"agent-{workers}w"
        cmd = [sys.executable, "-m", "collector", "agent", "--config", str(config)]
        cmd += ["--interface", interface, "--listen", "127.0.0.1:0", "--engine", engine]
        cmd += ["--workers", str(workers)] if engine != "ebpf" else []
        super().__init__(cmd, ns)
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        if "listening on" not in line:
            raise RuntimeError(f"agent did not start: {line}{self.proc.stderr.read()}")
        self.url = line.split("listening on ")[1].split(",")[0]

    def _sum(self, prefix: str) -> float:
        from tests.netns import inside

        with inside(self.ns), urllib.request.urlopen(self.url, timeout=10) as resp:
            text = resp.read().decode()
        return sum(
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
        )

    def count(self) -> int:
        return int(self._sum("e2e_energy_agent_packets_total{"))

    def kernel_seconds(self) -> float:
        """The eBPF program's run time as the kernel accounts it (stats must be enabled)."""
        return self._sum("e2e_energy_agent_bpf_run_seconds_total{")


class ScapyCapturer(Capturer):
    name = "scapy"

    def __init__(self, ns: str, interface: str) -> None:
        super().__init__([sys.executable, str(ROOT / "bench" / "scapy_sniffer.py"), interface], ns)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("scapy sniffer did not start")

    def count(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())


class TsharkCapturer(Capturer):
    """tshark with a capture filter for IPv6 Hop-by-Hop/DestOpt, exporting the NodeIDs."""

    name = "tshark"

    def __init__(self, ns: str, interface: str, buffer_mib: int) -> None:
        cmd = ["tshark", "-i", interface, "-n", "-l", "-B", str(buffer_mib), "-f",
               "inbound and ip6 and (ip6[6] == 0 or ip6[6] == 60)",
               "-T", "fields", "-e", "ipv6.opt.ioam.trace.node.id"]  # fmt: skip
        super().__init__(cmd, ns)
        self._lines = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if "Capturing on" in self.proc.stderr.readline():
                return
        raise RuntimeError("tshark did not start")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for _line in self.proc.stdout:
            self._lines += 1

    def count(self) -> int:
        return self._lines
