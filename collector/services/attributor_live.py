"""The live attributor's loop: poll sources, agents and carbon; map and record the samples; compute
every due window; publish the snapshot to /metrics, the store and the API.

Time is injected (`clock`), every input goes through the engine exactly as replay feeds it, and
`--record` writes those very records, so a recording replays to the same numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import IO
from urllib.parse import urlsplit

from collector.agent.scrape import AgentReading, AgentScrapeError, fetch_agent
from collector.attribution import Engine, Snapshot, topology_from_settings
from collector.attribution.grid import window_start
from collector.attribution.mapping import InputMapper
from collector.attribution.persist import StoreWriter, load_totals
from collector.attribution.records import Record, record_to_json
from collector.attribution.snapshot import SourceStatus
from collector.carbon.service import build_carbon
from collector.outputs.exporter import SnapshotCollector
from collector.services.poller import SourceHealth, build_poller
from collector.settings import Settings
from collector.store import Store

APPS_RELIST_SECONDS = 30.0
"""How often pods are re-listed for app annotations."""
MAX_BACKFILL_WINDOWS = 10_000
"""After a long downtime at most this many (stale) windows are computed; older ones are skipped."""


class LiveAttributor:
    """Owns the engine, the store writer and the snapshot collector for one process."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        settle_seconds: float = 5.0,
        record: IO[str] | None = None,
        replay_inputs: list[Record] | None = None,
        kube_client: object | None = None,
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
        self.collector = SnapshotCollector(store_health=self.writer.health)
        self.mapper = InputMapper(settings, self.topology)
        self.poller = build_poller(settings, clock)
        self.carbon = build_carbon(settings, clock)
        self.record = record
        self.pending = sorted(replay_inputs or [], key=lambda r: r.t)
        self.agent_status: dict[str, SourceStatus] = {}
        self.kube_client = kube_client
        self._apps_listed_at = -float("inf")
        self.next_window = self._first_window()

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
        return self.collector.snapshot is not None

    async def tick(self) -> list[Snapshot]:
        """One poll of every input, then every window that is due."""
        now = self.clock()
        if now - self._apps_listed_at >= APPS_RELIST_SECONDS:
            await self.refresh_apps()
            self._apps_listed_at = now
        records = await self._gather(now)
        self.engine.ingest(records)
        if self.record is not None and records:
            self.record.write("".join(record_to_json(r) + "\n" for r in records))
            self.record.flush()
        return self.compute_due(self.clock())

    async def _gather(self, now: float) -> list[Record]:
        results, agents, intensity = await asyncio.gather(
            self.poller.poll_once(), self._agents(), self.carbon.refresh(now)
        )
        m = self.mapper
        records = m.all(
            energy=[e for r in results for e in r.energy],
            traffic=[c for a in agents for c in a[1].traffic],
            totals=[(a[0], t) for a in agents for t in a[1].interfaces]
            + [("", t) for r in results for t in r.traffic_totals],
            requests=[q for r in results for q in r.requests],
            intensity=[*intensity, *(i for r in results for i in r.intensity)],
        )
        due = [r for r in self.pending if r.t <= now]
        self.pending = self.pending[len(due) :]
        return records + due

    async def _agents(self) -> list[tuple[str, AgentReading]]:
        urls = await self._agent_urls()
        timeout = self.settings.agents.timeout_seconds

        async def one(url: str) -> tuple[str, AgentReading] | None:
            name = f"agent/{urlsplit(url).netloc}"
            started = time.perf_counter()
            try:
                reading = await fetch_agent(url, timeout)
            except AgentScrapeError:
                old = self.agent_status.get(name)
                errors = dict(old.errors_total) if old else {}
                errors["scrape"] = errors.get("scrape", 0) + 1
                self.agent_status[name] = SourceStatus(
                    name, False, time.perf_counter() - started, MappingProxyType(errors)
                )
                return None
            previous = self.agent_status.get(name)
            kept = previous.errors_total if previous else MappingProxyType({})
            self.agent_status[name] = SourceStatus(name, True, time.perf_counter() - started, kept)
            return (reading.k8s_node or name, reading)

        got = await asyncio.gather(*(one(u) for u in urls))
        return [g for g in got if g is not None]

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
            snap = replace(snap, sources=self._statuses(), indices=self._indices())
            self._publish(self.writer.commit(snap))
            out.append(snap)
        return out

    def _publish(self, written: Snapshot | None) -> None:
        if written is not None:
            self.collector.publish(written)

    def _statuses(self) -> tuple[SourceStatus, ...]:
        polled = source_statuses(self.poller.health())
        return (*polled, *(self.agent_status[k] for k in sorted(self.agent_status)))

    def _indices(self) -> tuple[tuple[str, str, float], ...]:
        return tuple((i.zone, i.provider, i.value) for i in self.carbon.indices)


def source_statuses(health: Mapping[str, SourceHealth]) -> tuple[SourceStatus, ...]:
    """The poller's health as the snapshot carries it, for e2e_energy_source_* on /metrics."""
    return tuple(
        SourceStatus(name, h.up, h.last_duration_seconds, MappingProxyType(dict(h.errors_total)))
        for name, h in sorted(health.items())
    )


def poll_interval(settings: Settings) -> float:
    """Poll as often as the most frequent source asks, at most once per second."""
    intervals = [s.interval_seconds for s in settings.sources] or [5.0]
    return max(1.0, min(min(intervals), settings.window_seconds))


def open_record(path: Path | None) -> IO[str] | None:
    return None if path is None else path.open("a", encoding="utf-8")
