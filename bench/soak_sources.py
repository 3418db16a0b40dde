"""What the soak's attributor reads, on a virtual clock the soak advances: a real net-snmp snmpd
(a Counter32 in joules with a small wrap width, through the pass_persist helper), an HTTP server
with a Kepler >= 0.10 exposition and a JSON power meter, and real agents replaying a capture.

Each NF's true power is piecewise constant and changes only at ticks, so a counter's samples
lie on its true energy. `Bank.serve(t)` fixes every answer for one tick and records what was
served (the value, or the fault served instead), which is what the independent model reads.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from collector.ioam import build
from collector.ioam.pcapfile import write_pcap

SNMP_OID = ".1.3.6.1.4.1.99999.1.1.0"
SNMP_BASE = ".1.3.6.1.4.1.99999"
WRAP_JOULES = 60_000
"""The SNMP counter's width: it wraps every ~25 min at 40 W, so a soak sees dozens of wraps."""
NODE_IDS = {"ru": 4113, "du": 4130, "upf": 4164}
APPS = {"vision": 100, "chat": 200}
GARBAGE = {
    "http": [
        b"\x00\xff\xfe garbage \x89PNG",
        b"<html><body>502 Bad Gateway</body></html>",
        b'kepler_pod_cpu_joules_total{pod_name="du-0" 12',
        b'{"power": {"watts": "lots"}}',
        b'{"power": {"watts": -40}}',
        b'{"power": {"watts": NaN}}',
        b"[1, 2, 3]",
        b'kepler_pod_cpu_joules_total{zone="package"} not-a-number',
    ],
    "snmp": [["string", "garbage"], ["octet", "ff00"], ["integer", "-5"]],
}
"""Answers a broken device gives; each must make the read fail (the source down), never a
sample. The SNMP ones are values of the wrong type (or a negative reading)."""


@dataclass
class Nf:
    name: str
    kind: str  # counter | gauge
    watts: float
    joules: float = 0.0
    """True energy since the start."""
    reset_base: float = 0.0
    """True energy when the device's counter last restarted from zero."""


@dataclass
class Served:
    """One tick's answers: the value each NF's source served, or the fault served instead."""

    t: float
    values: dict[str, float] = field(default_factory=dict)
    faults: dict[str, str] = field(default_factory=dict)
    """nf -> `timeout` or `garbage`: that source's answer must not become a sample."""
    true_joules: dict[str, float] = field(default_factory=dict)


class Bank:
    """The NFs' true power and energy on the virtual clock, and what each source serves."""

    def __init__(self, rng: random.Random, snmp_values: Path, snmp_delay: Path) -> None:
        self.rng = rng
        self.nfs = {
            "ru": Nf("ru", "counter", 40.0),
            "du": Nf("du", "counter", 25.0),
            "upf": Nf("upf", "gauge", 10.0),
        }
        self.t: float | None = None
        self.snmp_values = snmp_values
        self.snmp_delay = snmp_delay
        self.current = Served(0.0)
        self.http_fault: dict[str, tuple[str, bytes]] = {}
        self.wraps = 0
        self._last_raw: float | None = None
        self._ru_reset = False
        self.lock = threading.Lock()

    def advance(self, t: float) -> None:
        """True time moves to `t` (energy at the old power), then the power may change."""
        if self.t is not None:
            for nf in self.nfs.values():
                nf.joules += nf.watts * (t - self.t)
        self.t = t
        for nf in self.nfs.values():
            if self.rng.random() < 0.2:
                nf.watts = min(90.0, max(5.0, nf.watts + self.rng.uniform(-8, 8)))

    def reset_counter(self, nf: str) -> None:
        """The device restarts: its counter counts from zero from now on."""
        self.nfs[nf].reset_base = self.nfs[nf].joules
        self._ru_reset = self._ru_reset or nf == "ru"

    def serve(self, t: float, faults: dict[str, str]) -> Served:
        """Fix this tick's answers (`faults`: nf -> timeout | garbage) and record them."""
        served = Served(t, faults=dict(faults))
        for name, nf in self.nfs.items():
            served.true_joules[name] = nf.joules
            if nf.kind == "gauge":
                served.values[name] = nf.watts
            elif name == "ru":
                served.values[name] = float(int(nf.joules - nf.reset_base) % WRAP_JOULES)
            else:
                served.values[name] = round(nf.joules - nf.reset_base, 3)
        raw = served.values["ru"]
        if "ru" not in faults:
            if self._last_raw is not None and raw < self._last_raw and not self._ru_reset:
                self.wraps += 1  # the served counter went round its width
            self._last_raw, self._ru_reset = raw, False
        snmp: list[Any] = ["counter", str(int(served.values["ru"]))]
        if faults.get("ru") == "garbage":
            snmp = self.rng.choice(GARBAGE["snmp"])
        self.snmp_values.write_text(json.dumps({SNMP_OID: snmp}))
        if faults.get("ru") == "timeout":
            self.snmp_delay.write_text("1.5")
        elif self.snmp_delay.exists():
            self.snmp_delay.unlink()
        with self.lock:
            self.current = served
            self.http_fault = {
                nf: (kind, self.rng.choice(GARBAGE["http"]))
                for nf, kind in faults.items()
                if nf in ("du", "upf")
            }
        return served

    def body(self, path: str) -> tuple[str | None, bytes]:
        """The HTTP answer for /kepler (du) or /meter (upf): (fault, body)."""
        nf = "du" if path.startswith("/kepler") else "upf"
        with self.lock:
            served, fault = self.current, self.http_fault.get(nf)
        if fault is not None:
            return fault[0], fault[1]
        if nf == "du":
            return None, (
                "# TYPE kepler_pod_cpu_joules_total counter\n"
                'kepler_pod_cpu_joules_total{pod_id="u1",pod_name="du-0",pod_namespace="ran",'
                f'state="running",zone="package"}} {served.values["du"]:.3f}\n'
            ).encode()
        return None, json.dumps({"power": {"watts": served.values["upf"]}}).encode()


class HttpSources:
    """The Kepler exposition and the JSON meter on one loopback port."""

    def __init__(self, bank: Bank, timeout_seconds: float) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fault, body = bank.body(self.path)
                if fault == "timeout":
                    time.sleep(3 * timeout_seconds)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the reader gave up (a timeout)
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_capture(path: Path, mix: dict[str, tuple[int, int]]) -> None:
    """A capture of IOAM-traced UDP (app -> (packets, payload bytes)) that crossed every NF."""
    trace_type = 0x800000  # hop limit + node id
    nodes = [{"hop_limit": 64 - i, "node_id": n} for i, n in enumerate(NODE_IDS.values())]
    frames = []
    t = 1.0
    for app, (packets, size) in mix.items():
        opt = build.trace_option(namespace_id=APPS[app], trace_type=trace_type, nodes=nodes[::-1])
        for _ in range(packets):
            packet = build.ipv6(hop_by_hop=[opt], upper=build.udp(4000, 9999, bytes(size)))
            frames.append((t, build.ethernet(packet)))
            t += 0.001
    write_pcap(path, frames)
