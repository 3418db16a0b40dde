"""collector.kube against kmock's Kubernetes emulator, through the official client.

kmock is the closest honest substitute (no API server runs here); it ignores label selectors,
which kube.py also applies client-side, so the filtering under test is real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

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
SERVICE = "e2e-energy-agent"


def endpoint_slice(name: str, family: str, endpoints: list[dict[str, Any]], service: str = SERVICE):
    """An EndpointSlice as the control plane writes them for a Service (discovery.k8s.io/v1)."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": "e2e-energy",
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": family,
        "endpoints": endpoints,
        "ports": [{"name": "metrics", "port": 9470, "protocol": "TCP"}],
    }


SLICES = [
    endpoint_slice(
        "agent-v4",
        "IPv4",
        [
            {"addresses": ["10.0.0.2"], "conditions": {"ready": True}, "nodeName": "edge-1"},
            {"addresses": ["10.0.0.4"], "conditions": {"ready": False}, "nodeName": "edge-2"},
            {"addresses": ["10.0.0.5"], "nodeName": "edge-3"},  # no conditions: ready
        ],
    ),
    endpoint_slice("agent-v6", "IPv6", [{"addresses": ["fd00::3"], "conditions": {"ready": True}}]),
    # a second slice of the same Service repeating an address (during a slice rebalance)
    endpoint_slice("agent-v4-b", "IPv4", [{"addresses": ["10.0.0.2"]}]),
    # another Service's slice in the same namespace: never an agent
    endpoint_slice("other", "IPv4", [{"addresses": ["10.9.9.9"]}], service="something-else"),
]


@pytest.fixture
def api() -> Iterator[Any]:
    with kmock_api(PODS, SLICES) as api_client:
        yield api_client


def test_pods_by_label(api: Any) -> None:
    assert kube.pod_names(labels={"tier": "ran"}, namespaces=[], api_client=api) == {
        "ran/du-0",
        "ran/cu-0",
    }
    assert kube.pod_names(labels={"app": "du"}, namespaces=["ran"], api_client=api) == {"ran/du-0"}
    assert kube.pod_names(labels={"app": "du"}, namespaces=["ai"], api_client=api) == set()


def test_agent_urls_from_ready_endpoints_of_the_services_slices(api: Any) -> None:
    urls = kube.agent_urls(namespace="e2e-energy", service=SERVICE, port=9470, api_client=api)
    assert urls == [
        "http://10.0.0.2:9470/metrics",
        "http://10.0.0.5:9470/metrics",
        "http://[fd00::3]:9470/metrics",
    ]
    assert kube.agent_urls(namespace="elsewhere", service=SERVICE, port=1, api_client=api) == []


def test_app_annotations(api: Any) -> None:
    anns = kube.app_annotations(annotation="e2e-energy.io/trace-id", api_client=api)
    assert [(a.pod, a.app, a.value) for a in anns] == [
        ("vlm-0", "factory-vision", "100:100"),
        ("du-0", "du", "100:7"),
    ]


def test_calls_without_a_client_share_one_configured_once(
    api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kubeconfig is read by the first call only: with it gone, later calls still work."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kmock", "cluster": {"server": api.configuration.host}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "kmock", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    from kubernetes.config import kube_config  # reads $KUBECONFIG when imported: patch its copy

    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setattr(kube, "_shared", None)
    try:
        first = kube.agent_urls(namespace="e2e-energy", service=SERVICE, port=9470)
        shared = kube.shared_client()
        kubeconfig.unlink()
        assert kube.pod_names(labels={"app": "du"}, namespaces=[]) == {"ran/du-0"}
        assert kube.agent_urls(namespace="e2e-energy", service=SERVICE, port=9470) == first
        assert kube.shared_client() is shared
        assert len(first) == 3
    finally:
        if kube._shared is not None:
            kube._shared.close()


def test_kepler_label_rules_through_kube(api: Any, tmp_path: Path) -> None:
    (tmp_path / "metrics").write_text((FIX / "v0.10-a.prom").read_text())

    async def lookup() -> set[str]:
        return await kube.pod_names_async(labels={"app": "du"}, namespaces=[], api_client=api)

    with serve_files(tmp_path) as base:
        s = KeplerSource(name="k", kind="kepler", url=f"{base}/metrics", pod_labels={"app": "du"})
        res = read_once(KeplerReader(s, pod_lookup=lookup))
    assert res.up and {x.target for x in res.energy} == {"ran/du-0"}
