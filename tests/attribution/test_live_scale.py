"""What keeps the live attributor's tick linear in the agents and the API answering during it:
each flow's mapping is resolved once (and forgotten when pod annotations move an app), and at
most AGENT_READS_IN_FLIGHT agents are read at once, their results still in URL order."""

from __future__ import annotations

import asyncio
from pathlib import Path

from collector.attribution import live as live_module
from collector.attribution.live import LiveAttributor
from collector.attribution.mapping import InputMapper
from collector.attribution.topology import topology_from_settings
from collector.models import ReadResult, TrafficCount
from collector.settings import Settings, parse_settings
from collector.sources import Health
from collector.store import Store


def _settings(agents: int = 0) -> Settings:
    return parse_settings(
        {
            "agents": {"urls": [f"http://agent-{i}:9400/metrics" for i in range(agents)]},
            "nfs": [{"name": "du1", "role": "du", "node_id": 4130}],
            "apps": [{"name": "chat", "traces": [{"namespace_id": 1, "trace_id": 200}]}],
        }
    )


def _flow(t: float, trace: str, node: int = 4130) -> TrafficCount:
    return TrafficCount(1, trace, node, "uplink", 10 * t, 1000 * t, t, k8s_node="n1")


def test_a_cached_flow_maps_as_a_fresh_mapper_would_and_follows_discovered_apps() -> None:
    settings = _settings()
    mapper = InputMapper(settings, topology_from_settings(settings))
    flows = [_flow(1.0, "200"), _flow(1.0, "300"), _flow(1.0, "300", node=9999)]
    first = mapper.all(traffic=flows)
    again = mapper.all(traffic=[_flow(2.0, "200"), _flow(2.0, "300"), _flow(2.0, "300", 9999)])
    fresh = InputMapper(settings, topology_from_settings(settings))
    assert again == fresh.all(
        traffic=[_flow(2.0, "200"), _flow(2.0, "300"), _flow(2.0, "300", 9999)]
    )
    assert [r.app for r in first] == ["chat", "unknown"]
    assert mapper.unmapped_nodes == 2  # an unmapped node is counted on every tick, not once
    mapper.set_discovered([("vision", "1:300")])  # an annotation now names trace 300
    assert [r.app for r in mapper.all(traffic=[_flow(3.0, "300")])] == ["vision"]


class _Agent:
    """A runner stand-in: counts the reads in flight, answers after the test lets it."""

    def __init__(self, url: str, state: dict[str, int], release: asyncio.Event) -> None:
        self.url, self.state, self.release = url, state, release
        self.health = Health(url)

    async def read(self) -> ReadResult:
        self.state["now"] += 1
        self.state["peak"] = max(self.state["peak"], self.state["now"])
        await self.release.wait()
        self.state["now"] -= 1
        return ReadResult(self.url, True, 0.0, host=self.url)

    async def aclose(self) -> None:
        pass


def test_agents_are_read_a_bounded_number_at_a_time_in_url_order(tmp_path: Path) -> None:
    n = 3 * live_module.AGENT_READS_IN_FLIGHT + 5
    settings = _settings(n)
    store = Store(tmp_path / "s.sqlite", writer=True)
    live = LiveAttributor(settings, store, clock=lambda: 1000.0)
    state = {"now": 0, "peak": 0}

    async def run() -> list[ReadResult]:
        release = asyncio.Event()
        for url in settings.agents.urls:
            live.agents[url] = _Agent(url, state, release)  # type: ignore[assignment]
        reading = asyncio.create_task(live._agents())
        for _ in range(10):
            await asyncio.sleep(0)
        assert state["now"] == live_module.AGENT_READS_IN_FLIGHT  # the rest wait for a slot
        release.set()
        return await reading

    try:
        results = asyncio.run(run())
    finally:
        store.close()
    assert state["peak"] == live_module.AGENT_READS_IN_FLIGHT
    assert [r.source for r in results] == list(settings.agents.urls)
