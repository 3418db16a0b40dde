"""Agents that leave discovery are dropped after AGENT_FORGET_SECONDS (issue 14: memory over
months). On Kubernetes a restarted agent pod comes back under a new IP; the attributor kept a
runner and a health series (`e2e_energy_source_up`) for every URL it had ever seen.

The real LiveAttributor reads each URL (closed loopback ports: each read fails fast, as a dead
agent's does). Discovery is the one stand-in: no API server runs here, so the list of endpoint
URLs changes by the test's schedule, as the Service's endpoints would."""

from __future__ import annotations

import asyncio
import math
import socket
from pathlib import Path

from collector.attribution.live import AGENT_FORGET_SECONDS, LiveAttributor
from collector.settings import parse_settings
from collector.store import Store

RESTARTS, EVERY, TICK = 40, 120.0, 15.0


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_restarted_agents_are_forgotten_after_the_horizon(tmp_path: Path) -> None:
    settings = parse_settings({
        "nfs": [{"name": "ru", "role": "ru", "node_id": 1}],
        "agents": {"urls": ["http://127.0.0.1:1/metrics"], "timeout_seconds": 0.5},
    })  # fmt: skip
    now = [1_000_000.0]
    store = Store(tmp_path / "s.sqlite", writer=True, clock=lambda: now[0])
    live = LiveAttributor(settings, store, clock=lambda: now[0])
    urls = [f"http://127.0.0.1:{closed_port()}/metrics" for _ in range(RESTARTS)]
    born = {u: 1_000_000.0 + k * EVERY for k, u in enumerate(urls)}

    async def discovery() -> list[str]:  # the one agent pod alive: a new IP after each restart
        k = min(int((now[0] - 1_000_000.0) // EVERY), RESTARTS - 1)
        return [urls[k]]

    live._agent_urls = discovery  # type: ignore[method-assign]

    async def run() -> int:
        most = 0
        while now[0] < 1_000_000.0 + RESTARTS * EVERY:
            await live._agents()
            most = max(most, len(live.agents))
            now[0] += TICK
        await live.aclose()
        return most

    most = asyncio.run(run())
    store.close()
    # a URL left discovery when the next one came (EVERY later) and is kept AGENT_FORGET_SECONDS
    # more (plus a tick to notice): at most this many at once, by the schedule alone
    bound = math.ceil((AGENT_FORGET_SECONDS + TICK) / EVERY) + 1
    assert bound < RESTARTS
    assert most <= bound
    listed = {h.source for h in live.health()}
    end = now[0] - TICK
    expected = {f"agent/{u.split('/')[2]}" for u in urls
                if born[u] + EVERY + AGENT_FORGET_SECONDS >= end - TICK}  # fmt: skip
    assert len(listed) <= bound and listed <= expected | {
        h.source for h in live.poller.health().values()
    }
    assert f"agent/{urls[-1].split('/')[2]}" in listed  # the live one is listed
