"""Acceptance: every dashboard query returns data from a real Prometheus scraping the real agent
and attributor fed by real IOAM traffic (kernel-stamped in network namespaces), and a headless
Chromium screenshot of Prometheus's graph page for the main per-app query shows it.

Both processes run with the settings files the Helm chart renders into its ConfigMap (the
attributor's chart-owned keys, Kubernetes discovery and the store path, pointed at this stack).
Substitutes, named: Kepler cannot run here (no RAPL), so a Kepler-format endpoint serves modelled
pod power (the attributor reports it as `modelled`); the inference server's request counter is
served beside it. Grafana cannot run here: its queries run on Prometheus with its variables
substituted as Grafana would. Set E2E_UPDATE_SCREENSHOT=1 to refresh docs/images/.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

from tests import livestack as ls
from tests.agentproc import Background
from tests.conftest import ROOT, need, need_binary, need_root
from tests.dashboards import boards, queries, substitute
from tests.netns import namespaces

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


def test_every_dashboard_query_has_data_from_the_live_stack(tmp_path: Path) -> None:
    need_root()
    need_binary("ethtool")
    prometheus = need_binary("prometheus")
    need(
        importlib.util.find_spec("collector.services.attributor_cmd") is not None,
        "the live attributor (`e2e-energy attributor`, attribution branch) is not merged here",
    )
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
                rules = {r.get("record") or r["alert"]: ls.promql(rcv, r["expr"]) for r in _rules()}
                main = exprs[f"e2e-energy-overview.json / {MAIN_QUERY} / A"]
                per_app_role = ls.promql(rcv, main)
                _screenshot(rcv, main, tmp_path / "per-app.png")
            for p in procs:
                assert p.proc.poll() is None, f"{p.proc.args[3:6]} exited: {''.join(p.err)[-2000:]}"
        finally:
            for p in reversed(procs):
                p.stop()
            server.shutdown()
            server.server_close()
    empty = sorted(name for name, n in counts.items() if n == 0)
    assert not empty, "queries without data:\n" + "\n".join(empty)
    assert min(sent.values()) > 100
    seen = {(s["metric"]["app"], s["metric"]["role"]) for s in per_app_role}
    assert seen >= {(a, r) for a in ls.APPS for r in ("ru", "du", "cu", "upf", "inference")}
    assert all(float(s["value"][1]) > 0 for s in per_app_role)
    # Recording rules have data; no alert condition holds on a healthy stack.
    recorded = {name: len(res) for name, res in rules.items() if ":" in name}
    assert recorded and all(recorded.values()), recorded
    firing = {name: res for name, res in rules.items() if ":" not in name and res}
    assert not firing, firing
    attributed = conservation["attributed"] + conservation["unattributed"]
    assert attributed == pytest.approx(conservation["measured"], rel=1e-6)
    # The modelled watts served as Kepler counters come back as measured NF power.
    assert measured_watts == pytest.approx(sum(ls.WATTS.values()), rel=0.2)
    png = tmp_path / "per-app.png"
    assert png.stat().st_size > 20_000 and _colours(png) > 50, "the screenshot looks blank"
    if os.environ.get("E2E_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, SCREENSHOT)
