"""Acceptance: every dashboard query returns data from a real Prometheus scraping the real agent
and attributor fed by real IOAM traffic (kernel-stamped in network namespaces), and a headless
Chromium screenshot of Prometheus's graph page for the main per-app query shows it. On the same
run (one module-scoped stack), the attributor's scheduled placement advice is checked by hand
against its store and against the API, /metrics and `placement solve --from-store`.

Both processes run with the settings files the Helm chart renders into its ConfigMap (the
attributor's chart-owned keys, Kubernetes discovery and the store path, pointed at this stack).
Substitutes, named: Kepler cannot run here (no RAPL), so a Kepler-format endpoint serves modelled
pod power (the attributor reports it as `modelled`); the inference server's request counter is
served beside it. Grafana cannot run here: its queries run on Prometheus with its variables
substituted as Grafana would. Set E2E_UPDATE_SCREENSHOT=1 to refresh docs/images/.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests import livestack as ls
from tests.agentproc import Background
from tests.conftest import ROOT, need, need_binary, need_root
from tests.dashboards import boards, queries, substitute
from tests.netns import namespaces
from tests.placement.handcheck import app_inputs, read_rows, transport_per_byte_km

pytestmark = [pytest.mark.netns, pytest.mark.slow]

# Grafana's interval variables for a 1 s scrape interval and a short run.
INTERVALS = {"__rate_interval": "10s", "__range": "2m", "__interval": "1s"}
MAIN_QUERY = "Power per app and role (RU/DU/CU/UPF/inference)"
SCREENSHOT = ROOT / "docs" / "images" / "prometheus-per-app-power.png"
SETTLE_SECONDS = 25
# One scrape of the attributor: measured = attributed + unattributed, summed over NFs.
CONSERVATION = {
    "measured": "sum(e2e_energy_nf_joules_total)",
    "attributed": "sum(e2e_energy_app_joules_total)",
    "unattributed": "sum(e2e_energy_nf_unattributed_joules_total)",
}
MEASURED_WATTS = "sum(rate(e2e_energy_nf_joules_total[20s]))"


def _start(ns: str, *cmd: str) -> Background:
    return Background(["ip", "netns", "exec", ns, *cmd])


def _wait_for_all(ns: str, exprs: dict[str, str], timeout: float) -> dict[str, int]:
    """Polls until every query returns at least one series; returns the series counts."""
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = {name: len(ls.promql(ns, e)) for name, e in exprs.items()}
        if all(counts.values()):
            return counts
        time.sleep(2)
    return counts


def _screenshot(ns: str, expr: str, out: Path) -> None:
    chromium = need_binary("chromium")
    q = urllib.parse.urlencode(
        {"g0.expr": expr, "g0.tab": "0", "g0.stacked": "1", "g0.range_input": "45s"}
    )
    url = f"http://127.0.0.1:{ls.PORTS['prometheus']}/graph?{q}"
    cmd = [
        "ip",
        "netns",
        "exec",
        ns,
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={out.parent / 'chromium-profile'}",
        "--virtual-time-budget=10000",
        f"--screenshot={out}",
        "--window-size=1400,1000",
        url,
    ]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert out.exists(), "chromium wrote no screenshot"


def _rules() -> list[dict[str, str]]:
    text = (ROOT / "deploy" / "prometheus" / "rules.yaml").read_text()
    return [r for g in yaml.safe_load(text)["groups"] for r in g["rules"]]


def _colours(png: Path) -> int:
    from PIL import Image

    with Image.open(png) as img:
        return len(img.convert("RGB").getcolors(maxcolors=1 << 20) or [])


@dataclass
class LiveRun:
    """What one run of the stack produced, read while it ran (the assertions come after)."""

    tmp: Path
    counts: dict[str, int]
    sent: dict[str, int]
    conservation: dict[str, float]
    measured_watts: float
    rules: dict[str, list[dict[str, Any]]]
    per_app_role: list[dict[str, Any]]
    exited: list[str]
    advice: dict[str, Any]
    metrics: str
    posted: tuple[int, Any]
    refused_before: tuple[int, Any]
    refusals_seen: list[dict[str, Any]]


def _consistent_advice(ns: str, timeout: float = 90.0) -> tuple[dict[str, Any], str]:
    """The latest advice once both apps are advised, with a /metrics scrape taken between two
    reads of the same advice (so both show one run)."""
    base = f"http://127.0.0.1:{ls.PORTS['attributor']}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, first = ls.http_get_json(ns, f"{base}/v1/placement/advice")
        metrics = ls.http_get(ns, f"{base}/metrics").decode()
        _, again = ls.http_get_json(ns, f"{base}/v1/placement/advice")
        advised = status == 200 and all(a["status"] == "advice" for a in first["apps"])
        if advised and first == again:
            return first, metrics
        time.sleep(1)
    raise AssertionError(f"no advice for both apps within {timeout} s: {status} {first}")


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    need_root()
    need_binary("ethtool")
    prometheus = need_binary("prometheus")
    need(
        importlib.util.find_spec("collector.services.attributor_cmd") is not None,
        "the live attributor (`e2e-energy attributor`, attribution branch) is not merged here",
    )
    tmp_path = tmp_path_factory.mktemp("live")
    tags = ["snd", *[r for r, _, _ in ls.ROUTERS], "rcv"]
    procs: list[Background] = []
    with namespaces(*tags) as ns_list:
        names = dict(zip(tags, ns_list, strict=True))
        rcv = names["rcv"]
        ls.build_chain(names)
        sources = ls.Sources()
        server = ls.Sources.serve(sources, rcv)
        try:
            agent_cfg, settings = ls.chart_settings(tmp_path)
            prom_cfg = tmp_path / "prometheus.yml"
            prom_cfg.write_text(
                yaml.safe_dump(ls.prometheus_config(ROOT / "deploy" / "prometheus" / "rules.yaml"))
            )
            py = [sys.executable, "-m", "collector"]
            procs.append(_start(rcv, *py, "agent", "--config", str(agent_cfg)))
            procs[-1].wait_for(r"listening on")
            procs.append(_start(rcv, *py, "attributor", "--config", str(settings)))
            procs.append(
                _start(
                    rcv,
                    prometheus,
                    f"--config.file={prom_cfg}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{ls.PORTS['prometheus']}",
                )
            )
            ls.wait_until_up(rcv, f"http://127.0.0.1:{ls.PORTS['attributor']}/metrics")
            ls.wait_until_up(rcv, f"http://127.0.0.1:{ls.PORTS['prometheus']}/-/ready")
            by_name = boards()
            exprs = {
                f"{q.dashboard} / {q.panel} / {q.ref_id}": substitute(
                    q.expr, by_name[q.dashboard], INTERVALS
                )
                for q in queries()
            }
            with ls.traffic(names["snd"], sources) as sent:
                counts = _wait_for_all(rcv, exprs, timeout=120)
                time.sleep(SETTLE_SECONDS)  # a graph worth looking at, and steady rates
                conservation = {
                    name: sum(float(s["value"][1]) for s in ls.promql(rcv, e))
                    for name, e in CONSERVATION.items()
                }
                measured_watts = float(ls.promql(rcv, MEASURED_WATTS)[0]["value"][1])
                advice, metrics = _consistent_advice(rcv)
                rules = {r.get("record") or r["alert"]: ls.promql(rcv, r["expr"]) for r in _rules()}
                main = exprs[f"e2e-energy-overview.json / {MAIN_QUERY} / A"]
                per_app_role = ls.promql(rcv, main)
                _screenshot(rcv, main, tmp_path / "per-app.png")
                api = f"http://127.0.0.1:{ls.PORTS['attributor']}/v1/placement/advice"
                period = advice["period"]
                posted = ls.http_post(rcv, api, {"period_seconds": period["seconds"],
                                                 "end": period["end"]})  # fmt: skip
                before = {"period_seconds": period["seconds"], "end": period["start"] - 86_400}
                refused_before = ls.http_post(rcv, api, before)
                refusals_seen = ls.promql(rcv, "max_over_time(e2e_energy_placement_refused[10m])")
            exited = [
                f"{p.proc.args[3:6]} exited: {''.join(p.err)[-2000:]}"
                for p in procs
                if p.proc.poll() is not None
            ]
        finally:
            for p in reversed(procs):
                p.stop()
            server.shutdown()
            server.server_close()
    return LiveRun(
        tmp_path, counts, dict(sent), conservation, measured_watts, rules, per_app_role, exited,
        advice, metrics, posted, refused_before, refusals_seen,
    )  # fmt: skip


def test_every_dashboard_query_has_data_from_the_live_stack(live_run: LiveRun) -> None:
    run = live_run
    assert not run.exited, run.exited
    empty = sorted(name for name, n in run.counts.items() if n == 0)
    assert not empty, "queries without data:\n" + "\n".join(empty)
    assert min(run.sent.values()) > 100
    seen = {(s["metric"]["app"], s["metric"]["role"]) for s in run.per_app_role}
    assert seen >= {(a, r) for a in ls.APPS for r in ("ru", "du", "cu", "upf", "inference")}
    assert all(float(s["value"][1]) > 0 for s in run.per_app_role)
    # Recording rules have data; no alert condition holds on a healthy stack.
    recorded = {name: len(res) for name, res in run.rules.items() if ":" in name}
    assert recorded and all(recorded.values()), recorded
    firing = {name: res for name, res in run.rules.items() if ":" not in name and res}
    assert not firing, firing
    attributed = run.conservation["attributed"] + run.conservation["unattributed"]
    assert attributed == pytest.approx(run.conservation["measured"], rel=1e-6)
    # The modelled watts served as Kepler counters come back as measured NF power.
    assert run.measured_watts == pytest.approx(sum(ls.WATTS.values()), rel=0.2)
    png = run.tmp / "per-app.png"
    assert png.stat().st_size > 20_000 and _colours(png) > 50, "the screenshot looks blank"
    if os.environ.get("E2E_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, SCREENSHOT)


def _metric_values(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name
    }


def test_live_advice_agrees_with_the_store_api_metrics_and_cli(live_run: LiveRun) -> None:
    """The scheduled advice of the real attributor: its measured inputs recomputed by hand from
    the store's rows, and the API (GET and POST), /metrics and `placement solve --from-store`
    agreeing on the same period; a period before the stack ran is refused by name."""
    run = live_run
    doc = run.advice
    period = doc["period"]
    assert period["seconds"] == ls.ADVICE_PERIOD_SECONDS
    store = run.tmp / "store.sqlite"
    rows = read_rows(store, period["start"], period["end"])
    apps = {a["app"]: a for a in doc["apps"]}
    assert set(apps) == set(ls.PLACEMENT_APPS)
    for app, entry in apps.items():
        assert entry["status"] == "advice" and entry["class"] == ls.PLACEMENT_APPS[app]
        hand = app_inputs(rows, app, period["seconds"])
        for key, value in hand.items():
            assert entry["inputs"][key] == pytest.approx(value, rel=1e-9), (app, key)
        assert entry["inputs"]["coverage_ratio"] >= 0.8
    # Inference splits by requests, so each app's model energy per request is the inference
    # NF's: its modelled 60 W over the period's requests of both apps.
    covered = {a["inputs"]["covered_seconds"] for a in doc["apps"]}
    assert len(covered) == 1
    total_requests = sum(a["inputs"]["requests"] for a in doc["apps"])
    physical = ls.WATTS["vlm"] * covered.pop() / total_requests
    for entry in doc["apps"]:
        assert entry["inputs"]["model_joules_per_request"] == pytest.approx(physical, rel=0.02)
    tau = transport_per_byte_km(rows, ["upf1"], ls.TRANSPORT_KM)
    assert doc["transport"]["source"] == "measured"
    assert doc["transport"]["joules_per_byte_km"] == pytest.approx(tau, rel=1e-9)
    edge = next(r for r in doc["regions"] if r["name"] == "edge")
    assert edge["intensity_source"] == "live" and edge["grams_per_kwh"] == 300.0

    # /metrics shows the same run
    m = run.metrics
    assert _metric_values(m, "e2e_energy_placement_last_run_timestamp_seconds") == {
        (): doc["computed_at"]
    }
    saving = _metric_values(m, "e2e_energy_placement_saving_grams_per_request")
    coverage = _metric_values(m, "e2e_energy_placement_input_coverage_ratio")
    joules = _metric_values(m, "e2e_energy_placement_input_joules_per_request")
    for app, entry in apps.items():
        key = (("app", app), ("class", entry["class"]))
        assert saving[key] == entry["saving_per_request"]["co2_grams"]
        assert coverage[(("app", app),)] == entry["inputs"]["coverage_ratio"]
        for part in ("model", "access"):
            got = joules[(("app", app), ("part", part))]
            assert got == entry["inputs"][f"{part}_joules_per_request"]

    # POST for the same period, and the CLI offline from the store, give the same advice
    status, posted = run.posted
    assert status == 200 and posted["period"] == period
    settings = run.tmp / "attributor.yaml"
    cli = subprocess.run(
        [sys.executable, "-m", "collector", "placement", "solve", "--from-store", str(store),
         "--settings", str(settings), "--period", f"{period['seconds']:g}s",
         "--end", repr(period["end"]), "--format", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    offline = json.loads(cli.stdout)
    for other in (posted, offline):
        assert other["period"] == period and other["transport"] == doc["transport"]
        for mine, theirs in zip(doc["apps"], other["apps"], strict=True):
            assert theirs["inputs"] == mine["inputs"]
            assert theirs["placement"] == mine["placement"]
            assert theirs["saving_per_request"] == pytest.approx(mine["saving_per_request"])

    # refusals: a period before the stack ran is a 409 naming the reason for each app; the
    # first scheduled runs (no traffic yet) were refused, and Prometheus saw the metric
    status, body = run.refused_before
    assert status == 409
    assert {r["app"]: r["reason"] for r in body["refusals"]} == dict.fromkeys(
        ls.PLACEMENT_APPS, "period_not_covered"
    )
    seen = {s["metric"]["app"]: s["metric"]["reason"] for s in run.refusals_seen}
    assert set(seen) == set(ls.PLACEMENT_APPS)
    assert set(seen.values()) <= {"period_not_covered", "no_requests"}
