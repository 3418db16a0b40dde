"""kmock's Kubernetes emulator on a private asyncio loop in a thread, with an official-client
ApiClient pointed at it (no API server runs here; kmock is the closest honest substitute,
INFRA.md). Shared by the kube and attributor-discovery tests."""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from tests.conftest import need_module

Pod = tuple[str, str, Mapping[str, str], Mapping[str, str]]
"""(namespace, name, labels, annotations)"""


@contextmanager
def kmock_api(pods: Iterable[Pod], slices: Iterable[dict[str, Any]] = ()) -> Iterator[Any]:
    """Start the emulator, create `pods` and EndpointSlice objects, yield the ApiClient."""
    kmock = need_module("kmock")
    client = need_module("kubernetes.client")
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
    try:
        for ns, name, labels, ann in pods:
            core.create_namespaced_pod(
                ns,
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": name,
                        "namespace": ns,
                        "labels": dict(labels),
                        "annotations": dict(ann),
                    },
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            )
        discovery = client.DiscoveryV1Api(api_client)
        for s in slices:  # discovery.k8s.io/v1 is among kmock's bundled resources
            discovery.create_namespaced_endpoint_slice(s["metadata"]["namespace"], s)
        yield api_client
    finally:
        box["stop"] = True
        thread.join(timeout=5)
        api_client.close()
