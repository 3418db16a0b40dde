"""A small live stack for the dashboard acceptance test, all inside network namespaces:

    snd --- ru --- du --- cu --- upf --- rcv        (each router's kernel stamps its NodeID)

rcv is the inference host: the real agent captures on its ingress (uplink), a Kepler-format and
a request-counter endpoint stand in for Kepler and the inference server (no RAPL here: the power
is modelled and labelled so), the real attributor reads them, and a real Prometheus scrapes the
agent and the attributor with the project's rules loaded. Every port lives in rcv's private
network namespace, so nothing collides with other runs.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.netns import inside, sh, veth

TRACE_TYPE = 0x800000  # bit 0: hop limit + 24-bit node id
ROUTERS = [("ru1", "ru", 4113), ("du1", "du", 4130), ("cu1", "cu", 4147), ("upf1", "upf", 4164)]
APPS = {"factory-vision": 100, "chat": 200}  # app -> IOAM namespace (the TraceID carrier)
MODELS = {"factory-vision": "qwen2.5-vl-3b", "chat": "minilm-chat"}
PODS = {"ru1": "ran/ru-0", "du1": "ran/du-0", "cu1": "ran/cu-0", "upf1": "core/upf-0"}
PODS["vlm"] = "ai/vlm-0"
WATTS = {"ru1": 40.0, "du1": 25.0, "cu1": 15.0, "upf1": 10.0, "vlm": 60.0}
RCV = "2001:db8:5::2"
PORTS = {"agent": 9470, "attributor": 8080, "sources": 28282, "prometheus": 9090}


def build_chain(names: dict[str, str]) -> None:
    hops = ["snd", *[r for r, _, _ in ROUTERS], "rcv"]
    for i in range(len(hops) - 1):
        a, b = names[hops[i]], names[hops[i + 1]]
        veth(a, "dn0", b, "up0")
        sh("ip", "-6", "addr", "add", f"2001:db8:{i + 1}::1/64", "dev", "dn0", "nodad", ns=a)
        sh("ip", "-6", "addr", "add", f"2001:db8:{i + 1}::2/64", "dev", "up0", "nodad", ns=b)
    sh("ip", "-6", "route", "add", "default", "via", "2001:db8:1::2", ns=names["snd"])
    sh(
        "ip",
        "-6",
        "route",
        "add",
        "default",
        "via",
        f"2001:db8:{len(hops) - 1}::1",
        ns=names["rcv"],
    )
    for i, (router, _, node_id) in enumerate(ROUTERS):
        ns = names[router]
        sh("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1", ns=ns)
        sh("ip", "-6", "route", "add", "default", "via", f"2001:db8:{i + 2}::2", ns=ns)
        sh(
            "ip",
            "-6",
            "route",
            "add",
            "2001:db8:1::/64",
            "via",
            f"2001:db8:{i + 1}::1",
            ns=ns,
            check=False,
        )
        sh("sysctl", "-qw", f"net.ipv6.ioam6_id={node_id}", ns=ns)
        sh("sysctl", "-qw", "net.ipv6.conf.up0.ioam6_enabled=1", ns=ns)
        sh("sysctl", "-qw", f"net.ipv6.conf.up0.ioam6_id={node_id}", ns=ns)
        for namespace_id in APPS.values():
            sh("ip", "ioam", "namespace", "add", str(namespace_id), ns=ns)


class Sources:
    """Kepler >= 0.10 pod counters (modelled watts x time) and per-model request counters."""

    def __init__(self) -> None:
        self.t0 = time.time()
        self.requests = dict.fromkeys(MODELS.values(), 0)
        self.lock = threading.Lock()

    def kepler(self) -> str:
        elapsed = time.time() - self.t0
        lines = ["# TYPE kepler_pod_cpu_joules_total counter"]
        for nf, pod in PODS.items():
            ns, name = pod.split("/")
            lines.append(
                f'kepler_pod_cpu_joules_total{{pod_id="{nf}-uid",pod_name="{name}",'
                f'pod_namespace="{ns}",state="running",zone="package"}} {WATTS[nf] * elapsed:.3f}'
            )
        return "\n".join(lines) + "\n"

    def request_counters(self) -> str:
        with self.lock:
            rows = [
                f'vllm:request_success_total{{model_name="{m}"}} {n}'
                for m, n in self.requests.items()
            ]
        return "# TYPE vllm:request_success_total counter\n" + "\n".join(rows) + "\n"

    def serve(self, ns: str) -> ThreadingHTTPServer:
        sources = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = (
                    sources.kepler() if self.path == "/kepler" else sources.request_counters()
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        with inside(ns):
            server = ThreadingHTTPServer(("127.0.0.1", PORTS["sources"]), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


@contextmanager
def traffic(snd_ns: str, sources: Sources, *, rate_pps: int = 100) -> Iterator[dict[str, int]]:
    """Sends IOAM-traced UDP for every app until the block exits; one request per 10 packets."""
    from collector.ioam.build import hopopts_for_socket

    sent = dict.fromkeys(APPS, 0)
    stop = threading.Event()
    with inside(snd_ns):
        socks = {}
        for app, namespace_id in APPS.items():
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            opt = hopopts_for_socket(namespace_id, TRACE_TYPE, len(ROUTERS))
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, opt)
            socks[app] = s

    def run() -> None:
        while not stop.is_set():
            for app, s in socks.items():
                size = 200 if app == "chat" else 1000  # vision uploads more bytes per packet
                s.sendto(bytes(size), (RCV, 9999))
                sent[app] += 1
                if sent[app] % 10 == 0:
                    with sources.lock:
                        sources.requests[MODELS[app]] += 1
            time.sleep(len(APPS) / rate_pps)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield sent
    finally:
        stop.set()
        thread.join(5)
        for s in socks.values():
            s.close()


def attributor_settings(tmp: Path) -> dict[str, Any]:
    base = f"http://127.0.0.1:{PORTS['sources']}"
    nfs: list[dict[str, Any]] = []
    for name, role, node_id in ROUTERS:
        ns, pod = PODS[name].split("/")
        nfs.append(
            {
                "name": name,
                "role": role,
                "node_id": node_id,
                "zone": "edge",
                "power": {"source": "kepler", "target": {"namespace": ns, "pod": pod}},
            }
        )
    nfs.append(
        {
            "name": "vlm",
            "role": "inference",
            "zone": "edge",
            "requests": {"source": "requests"},
            "power": {"source": "kepler", "target": {"namespace": "ai", "pod": "vlm-0"}},
        }
    )
    return {
        "window_seconds": 2,
        "max_gap_seconds": 6,
        "agents": {"urls": [f"http://127.0.0.1:{PORTS['agent']}/metrics"], "timeout_seconds": 2},
        "sources": [
            {
                "name": "kepler",
                "kind": "kepler",
                "url": f"{base}/kepler",
                "energy_basis": "modelled",
                "interval_seconds": 1,
                "timeout_seconds": 2,
            },
            {
                "name": "requests",
                "kind": "prometheus_counter",
                "url": f"{base}/requests",
                "metric": "vllm:request_success_total",
                "label": "model_name",
                "app_map": {m: a for a, m in MODELS.items()},
                "interval_seconds": 1,
            },
        ],
        "carbon": {
            "zones": {
                "edge": {
                    "providers": [{"kind": "static", "grams_per_kwh": 300}],
                    "market_grams_per_kwh": 50,
                }
            }
        },
        "nfs": nfs,
        "apps": [
            {"name": a, "traces": [{"namespace_id": n, "trace_id": n}]} for a, n in APPS.items()
        ],
        "store": {"path": str(tmp / "store.sqlite")},
        "api": {"listen": f"127.0.0.1:{PORTS['attributor']}"},
        "placement": placement_settings(tmp),
    }


# The live placement advice: the edge site's own grid (zone `edge`, live from the carbon
# service) against a cleaner, cheaper region 1 300 km north; average signal, as `edge` has.
PLACEMENT_DATASET = {
    "objective": {"kind": "blend", "carbon_price_per_tonne": 100, "signal": "average"},
    "classes": [
        {"name": "interactive", "latency_budget_ms": 300, "processing_ms": 150,
         "energy_per_request_joules": 30, "payload_bytes": 50_000},
        {"name": "standard", "latency_budget_ms": 1500, "processing_ms": 800,
         "energy_per_request_joules": 150, "payload_bytes": 200_000},
    ],
    "origins": [{"name": "plant", "lat": 48.14, "lon": 11.58, "home": "edge"}],
    "regions": [
        {"name": "edge", "lat": 48.14, "lon": 11.58, "price_per_kwh": 0.25,
         "grams_per_kwh_average": 380, "grams_per_kwh_marginal": 435, "pue": 1.5},
        {"name": "se-stockholm", "lat": 59.33, "lon": 18.07, "price_per_kwh": 0.12,
         "grams_per_kwh_average": 41, "grams_per_kwh_marginal": 435, "pue": 1.1},
    ],
    "frictions": {"egress_per_gb": 0.02, "regional_km": 1000},
}  # fmt: skip
PLACEMENT_APPS = {"factory-vision": "standard", "chat": "interactive"}
TRANSPORT_KM = 20.0
ADVICE_PERIOD_SECONDS = 20.0


def placement_settings(tmp: Path) -> dict[str, Any]:
    dataset = tmp / "placement.yaml"
    dataset.write_text(yaml.safe_dump(PLACEMENT_DATASET))
    return {
        "config": str(dataset),
        "interval_seconds": 4,
        "period_seconds": ADVICE_PERIOD_SECONDS,
        "apps": {a: {"class": c, "origin": "plant"} for a, c in PLACEMENT_APPS.items()},
        "transport": {"nfs": ["upf1"], "path_km": TRANSPORT_KM},
        "carbon_zones": {"edge": "edge"},
        "min_requests": 20,
    }


def chart_settings(tmp: Path) -> tuple[Path, Path]:
    """agent.yaml and attributor.yaml as the chart renders them from values, with the keys the
    chart owns for a cluster (agent discovery, store path) pointed at this stack."""
    from tests.helmchart import documents, settings_of

    wanted = attributor_settings(tmp)
    config = {k: v for k, v in wanted.items() if k not in ("agents", "store", "api")}
    config["store"] = {"retention_days": 1}
    config["api"] = {"token_file": None}
    values = {
        "config": config,
        "agent": {
            "interfaces": [{"name": "up0", "direction": "uplink"}],
            "traceIds": [{"namespace_id": n, "carrier": "namespace"} for n in APPS.values()],
            "port": PORTS["agent"],
            "bindAddress": "127.0.0.1",
        },
        "attributor": {"port": PORTS["attributor"]},
    }
    docs = documents(values)
    agent = settings_of(docs, "agent.yaml")
    attributor = settings_of(docs, "attributor.yaml")
    assert attributor["agents"]["kubernetes"]["port"] == PORTS["agent"]
    attributor["agents"] = wanted["agents"]
    attributor["store"]["path"] = wanted["store"]["path"]
    assert attributor["api"]["listen"] == f"0.0.0.0:{PORTS['attributor']}"  # private netns
    paths = (tmp / "agent.yaml", tmp / "attributor.yaml")
    for path, data in zip(paths, (agent, attributor), strict=True):
        path.write_text(yaml.safe_dump(data))
    return paths


def prometheus_config(rules: Path) -> dict[str, Any]:
    def job(name: str) -> dict[str, Any]:
        return {"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{PORTS[name]}"]}]}

    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [job("agent"), job("attributor")],
    }


def http_get(ns: str, url: str, timeout: float = 5.0) -> bytes:
    with inside(ns), urllib.request.urlopen(url, timeout=timeout) as resp:
        return bytes(resp.read())


def http_post(ns: str, url: str, body: dict[str, Any], timeout: float = 30.0) -> tuple[int, Any]:
    """POST JSON; (status, parsed body), 4xx and 5xx included."""
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    return _json(ns, req, timeout)


def http_get_json(ns: str, url: str, timeout: float = 5.0) -> tuple[int, Any]:
    """GET; (status, parsed JSON body), 4xx and 5xx included."""
    return _json(ns, urllib.request.Request(url), timeout)


def _json(ns: str, req: urllib.request.Request, timeout: float) -> tuple[int, Any]:
    import urllib.error

    try:
        with inside(ns), urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def promql(ns: str, expr: str) -> list[dict[str, Any]]:
    """An instant query on the stack's Prometheus; raises on a PromQL error."""
    q = urllib.parse.urlencode({"query": expr})
    body = json.loads(http_get(ns, f"http://127.0.0.1:{PORTS['prometheus']}/api/v1/query?{q}"))
    if body["status"] != "success":
        raise AssertionError(f"{expr}: {body}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def wait_until_up(ns: str, url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            http_get(ns, url, timeout=1.0)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")
