"""The attributor benchmark's inputs, served for real on the loopback from a process of their own
(so their CPU is not the attributor's): N agents' /metrics over HTTP, each on its own port, and
M sources over TLS with a CA made by the bench (Kepler >= 0.10 nodes, DCGM, Shelly plugs, a
vLLM request counter). Counters grow with wall time, so every read sees new values.

Run by bench/attributor_tick.py: `python bench/tick_servers.py N M CERT KEY`; prints one JSON
line with the URLs, serves until its stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
import time
from collections.abc import Callable

APPS = (100, 101, 102, 103)
"""Trace ids of the four apps every agent sees."""
NODES = (4113, 4114, 4115, 4116, 4117)
"""NodeIDs of the RU, DU, CU, UPF and inference server."""
KINDS = ("kepler", "dcgm", "shelly", "shelly", "kepler", "prometheus_counter", "shelly", "kepler")
KEPLER_PODS = 30
START = time.time()


def _elapsed(elapsed: float | None) -> float:
    """Seconds the counters have grown for: since the start, or given (bench/tick_phases.py
    renders the same bodies in-process at simulated times)."""
    return time.time() - START if elapsed is None else elapsed


def agent_text(i: int, elapsed: float | None = None) -> bytes:
    """A realistic agent exposition: 4 apps x 5 nodes x 2 directions, interfaces, self metrics."""
    e = _elapsed(elapsed)
    node = f'k8s_node="node-{i}"'
    out = [
        "# TYPE e2e_energy_ioam_packets_total counter",
        "# TYPE e2e_energy_ioam_bytes_total counter",
    ]
    for trace in APPS:
        for nid in NODES:
            for d, direction in enumerate(("uplink", "downlink")):
                lab = f'namespace_id="1",trace_id="{trace}",node_id="{nid}",'
                lab += f'direction="{direction}",{node}'
                rate = (trace - 99) * (d + 1)
                out.append(f"e2e_energy_ioam_packets_total{{{lab}}} {rate * e:.1f}")
                out.append(f"e2e_energy_ioam_bytes_total{{{lab}}} {900 * rate * e:.1f}")
    out += [
        "# TYPE e2e_energy_interface_packets_total counter",
        "# TYPE e2e_energy_interface_bytes_total counter",
    ]
    for iface in ("eth0", "eth1"):
        for direction in ("rx", "tx"):
            lab = f'interface="{iface}",direction="{direction}",{node}'
            out.append(f"e2e_energy_interface_packets_total{{{lab}}} {120 * e:.1f}")
            out.append(f"e2e_energy_interface_bytes_total{{{lab}}} {120 * 1000 * e:.1f}")
    out += [
        "# TYPE e2e_energy_agent_packets_total counter",
        f'e2e_energy_agent_packets_total{{result="counted",{node}}} {400 * e:.1f}',
        f'e2e_energy_agent_packets_total{{result="malformed",{node}}} 0.0',
        "# TYPE e2e_energy_agent_flows gauge",
        f"e2e_energy_agent_flows{{{node}}} 40.0",
        "# TYPE e2e_energy_build_info gauge",
        f'e2e_energy_build_info{{version="bench",{node}}} 1.0',
    ]
    return ("\n".join(out) + "\n").encode()


def kepler_text(elapsed: float | None = None) -> bytes:
    e = _elapsed(elapsed)
    out = ["# TYPE kepler_pod_cpu_joules_total counter"]
    for p in range(KEPLER_PODS):
        ns, pod = ("ran", f"du-{p}") if p < 10 else ("core", f"upf-{p}")
        for z, zone in enumerate(("package", "core", "dram", "psys")):
            out.append(
                f'kepler_pod_cpu_joules_total{{pod_id="uid-{p}",pod_name="{pod}",'
                f'pod_namespace="{ns}",state="running",zone="{zone}"}} {(5 + p + z) * e:.3f}'
            )
    return ("\n".join(out) + "\n").encode()


def dcgm_text(elapsed: float | None = None) -> bytes:
    e = _elapsed(elapsed)
    return (
        "# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter\n"
        f'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{gpu="0",UUID="GPU-0"}} {150_000 * e:.0f}\n'
        "# TYPE DCGM_FI_DEV_POWER_USAGE gauge\n"
        'DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-0"} 150.0\n'
    ).encode()


def shelly_json(elapsed: float | None = None) -> bytes:
    e = _elapsed(elapsed)
    return json.dumps({"apower": 12.5, "aenergy": {"total": 12.5 * e / 3600}}).encode()


def requests_text(elapsed: float | None = None) -> bytes:
    e = _elapsed(elapsed)
    return (
        "# TYPE vllm:request_success counter\n"
        f'vllm:request_success_total{{model_name="vlm"}} {2 * e:.0f}\n'
    ).encode()


RENDER: dict[str, Callable[..., bytes]] = {
    "kepler": kepler_text,
    "dcgm": dcgm_text,
    "shelly": shelly_json,
    "prometheus_counter": requests_text,
}


async def _serve(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: Callable[[], bytes]
) -> None:
    """HTTP/1.1 with keep-alive: answer every GET with a fresh body until the client leaves."""
    try:
        while (line := await reader.readline()) and line.strip():
            while await reader.readline() not in (b"\r\n", b"\n", b""):
                pass
            data = body()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
            await writer.drain()
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def _listen(body: Callable[[], bytes], tls: ssl.SSLContext | None) -> str:
    server = await asyncio.start_server(
        lambda r, w: _serve(r, w, body), "127.0.0.1", 0, ssl=tls, backlog=1024
    )
    port = server.sockets[0].getsockname()[1]
    return f"{'https' if tls else 'http'}://127.0.0.1:{port}"


async def main(n: int, m: int, cert: str, key: str) -> None:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    agents = [await _listen(lambda i=i: agent_text(i), None) for i in range(n)]
    sources = []
    for j in range(m):
        kind = KINDS[j % len(KINDS)]
        sources.append({"kind": kind, "url": await _listen(RENDER[kind], tls)})
    print(json.dumps({"agents": [f"{a}/metrics" for a in agents], "sources": sources}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]))
