"""The testbed's power daemon: turns what each NF did into modelled power, served like real gear.

Each second it reads the NFs' interface counters (pyroute2, inside their namespaces) and the CPU
time of their processes, applies testbed/power_models.py, integrates energy, then
- rewrites the JSON file behind snmpd's pass_persist helper (the RU's APC rPDU2 outlet), and
- serves a Kepler-format /metrics (generation 0.9 or 0.10 label sets) for DU, CU, UPF, server.
There is no RAPL on these machines: every number here is modelled, and the sources say so.
The served energy counters are continuous in time, as a hardware energy counter is: the static
part is counted up to the moment of the scrape (static watts are constant), the dynamic part up
to the last step. A counter that only moved once a second would hand whoever scrapes it at
another rhythm a staircase, and turn the scrape jitter into false dynamic energy.

    python -m testbed.powerd --config testbed/topology.yaml --prefix e2tb --kepler 127.0.0.1:0
        --snmp-json FILE --pids-file FILE --port-file FILE
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pyroute2 import NetNS

from testbed.plan import MGMT_IF, make_plan
from testbed.power_models import (
    Interval,
    PowerSplit,
    cpu_power,
    cpu_seconds,
    radio_power,
    traffic_power,
)
from testbed.settings import TestbedSettings, load_topology
from testbed.snmp_pass import apc_outlet_values

JOULES_PER_TENTH_KWH = 360_000.0


@dataclass
class NfMeter:
    """Running totals of one NF: last counters and integrated energy (static and dynamic)."""

    node: str
    packets: float = 0.0
    bytes: float = 0.0
    cpu: float = 0.0
    static_joules: float = 0.0
    dynamic_joules: float = 0.0
    watts: PowerSplit = field(default_factory=lambda: PowerSplit(0.0, 0.0))
    peak_watts: float = 0.0


def rx_totals(nsr: NetNS) -> tuple[float, float]:
    """Received packets and bytes over the NF's data interfaces (not lo, not management)."""
    packets = octets = 0.0
    for link in nsr.get_links():
        if link.get_attr("IFLA_IFNAME") in ("lo", MGMT_IF):
            continue
        stats = link.get_attr("IFLA_STATS64")
        packets += stats["rx_packets"]
        octets += stats["rx_bytes"]
    return packets, octets


