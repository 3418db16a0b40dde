"""Apps discovered from pod annotations through collector/kube.py, against kmock's Kubernetes
emulator (no API server runs here; kmock is the closest honest substitute, INFRA.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.attribution.live import LiveAttributor
from collector.models import TrafficCount
from collector.settings import parse_settings
from collector.store import Store
from tests.kmockapi import kmock_api

PODS = (
    ("ai", "vlm-0", {"app": "factory-vision"}, {"e2e-energy.io/trace-id": "100:100"}),
    ("ai", "chat-0", {"app": "chat"}, {"e2e-energy.io/trace-id": "200"}),
    ("ai", "odd-0", {"app": "odd"}, {"e2e-energy.io/trace-id": "not-a-number"}),
    ("ran", "du-0", {"app": "du"}, {}),
)


@pytest.fixture
def api() -> Iterator[Any]:
    with kmock_api(PODS) as api_client:
        yield api_client


def test_apps_from_pod_annotations(api: Any, tmp_path: Path) -> None:
    settings = parse_settings(
        {
            "nfs": [{"name": "du1", "role": "du", "node_id": 4130}],
            "apps": [{"name": "pinned", "traces": [{"namespace_id": 100, "trace_id": 100}]}],
            "apps_kubernetes": {"annotation": "e2e-energy.io/trace-id"},
        }
    )
    store = Store(tmp_path / "s.sqlite", writer=True)
    live = LiveAttributor(settings, store, kube_client=api)
    asyncio.run(live.refresh_apps())
    store.close()

    def app(ns: int, trace: str) -> str:
        rec = live.mapper.traffic(TrafficCount(ns, trace, 4130, "uplink", 1, 1, 0.0))
        assert rec is not None
        return rec.app

    assert app(100, "100") == "pinned"  # the settings win over an annotation
    assert app(7, "200") == "chat"  # a bare trace id matches any namespace
    assert app(100, "300") == "unknown"
    assert live.mapper.bad_annotations == 1
    assert live.mapper.traffic(TrafficCount(100, "200", 999, "uplink", 1, 1, 0.0)) is None
    assert live.mapper.unmapped_nodes == 1
