"""collector.kube against kmock's Kubernetes emulator, through the official client.

kmock is the closest honest substitute (no API server runs here); it ignores label selectors,
which kube.py also applies client-side, so the filtering under test is real.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector import kube
from collector.power.kepler import KeplerReader
from collector.settings import KeplerSource
from tests.conftest import need
from tests.http_fixture import serve_files

try:
    import kmock
    from kubernetes import client
except ImportError:  # pragma: no cover - reported through need() below
    kmock = client = None

pytestmark = pytest.mark.usefixtures("_need_kmock")


@pytest.fixture
def _need_kmock() -> None:
    need(kmock is not None and client is not None, "kmock and kubernetes are not installed")


FIX = Path(__file__).parent / "fixtures" / "kepler"


@pytest.fixture
def api() -> Iterator[Any]:
    ready, box = threading.Event(), {}

    async def run() -> None:
        emu = kmock.KubernetesEmulator()
        try:
            async with emu, kmock.Server(emu) as srv:
                with warnings.catch_warnings():  # kmock 0.8 uses a deprecated importlib API
                    warnings.simplefilter("ignore", DeprecationWarning)
                    emu.resources.load_bundled()
                box["url"] = str(srv.url)
                ready.set()
                while not box.get("stop"):
                    await asyncio.sleep(0.02)
        finally:
            ready.set()

    thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    thread.start()
    assert ready.wait(15) and "url" in box, "kmock did not start"
    cfg = client.Configuration()
    cfg.host = box["url"].rstrip("/")
    api_client = client.ApiClient(cfg)
    core = client.CoreV1Api(api_client)
    for ns, name, labels, ann in (
        ("ran", "du-0", {"app": "du", "tier": "ran"}, {"e2e-energy.io/trace-id": "100:7"}),
        ("ran", "cu-0", {"app": "cu", "tier": "ran"}, {}),
        ("ai", "vlm-0", {"app": "factory-vision"}, {"e2e-energy.io/trace-id": "100:100"}),
    ):
        core.create_namespaced_pod(
            ns,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": ann},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        )
    core.create_namespaced_endpoints(
        "e2e-energy",
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "e2e-energy-agent", "namespace": "e2e-energy"},
            "subsets": [
                {"addresses": [{"ip": "10.0.0.2"}, {"ip": "fd00::3"}], "ports": [{"port": 9470}]}
            ],
        },
    )
    try:
        yield api_client
    finally:
        box["stop"] = True
        thread.join(timeout=5)
        api_client.close()


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
        res = asyncio.run(KeplerReader(s, pod_lookup=lookup).read())
    assert res.up and {x.target for x in res.energy} == {"ran/du-0"}