class Daemon:
    def __init__(self, tb: TestbedSettings, prefix: str, pids_file: Path, snmp_json: Path) -> None:
        self.tb = tb
        self.plan = make_plan(tb, prefix)
        self.pids_file = pids_file
        self.snmp_json = snmp_json
        nodes = set(tb.power.radio) | set(tb.power.traffic) | set(tb.power.cpu)
        self.meters = {n: NfMeter(n) for n in sorted(nodes)}
        self.handles: dict[str, NetNS] = {}
        """One open netlink socket per namespace, kept for the daemon's life (opening one
        forks a helper: once a second per node would cost more CPU than the NFs themselves)."""
        self.lock = threading.Lock()
        self.last = time.monotonic()
        self.primed = False

    def _pids(self) -> dict[str, list[int]]:
        try:
            data: dict[str, list[int]] = json.loads(self.pids_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data

    def _netns(self, node: str) -> NetNS:
        if node not in self.handles:
            self.handles[node] = NetNS(self.plan.ns(node))
        return self.handles[node]

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()
        self.handles.clear()

    def step(self) -> None:
        readings = {}
        pids = self._pids()
        for node in self.meters:
            readings[node] = (*rx_totals(self._netns(node)), cpu_seconds(pids.get(node, [])))
        with self.lock:
            self._account(readings)
        self._write_snmp()

    def _account(self, readings: dict[str, tuple[float, float, float]]) -> None:
        now = time.monotonic()
        dt, self.last = now - self.last, now
        for node, m in self.meters.items():
            packets, octets, cpu = readings[node]
            iv = Interval(dt, packets - m.packets, octets - m.bytes, max(0.0, cpu - m.cpu))
            m.packets, m.bytes, m.cpu = packets, octets, cpu
            if not self.primed:
                continue  # the first reading is the baseline (model loading is not traffic)
            if node in self.tb.power.radio:
                split = radio_power(self.tb.power.radio[node], iv)
            elif node in self.tb.power.traffic:
                split = traffic_power(self.tb.power.traffic[node], iv)
            else:
                split = cpu_power(self.tb.power.cpu[node], iv)
            m.watts = split
            m.peak_watts = max(m.peak_watts, split.watts)
            m.static_joules += split.static_watts * dt
            m.dynamic_joules += split.dynamic_watts * dt
        self.primed = True

    def render(self) -> str:
        """The Kepler text as of now (static energy counted up to this moment)."""
        with self.lock:
            return render_kepler(self.tb, self.meters, time.monotonic() - self.last)

    def _write_snmp(self) -> None:
        outlets: dict[int, dict[str, object]] = {}
        for node, index in self.tb.power.outlets.items():
            m = self.meters[node]
            nf = self.tb.node(node).nf or node
            outlets[index] = {
                "name": nf,
                "watts": round(m.watts.watts),
                "peak_watts": round(m.peak_watts),
                "energy_tenth_kwh": int(
                    (m.static_joules + m.dynamic_joules) / JOULES_PER_TENTH_KWH
                ),
            }
        tmp = self.snmp_json.with_suffix(".tmp")
        tmp.write_text(json.dumps(apc_outlet_values(outlets)), encoding="utf-8")
        tmp.replace(self.snmp_json)


def render_kepler(tb: TestbedSettings, meters: dict[str, NfMeter], since_step: float = 0.0) -> str:
    """Kepler /metrics for the pod-mapped NFs, in the configured generation's names and labels;
    `since_step` seconds of static power are added to the energy integrated at the last step."""
    lines = ["# testbed: modelled energy (no RAPL on this machine); see testbed/power_models.py"]
    pods = {n: tb.power.pods[n] for n in meters if n in tb.power.pods}
    if tb.power.kepler_generation == "0.10":
        lines += [
            "# HELP kepler_pod_cpu_joules_total Energy consumption of cpu at pod level in joules",
            "# TYPE kepler_pod_cpu_joules_total counter",
        ]
        for node, pod in pods.items():
            m, (ns, name) = meters[node], pod.split("/")
            labels = f'pod_id="{node}-uid",pod_name="{name}",pod_namespace="{ns}",state="running"'
            total = m.static_joules + m.watts.static_watts * since_step + m.dynamic_joules
            lines.append(f'kepler_pod_cpu_joules_total{{{labels},zone="package"}} {total:.6f}')
        lines += [
            "# HELP kepler_pod_cpu_watts Power of cpu at pod level",
            "# TYPE kepler_pod_cpu_watts gauge",
        ]
        for node, pod in pods.items():
            m, (ns, name) = meters[node], pod.split("/")
            labels = f'pod_id="{node}-uid",pod_name="{name}",pod_namespace="{ns}",state="running"'
            lines.append(f'kepler_pod_cpu_watts{{{labels},zone="package"}} {m.watts.watts:.6f}')
    else:
        lines += [
            "# HELP kepler_container_joules_total Container energy in joules (package + dram)",
            "# TYPE kepler_container_joules_total counter",
        ]
        for node, pod in pods.items():
            m, (ns, name) = meters[node], pod.split("/")
            base = (
                f'container_id="{node}-c0",container_name="{node}",container_namespace="{ns}",'
                f'pod_name="{name}",source="testbed-model"'
            )
            lines.append(
                f'kepler_container_joules_total{{{base},mode="dynamic"}} {m.dynamic_joules:.6f}'
            )
            idle = m.static_joules + m.watts.static_watts * since_step
            lines.append(f'kepler_container_joules_total{{{base},mode="idle"}} {idle:.6f}')
    return "\n".join(lines) + "\n"


def serve(daemon: Daemon, address: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = daemon.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    host, _, port = address.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--kepler", default="127.0.0.1:0")
    p.add_argument("--snmp-json", type=Path, required=True)
    p.add_argument("--pids-file", type=Path, required=True)
    p.add_argument("--port-file", type=Path, required=True)
    p.add_argument("--interval", type=float, default=1.0)
    args = p.parse_args()
    settings = load_topology(args.config)
    daemon = Daemon(settings.testbed, args.prefix, args.pids_file, args.snmp_json)
    daemon.step()
    server = serve(daemon, args.kepler)
    args.port_file.write_text(str(server.server_address[1]), encoding="utf-8")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(args.interval):
        daemon.step()
    server.shutdown()
    daemon.close()


if __name__ == "__main__":
    main()
