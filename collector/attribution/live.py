"""The live attributor: poll sources, agents and carbon; map and record the samples; compute
every due window, store it and hand the snapshot to `publish` (the wiring passes the exporter's).

Time is injected (`clock`): it stamps every sample the runtime reads and decides which windows
are due. Every input goes through the engine exactly as replay feeds it, and `--record` writes
those very records, so a recording replays to the same numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import IO, Any

from collector.agent.scrape import AgentSource
from collector.attribution.engine import Engine
from collector.attribution.grid import window_start
from collector.attribution.mapping import InputMapper
from collector.attribution.persist import StoreWriter, load_totals
from collector.attribution.records import (
    Entry,
    Record,
    RestartMarker,
    record_to_json,
    restart_marker_json,
)
from collector.attribution.snapshot import Snapshot
from collector.attribution.topology import topology_from_settings
from collector.carbon.service import build_carbon
from collector.models import IntensitySample, ReadResult
from collector.power.registry import build_poller
from collector.settings import Settings
from collector.sources import Health, Runner
from collector.store import Store

APPS_RELIST_SECONDS = 30.0
"""How often pods are re-listed for app annotations."""
MAX_BACKFILL_WINDOWS = 10_000
"""After a long downtime at most this many (stale) windows are computed; older ones are skipped."""
AGENT_FORGET_SECONDS = 600.0
"""An agent that left discovery is still listed (down) this long, then dropped: a restarted
agent pod comes back under a new IP, and a runner and a health series kept per URL ever seen
would grow with every restart for as long as the attributor runs."""
STATE_EVERY_WINDOWS = 32
"""After a downtime thousands of windows are due at once; they are written in batches of this
many, each with the engine's state after it (a state of many series costs as much as a window,
so one per window would double a catch-up's writing; a batch in memory is a few windows' rows)."""
AGENT_READS_IN_FLIGHT = 32
"""Agents read at once. All of them at once (1000) put a thousand response callbacks in the
event loop's queue ahead of every API request (p99 of seconds); the bound keeps that queue
short. A read's deadline starts when its turn comes, so waiting for a slot is no timeout."""


