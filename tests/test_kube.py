"""collector.kube against kmock's Kubernetes emulator, through the official client.

kmock is the closest honest substitute (no API server runs here); it ignores label selectors,
which kube.py also applies client-side, so the filtering under test is real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector import kube
from collector.power.kepler import KeplerReader
from collector.settings import KeplerSource
from tests.http_fixture import serve_files
from tests.kmockapi import kmock_api
from tests.runtime import read_once

FIX = Path(__file__).parent / "fixtures" / "kepler"

PODS = (
    ("ran", "du-0", {"app": "du", "tier": "ran"}, {"e2e-energy.io/trace-id": "100:7"}),
    ("ran", "cu-0", {"app": "cu", "tier": "ran"}, {}),
    ("ai", "vlm-0", {"app": "factory-vision"}, {"e2e-energy.io/trace-id": "100:100"}),
)
AGENT_ENDPOINTS = {
    "apiVersion": "v1",
    "kind": "Endpoints",
    "metadata": {"name": "e2e-energy-agent", "namespace": "e2e-energy"},
    "subsets": [{"addresses": [{"ip": "10.0.0.2"}, {"ip": "fd00::3"}], "ports": [{"port": 9470}]}],
}


@pytest.fixture
def api() -> Iterator[Any]:
    with kmock_api(PODS, [AGENT_ENDPOINTS]) as api_client:
        yield api_client


def test_pods_by_label(api: Any) -> None:
    assert kube.pod_names(labels={"tier": "ran"}, namespaces=[], api_client=api) == {
        "ran/du-0",
        "ran/cu-0",
    }
    assert kube.pod_names(labels={"app": "du"}, namespaces=["ran"], api_client=api) == {"ran/du-0"}
    assert kube.pod_names(labels={"app": "du"}, namespaces=["ai"], api_client=api) == set()


def test_agent_endpoints_and_annotations(api: Any) -> None:
    urls = kube.agent_urls(
        namespace="e2e-energy", service="e2e-energy-agent", port=9470, api_client=api
    )
    assert urls == ["http://10.0.0.2:9470/metrics", "http://[fd00::3]:9470/metrics"]
    anns = kube.app_annotations(annotation="e2e-energy.io/trace-id", api_client=api)
    assert [(a.pod, a.app, a.value) for a in anns] == [
        ("vlm-0", "factory-vision", "100:100"),
        ("du-0", "du", "100:7"),
    ]


def test_kepler_label_rules_through_kube(api: Any, tmp_path: Path) -> None:
    (tmp_path / "metrics").write_text((FIX / "v0.10-a.prom").read_text())

    async def lookup() -> set[str]:
        return await kube.pod_names_async(labels={"app": "du"}, namespaces=[], api_client=api)

    with serve_files(tmp_path) as base:
        s = KeplerSource(name="k", kind="kepler", url=f"{base}/metrics", pod_labels={"app": "du"})
        res = read_once(KeplerReader(s, pod_lookup=lookup))
    assert res.up and {x.target for x in res.energy} == {"ran/du-0"}
