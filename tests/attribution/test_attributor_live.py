"""The live path with the real readers: the sources branch's Kepler reader and the agent branch's
scraper read exporters served over HTTP here (Kepler <=0.9 text format and the agent's own
exposition; no Kepler or agent capture runs on this machine). Checks the mapping (pod -> NF,
NodeID -> NF, TraceID -> app, unknown -> `unknown`) and that `--record` replays per window to
exactly what was computed live.

Time is one injected clock, shared by the exporters (their counters grow with it) and the
attributor (it stamps the samples and decides which windows are due): the test steps it
instead of sleeping, so its numbers do not depend on how busy the machine is."""

from __future__ import annotations

import asyncio
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.attribution import topology_from_settings
from collector.attribution.live import LiveAttributor
from collector.attribution.records import read_records
from collector.attribution.replay import replay_run
from collector.settings import Settings, parse_settings
from collector.store import Store

START = 1_700_000_000.0


class Clock:
    """The test's time: read by the exporters and the attributor, moved only by the test."""

    def __init__(self) -> None:
        self.now = START + 0.3

    def __call__(self) -> float:
        return self.now


def kepler_text(elapsed: float) -> str:
    return (
        "# TYPE kepler_container_joules_total counter\n"
        'kepler_container_joules_total{container_id="c1",container_name="du",'
        f'container_namespace="ran",mode="dynamic",pod_name="du-0",source="rapl"}} {8 * elapsed}\n'
        'kepler_container_joules_total{container_id="c1",container_name="du",'
        f'container_namespace="ran",mode="idle",pod_name="du-0",source="rapl"}} {2 * elapsed}\n'
    )


def agent_text(elapsed: float) -> str:
    lines = ["# TYPE e2e_energy_ioam_packets_total counter",
             "# TYPE e2e_energy_ioam_bytes_total counter"]  # fmt: skip
    for trace, rate in (("100", 5), ("200", 2), ("999", 1)):
        labels = (f'namespace_id="100",trace_id="{trace}",node_id="4130",direction="uplink",'
                  'k8s_node="n1"')  # fmt: skip
        lines.append(f"e2e_energy_ioam_packets_total{{{labels}}} {rate * elapsed}")
        lines.append(f"e2e_energy_ioam_bytes_total{{{labels}}} {100 * rate * elapsed}")
    lines += ["# TYPE e2e_energy_interface_packets_total counter",
              "# TYPE e2e_energy_interface_bytes_total counter",
              f'e2e_energy_interface_packets_total{{interface="eth1",direction="rx",k8s_node="n1"}} {10 * elapsed}',  # noqa: E501
              f'e2e_energy_interface_bytes_total{{interface="eth1",direction="rx",k8s_node="n1"}} {(114 * 10) * elapsed}']  # noqa: E501  # fmt: skip
    return "\n".join(lines) + "\n"


class Handler(http.server.BaseHTTPRequestHandler):
    clock: Clock

    def do_GET(self) -> None:
        elapsed = self.clock() - START
        body = (kepler_text if self.path == "/kepler" else agent_text)(elapsed).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def exporters(clock: Clock) -> Iterator[str]:
    handler = type("ClockedHandler", (Handler,), {"clock": clock})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def settings_for(base: str) -> Settings:
    return parse_settings(
        {
            "window_seconds": 1,
            "max_gap_seconds": 3,
            "agents": {"urls": [f"{base}/agent"], "timeout_seconds": 2},
            "sources": [{"name": "kepler", "kind": "kepler", "url": f"{base}/kepler",
                         "generation": "0.9", "energy_basis": "modelled", "interval_seconds": 1}],
            "nfs": [{"name": "du1", "role": "du", "node_id": 4130,
                     "power": {"source": "kepler", "target": {"namespace": "ran", "pod": "du-0"}},
                     "traffic_total": {"source": "agent", "interfaces": ["eth1"]},
                     "idle": {"policy": "source"}}],
            "apps": [{"name": "factory-vision", "traces": [{"namespace_id": 100, "trace_id": 100}]},
                     {"name": "chat", "traces": [{"namespace_id": 100, "trace_id": 200}]}],
        }
    )  # fmt: skip


def test_live_windows_from_real_readers_replay_identically(
    exporters: str, clock: Clock, tmp_path: Path
) -> None:
    settings = settings_for(exporters)
    recording = io.StringIO()
    store = Store(tmp_path / "s.sqlite", writer=True)
    live = LiveAttributor(settings, store, clock=clock, settle_seconds=1.2, record=recording)

    async def drive() -> list:  # type: ignore[type-arg]
        snaps = []
        deadline = clock() + 8
        while clock() < deadline and len(snaps) < 3:
            snaps += await live.tick()
            clock.now += 0.25  # a tick every 0.25 s of the test's time
        await live.aclose()
        return snaps

    snaps = asyncio.run(drive())
    store.close()
    assert len(snaps) >= 3
    for snap in snaps:
        (du,) = snap.nfs
        assert not du.stale and du.energy_basis == "modelled" and du.denominator == "all"
        # Kepler <=0.9: total = dynamic + idle = 10 W, idle part 2 W (policy `source`)
        assert du.measured_joules == pytest.approx(10.0, rel=0.02)
        assert du.static_joules == pytest.approx(2.0, rel=0.02)
        rows = snap.rows
        apps = {
            a: s + d
            for a, s, d in zip(rows.app, rows.static_joules, rows.dynamic_joules, strict=True)
        }
        assert set(apps) == {"factory-vision", "chat", "unknown"}
        # bytes 500:200:100 of 1000 IPv6 bytes (1140 - 14 x 10); packets 5:2:1 of 10
        assert apps["factory-vision"] / apps["chat"] == pytest.approx(2.5, rel=1e-6)
        assert du.untagged_joules == pytest.approx(du.measured_joules * 0.2, rel=1e-6)
    topo = topology_from_settings(settings)
    recording.seek(0)
    records = [r for _, r in read_records(recording)]
    replayed = {s.window_start: s for s in replay_run(topo, records)}
    for snap in snaps:
        again = replayed[snap.window_start]
        assert again.nfs[0].measured_joules == pytest.approx(snap.nfs[0].measured_joules, rel=1e-9)
        assert float(again.rows.dynamic_joules.sum()) == pytest.approx(
            float(snap.rows.dynamic_joules.sum()), rel=1e-9
        )
