"""The runtime around one source (collector.sources.Runner): retries only what is transient,
the deadline covers the whole read, every failure becomes a kind, health counts them, and the
sample time is the injected clock's at the moment the answer came back."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from collector.models import EnergySample, ReadResult
from collector.settings import SettingsError
from collector.sources import LoopBound, PayloadError, ReadPolicy, Runner, SourceFailure


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Scripted:
    """A source whose fetch plays a script: each entry is raised, awaited or returned."""

    script: list[Any]
    policy: ReadPolicy = field(default_factory=ReadPolicy)
    name: str = "scripted"
    clock: Clock | None = None
    fetches: int = 0

    async def fetch(self) -> float:
        step = self.script[min(self.fetches, len(self.script) - 1)]
        self.fetches += 1
        if isinstance(step, BaseException):
            raise step
        if step == "hang":
            await asyncio.sleep(30)
        if self.clock is not None:
            self.clock.now += 2.5  # the answer takes 2.5 s of the clock to arrive
        return float(step)

    def parse(self, raw: float, t: float) -> ReadResult:
        if raw < 0:
            raise KeyError("payload of an unexpected shape")
        sample = EnergySample(self.name, "0", t, "gauge", raw)
        return ReadResult(self.name, True, 0.0, energy=(sample,))


def _read(runner: Runner[Any]) -> ReadResult:
    return asyncio.run(runner.read())


def test_transient_failures_are_retried_within_the_read() -> None:
    flaky = SourceFailure("connect", "refused", transient=True)
    src = Scripted([flaky, flaky, 7.0], ReadPolicy(timeout_seconds=5, retries=2))
    r = _read(Runner(src))
    assert r.up and r.energy[0].value == 7.0 and src.fetches == 3
    # one retry fewer than needed: the read fails with the last failure's kind
    short = Scripted([flaky, flaky, 7.0], ReadPolicy(timeout_seconds=5, retries=1))
    r = _read(Runner(short))
    assert not r.up and r.errors[0].kind == "connect" and short.fetches == 2


def test_lasting_failures_are_not_retried() -> None:
    src = Scripted([SourceFailure("auth", "HTTP 401"), 1.0], ReadPolicy(retries=3))
    r = _read(Runner(src))
    assert src.fetches == 1 and r.errors[0].kind == "auth"


def test_deadline_covers_the_whole_read_and_retries() -> None:
    flaky = SourceFailure("timeout", "slow", transient=True)
    src = Scripted([flaky, "hang"], ReadPolicy(timeout_seconds=0.1, retries=1))
    assert src.policy.deadline == pytest.approx(0.2)
    r = _read(Runner(src))
    assert r.errors[0].kind == "timeout" and "within 0.2s" in r.errors[0].message


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (SourceFailure("rate_limit", "HTTP 429", retry_after=120.0), "rate_limit"),
        (PayloadError("not JSON"), "parse"),
        (PayloadError("-5 W", "invalid_value"), "invalid_value"),
        (SettingsError("token_file: cannot read /absent"), "config"),
        (TypeError("a bad shape"), "parse"),
        (RuntimeError("a bug in a source"), "internal"),
    ],
)
def test_every_failure_becomes_a_kind(failure: BaseException, kind: str) -> None:
    r = _read(Runner(Scripted([failure])))
    assert not r.up and r.errors[0].kind == kind
    assert str(failure) in r.errors[0].message
    expected_retry = 120.0 if kind == "rate_limit" else None
    assert r.errors[0].retry_after_seconds == expected_retry


def test_parse_errors_are_kinds_too() -> None:
    r = _read(Runner(Scripted([-1.0])))
    assert r.errors[0].kind == "parse" and "KeyError" in r.errors[0].message


def test_sample_time_is_the_clock_when_the_answer_arrived() -> None:
    clock = Clock(1_000.0)
    src = Scripted([3.0], clock=clock)
    r = _read(Runner(src, clock=clock))
    assert r.energy[0].t == 1_002.5  # after the fetch, not when the read started


def test_health_counts_every_failure_by_kind() -> None:
    clock = Clock(50.0)
    script: list[Any] = [
        4.0,
        SourceFailure("timeout", "t"),
        SourceFailure("timeout", "t"),
        PayloadError("bad", "invalid_value"),
        5.0,
    ]
    runner = Runner(Scripted(script), clock=clock)
    seen = []
    for _ in script:
        clock.now += 10
        _read(runner)
        seen.append((runner.health.up, runner.health.last_error))
    assert [up for up, _ in seen] == [True, False, False, False, True]
    assert seen[3][1] == "bad" and seen[4][1] == ""
    h = runner.health
    assert dict(h.errors_total) == {"timeout": 2, "invalid_value": 1}
    assert h.last_success == 100.0 and h.source == "scripted" and h.duration_seconds >= 0


def test_parse_off_the_loop_keeps_the_result() -> None:
    src = Scripted([9.0], ReadPolicy(parse_in_thread=True))
    assert _read(Runner(src)).energy[0].value == 9.0


def test_loop_bound_resources_close_with_their_loop() -> None:
    made: list[int] = []
    closed: list[int] = []

    def make() -> int:
        made.append(len(made))
        return made[-1]

    async def close(value: int) -> None:
        closed.append(value)

    held = LoopBound(make, close)

    async def twice() -> tuple[int, int]:
        return await held.get(), await held.get()

    assert asyncio.run(twice()) == (0, 0)  # kept across reads of one loop
    assert closed == [0]  # closed when that loop shut down
    assert asyncio.run(twice()) == (1, 1)  # another loop: another resource

    async def explicit() -> None:
        await held.get()
        await held.aclose()
        assert closed == [0, 1, 2]
        await held.get()

    asyncio.run(explicit())
    assert closed == [0, 1, 2, 3] and made == [0, 1, 2, 3]


def test_parses_of_many_sources_share_the_bounded_parse_threads() -> None:
    """Hundreds of agents parsing at once must not become hundreds of GIL contenders: every
    parse runs on one of PARSE_THREADS threads, and each result is the one of its source."""
    import threading

    from collector.sources import runtime

    threads: set[int] = set()

    class Recording(Scripted):
        def parse(self, raw: float, t: float) -> ReadResult:
            threads.add(threading.get_ident())
            return super().parse(raw, t)

    runners = [
        Runner(Recording([float(i)], ReadPolicy(parse_in_thread=True), name=f"s{i}"))
        for i in range(4 * runtime.PARSE_THREADS + 3)
    ]

    async def read_all() -> list[ReadResult]:
        return await asyncio.gather(*(r.read() for r in runners))

    results = asyncio.run(read_all())
    assert [(r.source, r.energy[0].value) for r in results] == [
        (f"s{i}", float(i)) for i in range(len(runners))
    ]
    assert 1 <= len(threads) <= runtime.PARSE_THREADS
    assert threading.get_ident() not in threads  # off the event loop's thread


@dataclass
class StuckParse:
    """A source whose parse (off the loop) blocks until released: a pathological answer that
    takes longer to parse than the read may last."""

    release: Any
    policy: ReadPolicy = field(
        default_factory=lambda: ReadPolicy(timeout_seconds=0.2, parse_in_thread=True)
    )
    name: str = "stuck"
    parses: int = 0

    async def fetch(self) -> float:
        return 1.0

    def parse(self, raw: float, t: float) -> ReadResult:
        self.release.wait()
        self.parses += 1
        return ReadResult(
            self.name, True, 0.0, energy=(EnergySample(self.name, "0", t, "gauge", raw),)
        )


def test_the_deadline_bounds_the_parse_too() -> None:
    """A parse past the deadline ends the read as `timeout`; the parse that was running is
    not taken back into any read, and the next read, once parsing can finish, is good."""

    release = threading.Event()
    src = StuckParse(release)
    runner = Runner(src)

    async def both() -> tuple[ReadResult, ReadResult]:
        first = await runner.read()
        release.set()
        return first, await runner.read()

    first, second = asyncio.run(both())
    assert not first.up and first.errors[0].kind == "timeout"
    assert "within 0.2s" in first.errors[0].message
    assert second.up and second.energy[0].value == 1.0
    assert dict(runner.health.errors_total) == {"timeout": 1}
