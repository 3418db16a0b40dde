"""Acceptance: a new source kind is one module (a class with `fetch` and `parse`), its settings
class and one registry entry. Without code of its own it gets the pooled client, retries,
deadline, error kinds and the e2e_energy_source_* metrics through the attributor's exporter.

The "module" is this file's FakeMeterReader; nothing under collector/ is edited for it."""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

import pytest
from prometheus_client.parser import text_string_to_metric_families

from collector.models import EnergySample, ReadResult
from collector.power import registry
from collector.settings import HttpAuth, SourceBase
from collector.sources.http import HttpSource
from collector.sources.values import reading
from tests.conftest import need_binary
from tests.http_fixture import serve
from tests.outputs.test_exporter import render, replay_snapshot


class FakeMeterSource(SourceBase, HttpAuth):
    """The new kind's settings: what any HTTP source has, plus its URL."""

    kind: Literal["fake_meter"]
    url: str


class FakeMeterReader(HttpSource[FakeMeterSource]):
    """The new kind's module: a fetch and a pure parse, nothing else."""

    def __init__(self, settings: FakeMeterSource) -> None:
        super().__init__(settings, settings.url)

    async def fetch(self) -> Any:
        return await self.http.get_json(self.url)

    def parse(self, raw: Any, t: float) -> ReadResult:
        watts = reading(raw.get("watts") if isinstance(raw, dict) else None, "watts")
        return ReadResult(
            self.name, True, 0.0, energy=(EnergySample(self.name, "0", t, "gauge", watts),)
        )


class Meter:
    """A meter that answers `plan` in turn: a status and a body."""

    def __init__(self, plan: list[tuple[int, bytes]]) -> None:
        self.plan = plan
        self.requests = 0

    def __call__(self, req: BaseHTTPRequestHandler) -> tuple[int, bytes, dict[str, str]]:
        status, body = self.plan[min(self.requests, len(self.plan) - 1)]
        self.requests += 1
        return status, body, {"Content-Type": "application/json"}


def _metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def test_new_kind_gets_the_runtime_and_the_source_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.READERS, "fake_meter", f"{__name__}:FakeMeterReader")
    plan = [(200, b'{"watts": 42.5}'), (503, b"{}"), (503, b"{}"), (200, b'{"watts": -1}')]
    meter = Meter(plan)
    with serve(meter) as base:
        settings = FakeMeterSource(name="fake", kind="fake_meter", url=base, retries=1)
        runner = registry.build_source(settings)

        async def three() -> list[ReadResult]:
            return [await runner.read() for _ in range(3)]

        ok, unavailable, negative = asyncio.run(three())
    assert ok.up and ok.energy[0].watts == 42.5
    # a 503 is transient: retried once (retries=1), then the read is down as `http`
    assert meter.requests == 4 and unavailable.errors[0].kind == "http"
    assert negative.errors[0].kind == "invalid_value"
    text = render(replace(replay_snapshot(), sources=(runner.health,)))
    got = _metrics(text)
    assert got[("e2e_energy_source_up", (("source", "fake"),))] == 0.0
    assert got[("e2e_energy_source_scrape_duration_seconds", (("source", "fake"),))] > 0
    for kind in ("http", "invalid_value"):
        key = ("e2e_energy_source_errors_total", (("kind", kind), ("source", "fake")))
        assert got[key] == 1.0
    promtool = need_binary("promtool")
    out = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
