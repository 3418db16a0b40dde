"""End to end on the namespace testbed: kernel IOAM -> agents -> attributor, scraped by Prometheus.

Checks, against what the apps themselves sent and the topology file: the NodeIDs the agents saw,
per-app packet counts, the GTP-U verification capture (replayed through the agent) against the
plain collection points, conservation for every NF and window, RU readings that came over SNMP
from snmpd, request counts, and a real Prometheus scraping agents and attributor.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.settings import load_settings
from testbed.settings import load_topology
from tests.conftest import need, need_binary, need_root

pytestmark = [pytest.mark.netns, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent.parent
PREFIX = f"e2te{os.getpid() % 100000}"
SEND_SECONDS = 8.0


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        labels_text, value = line.rsplit(" ", 1)
        labels = dict(
            (kv.split("=", 1)[0], kv.split("=", 1)[1].strip('"'))
            for kv in labels_text[len(name) + 1 : -1].split('",')
        )
        out.append(({k: v.strip('"') for k, v in labels.items()}, float(value)))
    return out


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return str(r.read().decode())


def _prometheus(run: Path, targets: dict[str, list[str]]) -> subprocess.Popen[bytes]:
    from testbed.runner import free_port

    port = free_port()
    jobs = "".join(
        f"  - job_name: {job}\n    scrape_interval: 1s\n    static_configs:\n"
        f"      - targets: {json.dumps(t)}\n"
        for job, t in targets.items()
    )
    conf = run / "prometheus.yml"
    conf.write_text("global:\n  scrape_interval: 1s\nscrape_configs:\n" + jobs)
    with open(run / "prometheus.log", "wb") as log:
        proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={conf}",
                f"--storage.tsdb.path={run / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    proc.port = port  # type: ignore[attr-defined]
    return proc


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    need_root()
    for tool in ("ip", "ethtool", "snmpd", "tshark", "dumpcap", "prometheus"):
        need_binary(tool)
    need(
        importlib.util.find_spec("collector.services.attributor_cmd") is not None,
        "the live attributor (`e2e-energy attributor`) is not in this build",
    )
    from testbed import netns
    from testbed.demo import server_usage, start_agents, start_attributor
    from testbed.runner import Testbed

    need(netns.unsupported_reason() is None, str(netns.unsupported_reason()))
    run = tmp_path_factory.mktemp("e2e")
    settings = load_topology(ROOT / "testbed" / "topology.yaml")
    with Testbed(settings, run, prefix=PREFIX) as bed:
        start_agents(bed)
        record = start_attributor(bed)
        prom = _prometheus(
            run,
            {
                "agents": [
                    urllib.parse.urlparse(bed.agent_url(n)).netloc for n in bed.tb.agent_nodes
                ],
                "attributor": [f"127.0.0.1:{bed.api_port}"],
            },
        )
        try:
            plain = bed.start_capture("plain", "srv", "upf0")
            n3 = bed.start_capture("n3", "upf", "cu0")
            models = bed.tb.models
            # simple asks for the large model, complex for the small one: both serve
            chosen = {"simple": models.large, "complex": models.small}
            apps = [bed.start_app(a, SEND_SECONDS, model=chosen[a.app]) for a in bed.tb.apps]
            for proc in apps:
                assert proc.wait(120) == 0
            usage = server_usage(bed)
            bed.stop("capture-plain")
            bed.stop("capture-n3")
            time.sleep(2 * settings.window_seconds + 2)
            agents = {n: _get(bed.agent_url(n)) for n in bed.tb.agent_nodes}
            attributor = _get(f"http://127.0.0.1:{bed.api_port}/metrics")
            prom_up = _wait_prometheus(prom.port, 3)  # type: ignore[attr-defined]
            bed.stop("attributor")
            yield {
                "bed": bed,
                "settings": settings,
                "agents": agents,
                "attributor": attributor,
                "record": record,
                "plain": plain,
                "n3": n3,
                "prom_up": prom_up,
                "stats": {a.app: bed.app_stats(a.app) for a in bed.tb.apps},
                "chosen": chosen,
                "usage": usage,
            }
        finally:
            prom.terminate()
            prom.wait(10)


def _wait_prometheus(port: int, expected: int) -> dict[str, float]:
    deadline = time.monotonic() + 30
    up: dict[str, float] = {}
    while time.monotonic() < deadline:
        body = json.loads(_get(f"http://127.0.0.1:{port}/api/v1/query?query=up"))
        up = {r["metric"]["instance"]: float(r["value"][1]) for r in body["data"]["result"]}
        if len(up) == expected and all(v == 1.0 for v in up.values()):
            return up
        time.sleep(1)
    return up


def _agent_counts(e2e: dict[str, Any], direction: str) -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], float] = {}
    for text in e2e["agents"].values():
        for labels, value in _samples(text, "e2e_energy_ioam_packets_total"):
            if labels["direction"] == direction:
                counts[(labels["namespace_id"], labels["node_id"])] = value
    return counts


def test_node_ids_match_the_topology(e2e: dict[str, Any]) -> None:
    expected = {str(n.node_id) for n in e2e["settings"].testbed.nodes if n.node_id}
    for direction in ("uplink", "downlink"):
        assert {node for _, node in _agent_counts(e2e, direction)} == expected


def test_per_app_packet_counts_match_what_the_apps_sent(e2e: dict[str, Any]) -> None:
    tb = e2e["settings"].testbed
    up, down = _agent_counts(e2e, "uplink"), _agent_counts(e2e, "downlink")
    for app in tb.apps:
        stats = e2e["stats"][app.app]
        assert stats["answers"] == stats["requests_sent"] > 0
        for node in (n for n in tb.nodes if n.node_id):
            key = (str(app.namespace_id), str(node.node_id))
            assert up[key] == stats["packets_sent"], (app.app, node.name)
            assert down[key] == stats["packets_received"], (app.app, node.name)


def _replay_agent(e2e: dict[str, Any], pcap: Path) -> dict[tuple[str, str], float]:
    config = e2e["bed"].run_dir / "agent-srv.yaml"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "collector",
            "agent",
            "--config",
            str(config),
            "--pcap",
            str(pcap),
            "--once",
            "--direction",
            "uplink",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return {
        (labels["namespace_id"], labels["node_id"]): value
        for labels, value in _samples(out, "e2e_energy_ioam_packets_total")
    }


def test_gtpu_verification_capture_agrees_with_the_plain_one(e2e: dict[str, Any]) -> None:
    n3 = _replay_agent(e2e, e2e["n3"])
    plain = _replay_agent(e2e, e2e["plain"])
    up, down = _agent_counts(e2e, "uplink"), _agent_counts(e2e, "downlink")
    assert plain == up  # the replayed plain capture is the live uplink agent's view
    seen = {node for _, node in n3}
    assert seen == {"11", "21", "31", "41"}  # RU, DU, CU inside uplink G-PDUs; UPF downlink
    for (ns, node), value in n3.items():
        reference = up if node in ("11", "21", "31") else down
        assert value == reference[(ns, node)], (ns, node)


def _snapshots(e2e: dict[str, Any]) -> list[Any]:
    from collector.attribution import Engine, topology_from_settings
    from collector.attribution.grid import windows_between
    from collector.attribution.records import read_records

    settings = load_settings(e2e["bed"].run_dir / "collector.yaml")
    topo = topology_from_settings(settings)
    with e2e["record"].open() as f:
        records = [r for _, r in read_records(f)]
    engine = Engine(topo)
    engine.ingest(records)
    first, last = min(r.t for r in records), max(r.t for r in records)
    return [engine.compute(s) for s in windows_between(first, last, topo.window_seconds)]


def test_conservation_holds_for_every_nf_and_window(e2e: dict[str, Any]) -> None:
    snaps = _snapshots(e2e)
    assert len(snaps) >= 2
    measured = 0.0
    for s in snaps:
        for w in s.nfs:
            assert w.conservation_error_ratio <= 1e-9, (w.nf, s.window_start)
            measured += w.measured_joules
            # summed here from the published rows, not read from the engine's own ratio
            rows = s.rows.nf == w.nf
            apps = float(s.rows.static_joules[rows].sum() + s.rows.dynamic_joules[rows].sum())
            unattributed = w.untagged_joules + w.idle_no_traffic_joules + w.catch_up_joules
            assert apps + unattributed == pytest.approx(w.measured_joules, rel=1e-9, abs=1e-9)
    assert measured > 0
    for _, ratio in _samples(e2e["attributor"], "e2e_energy_conservation_error_ratio"):
        assert ratio <= 1e-9
    # and in what the live attributor exported: Σ app + Σ unattributed = measured, per NF
    text = e2e["attributor"]
    per_nf: dict[str, float] = {}
    for name, sign in (
        ("e2e_energy_app_joules_total", 1.0),
        ("e2e_energy_nf_unattributed_joules_total", 1.0),
        ("e2e_energy_nf_joules_total", -1.0),
    ):
        for labels, value in _samples(text, name):
            per_nf[labels["nf"]] = per_nf.get(labels["nf"], 0.0) + sign * value
    exported = {lab["nf"]: v for lab, v in _samples(text, "e2e_energy_nf_joules_total")}
    assert set(per_nf) == set(exported) and sum(exported.values()) > 0
    for nf, diff in per_nf.items():
        assert abs(diff) <= 1e-9 * max(exported[nf], 1.0), (nf, diff)


def test_ru_readings_came_over_snmp_from_snmpd(e2e: dict[str, Any]) -> None:
    from collector.attribution.records import EnergyRecord, read_records

    with e2e["record"].open() as f:
        ru = [r for _, r in read_records(f) if isinstance(r, EnergyRecord) and r.nf == "ru1"]
    watts = [r for r in ru if r.watts is not None]
    counters = [r for r in ru if r.joules_total is not None]
    assert len(watts) >= 5
    # the outlet's energy column (tenths of kWh) arrived too, with its 360 kJ resolution
    assert counters and all(r.resolution_joules == 360_000.0 for r in counters)
    ru = e2e["settings"].testbed.power.radio["ru"]
    n_trx, p0, dp, pmax = (p.value for p in (ru.n_trx, ru.p0_watts, ru.delta_p, ru.p_max_watts))
    for r in watts:  # EARTH eq. 1 between no load and full load, as integer watts
        assert r.watts is not None
        assert round(n_trx * p0) <= r.watts <= round(n_trx * (p0 + dp * pmax))
    up = dict((lab["source"], v) for lab, v in _samples(e2e["attributor"], "e2e_energy_source_up"))
    assert up.get("ran-pdu") == 1.0
    bed = e2e["bed"]
    runtime = load_settings(bed.run_dir / "collector.yaml")
    pdu = next(s for s in runtime.sources if s.name == "ran-pdu")
    assert (pdu.kind, getattr(pdu, "address", "")) == ("snmp", f"127.0.0.1:{bed.snmp_port}")
    assert "NET-SNMP version" in (bed.run_dir / "snmpd-own.log").read_text()


def test_request_counts_match_what_the_apps_sent(e2e: dict[str, Any]) -> None:
    from collector.attribution.records import RequestsRecord, read_records

    with e2e["record"].open() as f:
        reqs = [r for _, r in read_records(f) if isinstance(r, RequestsRecord)]
    last: dict[str, float] = {}
    for r in sorted(reqs, key=lambda r: r.t):
        last[r.app] = r.requests_total
    for app, stats in e2e["stats"].items():
        assert last[app] == stats["answers"], app


def test_real_prometheus_scrapes_agents_and_attributor(e2e: dict[str, Any]) -> None:
    assert len(e2e["prom_up"]) == 3
    assert all(v == 1.0 for v in e2e["prom_up"].values()), e2e["prom_up"]


def test_each_app_was_served_by_the_model_it_asked_for(e2e: dict[str, Any]) -> None:
    """The server's own counters: requests per (task, model) equal the app's answers, with the
    model's CPU time measured; no request went to the other model."""
    for app, stats in e2e["stats"].items():
        model = e2e["chosen"][app]
        assert stats["model"] == f"{model} (sentence-embedding model)"
        requests, cpu = e2e["usage"][(app, model)]
        assert requests == stats["answers"] > 0
        assert cpu > 0
        other = next(m for m in set(e2e["chosen"].values()) if m != model)
        assert e2e["usage"][(app, other)] == (0.0, 0.0)