class LiveAttributor:
    """Owns the engine, the store writer and every input's runtime for one process."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        settle_seconds: float = 5.0,
        record: IO[str] | None = None,
        replay_inputs: Sequence[Entry] | None = None,
        kube_client: object | None = None,
        publish: Callable[[Snapshot], None] | None = None,
        max_pending_windows: int = 240,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.topology = topology_from_settings(settings)
        self.clock = clock
        self.settle = settle_seconds
        self.store = store
        self.writer = StoreWriter(store, max_pending=max_pending_windows, log=log)
        self.engine = Engine(self.topology, totals=load_totals(store))
        saved = store.load_state()
        self.resumed_signals = saved is not None and self.engine.restore(json.loads(saved))
        """Whether the signals continue the previous process's (its last readings and carries)."""
        nxt = self.engine.next_window
        if record is not None and nxt is not None:  # a recording replays across the restart
            state = saved if self.resumed_signals else None
            record.write(restart_marker_json(clock(), nxt, state) + "\n")
            record.flush()
        self.publish = publish
        self.last: Snapshot | None = None
        """The newest snapshot the store holds (what was published last)."""
        self.mapper = InputMapper(settings, self.topology)
        self.poller = build_poller(settings, clock)
        self.carbon = build_carbon(settings, clock)
        self.record = record
        inputs = [r for r in replay_inputs or [] if not isinstance(r, RestartMarker)]
        self.pending: list[Record] = sorted(inputs, key=lambda r: r.t)
        self.agents: dict[str, Runner[Any]] = {}
        """One runner per agent URL in discovery, or left it less than AGENT_FORGET_SECONDS ago
        (its health stays that long)."""
        self._agents_gone: dict[str, float] = {}
        """URL -> when it left discovery."""
        self.kube_client = kube_client
        self._apps_listed_at = -float("inf")
        self.next_window = self._first_window()
        self.state_written_at: float | None = None
        """When (by the clock) the engine's state was last written: with every window, and on a
        tick without one when it is older than max_gap / 4, so that the readings a restart
        continues from are never much older than the kill (a restart within about 3/4 of
        max_gap then loses no window)."""

    def _first_window(self) -> float:
        w = self.topology.window_seconds
        first = window_start(self.clock(), w) + w
        if self.pending:
            first = max(window_start(self.pending[0].t, w), first - MAX_BACKFILL_WINDOWS * w)
        resumed = self.engine.next_window
        if resumed is not None and resumed < first:
            return max(resumed, first - MAX_BACKFILL_WINDOWS * w)
        return first if resumed is None else resumed

    @property
    def ready(self) -> bool:
        return self.last is not None

    async def tick(self) -> list[Snapshot]:
        """One poll of every input, then every window that is due."""
        now = self.clock()
        if now - self._apps_listed_at >= APPS_RELIST_SECONDS:
            await self.refresh_apps()
            self._apps_listed_at = now
        reads, intensity = await self._gather(now)
        # Mapping, ingesting and computing are CPU-bound (10k records with 1000 agents): off
        # the event loop, so the API served on it keeps answering during a tick.
        await asyncio.to_thread(self._ingest, reads, intensity, now)
        return await asyncio.to_thread(self.compute_due, self.clock())

    async def _gather(self, now: float) -> tuple[list[ReadResult], list[IntensitySample]]:
        results, agents, intensity = await asyncio.gather(
            self.poller.poll_once(), self._agents(), self.carbon.refresh(now)
        )
        return [*agents, *results], intensity

    def _ingest(
        self, reads: list[ReadResult], intensity: list[IntensitySample], now: float
    ) -> None:
        """Map a tick's readings to records (with the replay inputs now due), feed the engine
        and append them to the recording."""
        records = self.mapper.all(
            energy=[e for r in reads for e in r.energy],
            traffic=[c for r in reads for c in r.traffic],
            totals=[(r.host, t) for r in reads for t in r.traffic_totals],
            requests=[q for r in reads for q in r.requests],
            intensity=[*intensity, *(i for r in reads for i in r.intensity)],
        )
        due = [r for r in self.pending if r.t <= now]
        self.pending = self.pending[len(due) :]
        records += due
        self.engine.ingest(records)
        if self.record is not None and records:
            self.record.write("".join(record_to_json(r) + "\n" for r in records))
            self.record.flush()

    async def _agents(self) -> list[ReadResult]:
        """Every agent read concurrently; a new URL gets a runner, a vanished one's pool is
        closed (its health stays, as a source that went away, for AGENT_FORGET_SECONDS)."""
        urls = await self._agent_urls()
        timeout = self.settings.agents.timeout_seconds
        for url in urls:
            if url not in self.agents:
                source = AgentSource(
                    url, timeout, max_response_bytes=self.settings.agents.max_response_bytes
                )
                self.agents[url] = Runner(source, clock=self.clock)
        current = set(urls)  # a list here made this loop quadratic in the agents
        now = self.clock()
        for url in [u for u in self.agents if u not in current]:
            if url not in self._agents_gone:  # it just left: close its pool once
                self._agents_gone[url] = now
                await self.agents[url].aclose()
            elif now - self._agents_gone[url] > AGENT_FORGET_SECONDS:
                del self.agents[url], self._agents_gone[url]
        for url in [u for u in self._agents_gone if u in current]:
            del self._agents_gone[url]  # back in discovery
        slots = asyncio.Semaphore(AGENT_READS_IN_FLIGHT)

        async def read(runner: Runner[Any]) -> ReadResult:
            async with slots:
                return await runner.read()

        results = await asyncio.gather(*(read(self.agents[u]) for u in urls))
        return [r for r in results if r.up]

    async def refresh_apps(self) -> None:
        """Re-list pods carrying the app annotation (apps_kubernetes); errors keep the last map."""
        cfg = self.settings.apps_kubernetes
        if cfg is None:
            return
        from collector import kube

        try:
            found = await asyncio.to_thread(
                kube.app_annotations,
                annotation=cfg.annotation,
                namespace=cfg.namespace,
                api_client=self.kube_client,
            )
        except Exception:  # the API being down must not stop attribution
            return
        self.mapper.set_discovered((a.app, a.value) for a in found)

    async def _agent_urls(self) -> list[str]:
        kube_cfg = self.settings.agents.kubernetes
        if kube_cfg is None:
            return list(self.settings.agents.urls)
        from collector import kube

        with contextlib.suppress(Exception):  # the API being down must not stop attribution
            return await asyncio.to_thread(
                kube.agent_urls,
                namespace=kube_cfg.namespace,
                service=kube_cfg.service,
                port=kube_cfg.port,
            )
        return list(self.settings.agents.urls)

    def compute_due(self, now: float) -> list[Snapshot]:
        """Compute every window whose end lies at least `settle` seconds in the past; each goes
        to the store, and what the store holds is published (a failed write is retried here at
        every tick, windows due or not)."""
        w = self.topology.window_seconds
        out = []
        if self.writer.pending:
            self._publish(self.writer.commit())
        while self.next_window + w + self.settle <= now:
            snap = self.engine.compute(self.next_window)
            self.next_window += w
            snap = replace(snap, sources=self.health(), indices=self._indices())
            out.append(snap)
            # The engine's state goes with the last window due, and with every STATE_EVERY-th
            # of a catch-up, in one transaction with the windows before it: the store's state is
            # always of its newest window, so a kill anywhere leaves a state a restart takes.
            last = self.next_window + w + self.settle > now
            if last or len(out) % STATE_EVERY_WINDOWS == 0:
                written = self.writer.commit(snap, json.dumps(self.engine.state()))
                if written is snap:
                    self.state_written_at = now
                self._publish(written)
            else:
                self.writer.queue(snap)
        if not out:
            self._save_readings(now)
        return out

    def _save_readings(self, now: float) -> None:
        """No window due, but the readings since the state was written must not die with the
        process once they are max_gap / 4 old: a restart would see a gap from older ones and
        lose windows to it. (Not before the store holds a window, nor while one waits.)"""
        at = self.state_written_at
        recent = at is not None and now - at <= self.topology.max_gap_seconds / 4
        if recent or self.engine.next_window is None or self.writer.pending:
            return
        if self.writer.save_state(json.dumps(self.engine.state())):
            self.state_written_at = now

    def _publish(self, written: Snapshot | None) -> None:
        if written is None:
            return
        if self.publish is not None:
            self.publish(written)
        self.last = written

    def health(self) -> tuple[Health, ...]:
        """Sources then agents, each sorted by name: what e2e_energy_source_* publishes."""
        polled = sorted(self.poller.health().values(), key=lambda h: h.source)
        agents = sorted((r.health for r in self.agents.values()), key=lambda h: h.source)
        return (*polled, *agents)

    def _indices(self) -> tuple[tuple[str, str, float], ...]:
        return tuple((i.zone, i.provider, i.value) for i in self.carbon.indices)

    async def aclose(self) -> None:
        """Close every input's connections (inside the loop that read them)."""
        await self.poller.aclose()
        await self.carbon.aclose()
        for runner in self.agents.values():
            await runner.aclose()


def poll_interval(settings: Settings) -> float:
    """Poll as often as the most frequent source asks, at most once per second."""
    intervals = [s.interval_seconds for s in settings.sources] or [5.0]
    return max(1.0, min(min(intervals), settings.window_seconds))
