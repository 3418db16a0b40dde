"""Live capture: one loop per process over the collection interfaces' rings.

With one worker the loop runs in the calling thread and merges straight into the state. With
N workers, N forked processes join a PACKET_FANOUT group per interface (hash mode, so a flow
stays in one worker) and send their deltas to the parent over pipes; the GIL caps one process.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import select
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from collector.agent.ring import CaptureError, Ring, RingConfig
from collector.agent.state import AgentState
from collector.agent.tally import Delta, Tally
from collector.agent.traceid import TraceIdResolver
from collector.ioam.fastparse import LINKTYPE_RAW
from collector.settings import AgentSettings

FLUSH_SECONDS = 0.25
MAX_PENDING_FLOWS = 4096
BLOCKS_PER_TURN = 4
EXPIRE_SECONDS = 10.0
Stop = Callable[[], bool]


@dataclass(frozen=True, slots=True)
class CollectionPoint:
    interface: str
    direction: str


def ring_config(settings: AgentSettings) -> RingConfig:
    return RingConfig(
        block_size=settings.ring_block_size,
        block_count=settings.ring_block_count,
        snaplen=settings.snaplen,
    )


def open_rings(
    points: Sequence[CollectionPoint], settings: AgentSettings, fanout_base: int | None
) -> list[Ring]:
    rings: list[Ring] = []
    try:
        for i, point in enumerate(points):
            group = None if fanout_base is None else (fanout_base + i) & 0xFFFF
            rings.append(
                Ring(
                    point.interface,
                    ring_config(settings),
                    fanout_group=group,
                    promiscuous=settings.promiscuous,
                )
            )
    except BaseException:
        for ring in rings:
            ring.close()
        raise
    return rings


def capture_loop(
    rings: Sequence[Ring],
    directions: Sequence[str],
    tally: Tally,
    sink: Callable[[Delta], None],
    stop: Stop,
    *,
    clock: Callable[[], float] = time.time,
) -> None:
    """Read every ready block, count it, and flush to `sink` a few times a second."""
    poller = select.poll()
    for ring in rings:
        poller.register(ring.sock.fileno(), select.POLLIN | select.POLLERR)
    last_flush = clock()
    while True:
        stopping = stop()
        busy = False
        now = clock()
        for ring, direction in zip(rings, directions, strict=True):
            for _ in range(BLOCKS_PER_TURN):  # then flush, even when the ring never drains
                frames = ring.read_block()
                if frames is None:
                    break
                tally.count(frames, LINKTYPE_RAW, direction, now)
                busy = True
                if len(tally) >= MAX_PENDING_FLOWS:
                    break
        now = clock()
        if stopping or now - last_flush >= FLUSH_SECONDS or len(tally) >= MAX_PENDING_FLOWS:
            delta = tally.take()
            delta.kernel = {ring.interface: ring.read_stats() for ring in rings}
            sink(delta)
            last_flush = now
        if stopping:
            return
        if not busy:
            poller.poll(100)  # EINTR is retried (PEP 475); stop() is checked every 100 ms


def run_single(
    points: Sequence[CollectionPoint],
    settings: AgentSettings,
    state: AgentState,
    stop: Stop,
    on_ready: Callable[[], None] = lambda: None,
) -> None:
    rings = open_rings(points, settings, None)
    on_ready()
    tally = Tally(TraceIdResolver(settings.trace_ids), sample=settings.sample)
    expiry = _Merger(state)
    try:
        capture_loop(rings, [p.direction for p in points], tally, expiry.sink, stop)
    finally:
        for ring in rings:
            ring.close()


class _Merger:
    """Merges deltas into the state and drops idle flows every EXPIRE_SECONDS."""

    def __init__(self, state: AgentState, worker: int = 0) -> None:
        self.state = state
        self.worker = worker
        self.last = time.monotonic()

    def sink(self, delta: Delta, worker: int | None = None) -> None:
        self.state.merge(delta, worker=self.worker if worker is None else worker)
        if time.monotonic() - self.last >= EXPIRE_SECONDS:
            self.state.expire(time.time())
            self.last = time.monotonic()


def _worker_main(
    index: int,
    points: Sequence[CollectionPoint],
    settings: AgentSettings,
    fanout_base: int,
    conn: multiprocessing.connection.Connection,
) -> None:
    stopped = False

    def on_term(signum: int, frame: Any) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        rings = open_rings(points, settings, fanout_base)
    except Exception as exc:  # reported to the parent, which stops with the reason
        conn.send(("error", index, f"worker {index}: {exc}"))
        return
    conn.send(("ready", index, None))
    tally = Tally(TraceIdResolver(settings.trace_ids), sample=settings.sample)
    try:
        capture_loop(
            rings,
            [p.direction for p in points],
            tally,
            lambda d: conn.send(("delta", index, d)),
            lambda: stopped,
        )
    finally:
        for ring in rings:
            ring.close()
        conn.close()


def run_workers(
    points: Sequence[CollectionPoint],
    settings: AgentSettings,
    state: AgentState,
    stop: Stop,
    on_ready: Callable[[], None] = lambda: None,
) -> None:
    """Fork `settings.workers` capture processes and merge what they send until `stop()`."""
    ctx = multiprocessing.get_context("fork")
    fanout_base = os.getpid() & 0xFFFF
    procs = []
    readers = []
    for index in range(settings.workers):
        reader, writer = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_worker_main,
            args=(index, points, settings, fanout_base, writer),
            name=f"e2e-energy-agent-worker-{index}",
        )
        proc.start()
        writer.close()
        procs.append(proc)
        readers.append(reader)
    try:
        _merge_until_stopped(readers, state, stop, procs, on_ready)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(5)


def _merge_until_stopped(
    readers: list[multiprocessing.connection.Connection],
    state: AgentState,
    stop: Stop,
    procs: list[Any],
    on_ready: Callable[[], None],
) -> None:
    expiry = _Merger(state)
    open_readers = list(readers)
    terminating = False
    waiting = len(readers)
    while open_readers:
        if stop() and not terminating:
            terminating = True
            for proc in procs:
                proc.terminate()  # SIGTERM: each worker flushes its last delta and exits
        for reader in multiprocessing.connection.wait(open_readers, timeout=0.2):
            assert isinstance(reader, multiprocessing.connection.Connection)
            try:
                kind, index, payload = reader.recv()
            except EOFError:
                open_readers.remove(reader)
                continue
            if kind == "error":
                raise CaptureError(payload)
            if kind == "ready":
                waiting -= 1
                if waiting == 0:
                    on_ready()
            elif kind == "delta":
                expiry.sink(payload, index)
