"""Rules across the source modules: pysnmp stays in the SNMP module, the runtime isolates a
broken source, targets follow CONTRACTS.md, Electricity Maps history is read in time order."""

from __future__ import annotations

import ast
import asyncio
import subprocess
from pathlib import Path

import pytest
import yaml

from collector.carbon.providers import parse_electricitymaps
from collector.models import ReadResult
from collector.power.accumulate import MemberAccumulator
from collector.power.registry import build_poller
from collector.power.targets import target_key
from collector.settings import load_settings
from collector.sources import Poller, ReadPolicy, Runner
from tests.conftest import EXAMPLE_SETTINGS, ROOT, need_binary
from tests.http_fixture import serve_files


def test_pysnmp_only_in_the_snmp_module() -> None:
    importers = set()
    for path in (ROOT / "collector").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "pysnmp" or n.startswith("pysnmp.") for n in names):
                importers.add(path.relative_to(ROOT).as_posix())
    assert importers == {"collector/power/pdu_snmp.py"}


class _Fake:
    """A source whose fetch does what the test needs; the runtime does the rest."""

    def __init__(self, name: str, timeout: float = 10.0, interval: float = 5.0) -> None:
        self.name = name
        self.policy = ReadPolicy(timeout_seconds=timeout, interval_seconds=interval)

    async def fetch(self) -> None:
        return None

    def parse(self, raw: None, t: float) -> ReadResult:
        return ReadResult(self.name, True, 0.0)


class _Broken(_Fake):
    async def fetch(self) -> None:
        raise RuntimeError("a bug in a source")


class _Slow(_Fake):
    async def fetch(self) -> None:
        await asyncio.sleep(30)


def _poller(*sources: _Fake) -> Poller:
    return Poller([Runner(s) for s in sources])


def test_poller_isolates_sources() -> None:
    poller = _poller(_Broken("broken"), _Slow("slow", timeout=0.2), _Fake("fine"))
    first = {r.source: r for r in asyncio.run(poller.poll_once())}
    asyncio.run(poller.poll_once())
    assert first["fine"].up
    assert first["broken"].errors[0].kind == "internal"
    assert "a bug in a source" in first["broken"].errors[0].message
    assert first["slow"].errors[0].kind == "timeout"
    health = poller.health()
    assert health["slow"].errors_total == {"timeout": 2}
    assert health["fine"].up and health["fine"].errors_total == {}


def test_target_key() -> None:
    assert target_key("1") == "1"
    assert target_key({"namespace": "ai", "pod": "vlm-0"}) == "ai/vlm-0"
    with pytest.raises(ValueError, match="unknown keys"):
        target_key({"pod": "x", "container": "y"})


def test_example_settings_build() -> None:
    example = yaml.safe_load(EXAMPLE_SETTINGS.read_text())
    names = [r.name for r in build_poller(load_settings(EXAMPLE_SETTINGS)).runners]
    assert names == [s["name"] for s in example["sources"]]


def test_electricitymaps_history_sorted() -> None:
    doc = {
        "zone": "DE",
        "history": [
            {"carbonIntensity": 300, "datetime": "2024-01-01T01:00:00.000Z", "isEstimated": False},
            {"carbonIntensity": 250, "datetime": "2024-01-01T00:00:00.000Z"},
            {"carbonIntensity": None, "datetime": "2024-01-01T02:00:00.000Z"},
        ],
    }
    points = parse_electricitymaps(doc, "z", 0.0)
    assert [p.grams_per_kwh for p in points] == [250, 300]


def test_accumulator_member_churn() -> None:
    acc = MemberAccumulator()
    assert acc.update("total", {"a/p": {"c1": 10.0}}) == {"a/p": 10.0}
    assert acc.update("total", {"a/p": {"c2": 1.0}}) == {"a/p": 11.0}
    assert acc.update("total", {"a/p": {"c2": 0.5}}) == {"a/p": 0.5}  # reset: base cleared
    small = MemberAccumulator(forget_after_reads=2)
    small.update("total", {"a/gone": {"c": 5.0}})
    for _ in range(3):
        small.update("total", {"a/p": {"c": 1.0}})
    assert len(small) == 1  # the vanished pod's state was forgotten


def test_poller_run_on_intervals() -> None:
    seen: list[str] = []

    async def main() -> None:
        stop = asyncio.Event()
        poller = _poller(_Fake("fine", interval=0.1), _Slow("slow", timeout=0.5, interval=0.1))

        async def on_result(r: ReadResult) -> None:
            seen.append(r.source)
            if seen.count("fine") >= 4:
                stop.set()

        await asyncio.wait_for(poller.run(on_result, stop), timeout=10)

    asyncio.run(main())
    # the slow source (0.5 s deadline) did not hold the fast one back
    assert seen.count("fine") >= 4 and seen.count("slow") <= 1


def test_health_metrics_pass_promtool(tmp_path: Path) -> None:
    from dataclasses import replace

    from tests.outputs.test_exporter import render, replay_snapshot

    promtool = need_binary("promtool")
    poller = _poller(_Broken("broken"), _Fake("fine"))
    asyncio.run(poller.poll_once())
    # the live path: runtime health -> snapshot -> the attributor's exporter
    text = render(replace(replay_snapshot(), sources=tuple(poller.health().values())))
    assert 'e2e_energy_source_up{source="fine"} 1.0' in text
    assert 'e2e_energy_source_up{source="broken"} 0.0' in text
    assert 'e2e_energy_source_errors_total{kind="internal",source="broken"} 1.0' in text
    out = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_kube_lookup_failure_is_a_source_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collector.power.registry import build_source
    from collector.settings import KeplerSource

    (tmp_path / "metrics").write_text("# TYPE kepler_pod_cpu_joules_total counter\n")
    with serve_files(tmp_path) as base:
        s = KeplerSource(name="k", kind="kepler", url=f"{base}/metrics", pod_labels={"a": "b"})
        monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        res = asyncio.run(build_source(s).read())
    assert not res.up and res.errors[0].kind == "kube"
