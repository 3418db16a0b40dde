"""The Prometheus collector over the latest snapshot: it only reads, it never computes.

`SnapshotCollector.publish()` swaps one reference; a scrape renders whatever snapshot was
current when it started ("compute once, present many").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from collector import __version__
from collector.attribution import Snapshot
from collector.attribution.persist import StoreHealth
from collector.attribution.worker import TickReport
from collector.outputs.metrics_spec import BY_NAME, PREFIX


def _counter(name: str) -> CounterMetricFamily:
    spec = BY_NAME[name]
    assert spec.kind == "counter"
    return CounterMetricFamily(
        (PREFIX + name).removesuffix("_total"), spec.help, labels=spec.labels
    )


def _gauge(name: str) -> GaugeMetricFamily:
    spec = BY_NAME[name]
    assert spec.kind == "gauge"
    return GaugeMetricFamily(PREFIX + name, spec.help, labels=spec.labels)


def _info(name: str) -> InfoMetricFamily:
    spec = BY_NAME[name]
    assert spec.kind == "info"
    return InfoMetricFamily((PREFIX + name).removesuffix("_info"), spec.help, labels=())


class SnapshotCollector(Collector):
    """Yields the e2e_energy_* families of docs/reference/metrics.md from the published snapshot."""

    def __init__(self, store_health: Callable[[], StoreHealth] | None = None) -> None:
        self._snapshot: Snapshot | None = None
        self._published = 0
        self.store_health = store_health
        """The store writer's state, read at each scrape (it changes without a new window)."""

    def publish(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._published += 1

    def version(self) -> object:
        """Equal as long as a scrape would render the same text (the published snapshot and
        the store writer's state)."""
        health = self.store_health() if self.store_health is not None else None
        return (self._published, health)

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        build = _info("build_info")
        build.add_metric([], {"version": __version__})
        yield build
        if self.store_health is not None:
            yield from _store_families(self.store_health())
        snap = self._snapshot
        if snap is None:
            return
        yield from _snapshot_families(snap)


def _snapshot_families(snap: Snapshot) -> Iterator[Metric]:
    """Every family a snapshot gives, in order: one process's exporter and the tick process's
    rendering both use this list."""
    yield from _app_families(snap)
    yield from _nf_families(snap)
    yield from _carbon_families(snap)
    yield from _source_families(snap)


def _app_families(snap: Snapshot) -> Iterator[Metric]:
    a = snap.totals.apps
    joules = _counter("app_joules_total")
    for component, values in (("static", a.static_joules), ("dynamic", a.dynamic_joules)):
        for app, nf, role, direction, v in zip(
            a.app.tolist(), a.nf.tolist(), a.role.tolist(), a.direction.tolist(),
            values.tolist(), strict=True,
        ):  # fmt: skip
            joules.add_metric([app, nf, role, direction, component], v)
    yield joules
    co2 = _counter("app_co2_grams_total")
    bases: list[tuple[str, np.ndarray]] = [("location", a.co2_grams)]
    if snap.market_configured:
        bases.append(("market", a.co2_market_grams))
    keys = list(zip(a.app.tolist(), a.nf.tolist(), a.role.tolist(), strict=True))
    for basis, values in bases:
        summed: dict[tuple[str, str, str], float] = {}
        for key, v in zip(keys, np.nan_to_num(values).tolist(), strict=True):
            summed[key] = summed.get(key, 0.0) + v
        for (app, nf, role), v in summed.items():
            co2.add_metric([app, nf, role, basis], v)
    yield co2
    requests = _counter("app_requests_total")
    for app, n in sorted(snap.totals.requests.items()):
        requests.add_metric([app], n)
    yield requests


def _nf_families(snap: Snapshot) -> Iterator[Metric]:
    joules, unattributed = _counter("nf_joules_total"), _counter("nf_unattributed_joules_total")
    unmeasured = _counter("nf_unmeasured_seconds_total")
    for t in snap.totals.nfs:
        joules.add_metric([t.nf, t.role, t.energy_basis], t.measured_joules)
        for reason, v in t.unattributed_by_reason().items():
            unattributed.add_metric([t.nf, t.role, reason], v)
        unmeasured.add_metric([t.nf, t.role], t.unmeasured_seconds)
    info, error = _info("nf_info"), _gauge("conservation_error_ratio")
    for w in snap.nfs:
        labels = {"nf": w.nf, "role": w.role, "energy_basis": w.energy_basis}
        info.add_metric([], {**labels, "denominator": w.denominator})
        error.add_metric([w.nf], w.conservation_error_ratio)
    yield from (joules, unattributed, unmeasured, info, error)
    windows = _counter("attributor_windows_total")
    windows.add_metric([], snap.totals.windows)
    yield windows
    last = _gauge("attributor_last_window_end_timestamp_seconds")
    last.add_metric([], snap.window_end)
    yield last


def _carbon_families(snap: Snapshot) -> Iterator[Metric]:
    missing = _counter("co2_missing_joules_total")
    for zone, v in sorted(snap.totals.co2_missing_joules.items()):
        missing.add_metric([zone], v)
    yield missing
    value, age = _gauge("grid_intensity_grams_per_kwh"), _gauge("grid_intensity_age_seconds")
    for s in snap.intensity:
        value.add_metric([s.zone, s.provider or "unknown", s.signal], s.grams_per_kwh)
        age.add_metric([s.zone], s.age_seconds)
    yield value
    yield age
    index = _gauge("grid_signal_index")
    for zone, provider, v in snap.indices:
        index.add_metric([zone, provider], v)
    yield index


def _source_families(snap: Snapshot) -> Iterator[Metric]:
    up, dur = _gauge("source_up"), _gauge("source_scrape_duration_seconds")
    errors = _counter("source_errors_total")
    for s in snap.sources:
        up.add_metric([s.source], 1.0 if s.up else 0.0)
        dur.add_metric([s.source], s.duration_seconds)
        for kind, n in sorted(s.errors_total.items()):
            errors.add_metric([s.source, kind], n)
    yield up
    yield dur
    yield errors


def _store_families(h: StoreHealth) -> Iterator[Metric]:
    pending = _gauge("store_pending_windows")
    pending.add_metric([], h.pending_windows)
    errors = _counter("store_write_errors_total")
    for kind, n in sorted(h.errors_total.items()):
        errors.add_metric([kind], n)
    dropped = _counter("store_dropped_windows_total")
    dropped.add_metric([], h.dropped_windows_total)
    yield from (pending, errors, dropped)


def make_registry(collector: SnapshotCollector, *others: Collector) -> CollectorRegistry:
    """A fresh registry holding the snapshot collector and any others (the placement advice's);
    no module-level metric objects."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    for other in others:
        registry.register(other)
    return registry


class _Families(Collector):
    def __init__(self, families: Callable[[], Iterator[Metric]]) -> None:
        self.families = families

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        return self.families()


def _render(families: Callable[[], Iterator[Metric]]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)


_snapshot_text: list[tuple[Snapshot, bytes]] = []
"""The newest snapshot's rendering: a tick without a new window renders only the small part."""


def render_tick_process(snapshot: Snapshot | None, store: StoreHealth, tick: TickReport) -> bytes:
    """The tick process's part of /metrics (the snapshot's, the store writer's and the tick's
    families), rendered where the snapshot lives: the serving process only appends the bytes."""

    def own() -> Iterator[Metric]:
        yield from _store_families(store)
        duration, cpu = _gauge("attributor_tick_seconds"), _gauge("attributor_tick_cpu_seconds")
        duration.add_metric([], tick.ended - tick.started)
        cpu.add_metric([], tick.cpu_seconds)
        yield from (duration, cpu)

    text = _render(own)
    if snapshot is None:
        return text
    if not _snapshot_text or _snapshot_text[0][0] is not snapshot:
        body = _render(lambda: _snapshot_families(snapshot))
        _snapshot_text[:] = [(snapshot, body)]
    return text + _snapshot_text[0][1]
