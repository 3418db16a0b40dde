"""The tick process: the live attributor's polls, mapping, ingest, compute and store writes in a
child process of their own, so that the process serving the API and /metrics never waits on the
tick's GIL, and the tick never waits on a loaded API.

The parent starts it with the `spawn` context (a fresh interpreter: no fork of a process that
runs threads) and plain arguments (`WorkerArgs`); the child loads the settings, opens the store
as its one writer, builds `LiveAttributor` and ticks every `poll_interval(settings)`. After each
tick it sends one `TickReport` over a pipe: whether a window was ever published (readiness), the
carbon service's latest intensities (for the placement advisor), the tick's wall and CPU time,
and the exposition text of everything it owns (the snapshot's families, rendered once per
snapshot by `args.render`, and the store writer's and the tick's). Its log lines go straight to
the inherited stderr, so a loaded parent cannot delay them.

Lifecycle: the child dies with the parent (PR_SET_PDEATHSIG, and EOF on the pipe), ignores
SIGINT (a terminal's Ctrl-C reaches the whole process group; the parent decides), and on "stop"
(or SIGTERM) finishes its tick, closes the store and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

from collector.attribution.persist import StoreHealth
from collector.attribution.snapshot import Snapshot
from collector.models import IntensitySample

Render = Callable[[Snapshot | None, StoreHealth, "TickReport"], bytes]
"""Exposition text of the child's families (a module-level function: it crosses by name)."""

PR_SET_PDEATHSIG = 1
STOP = "stop"


@dataclass(frozen=True)
class WorkerArgs:
    """What the child needs, as plain values (validated by the parent before it spawns)."""

    config: Path
    store: Path
    settle_seconds: float
    record: Path | None = None
    inputs: Path | None = None
    render: Render | None = None
    parent_pid: int = field(default_factory=os.getpid)


@dataclass
class TickReport:
    """One tick, as the parent sees it."""

    started: float = 0.0
    ended: float = 0.0
    cpu_seconds: float = 0.0
    windows: list[float] = field(default_factory=list)
    ready: bool = False
    intensities: list[IntensitySample] = field(default_factory=list)
    exposition: bytes = b""


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _die_with_parent(parent_pid: int) -> None:
    """SIGKILL when the parent ends, however it ends (kill -9 included)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # it died before the request took effect
        os._exit(1)


def child_main(args: WorkerArgs, conn: Connection) -> None:
    """The child's entry point (module level, so that `spawn` finds it by name)."""
    _die_with_parent(args.parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        live, closers = _build(args)
    except Exception as exc:  # the parent validated all this; a race (a second writer) remains
        with contextlib.suppress(OSError):
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        sys.exit(2)
    freeze_start_up()
    try:
        asyncio.run(_run(live, args, conn))
    finally:
        for close in closers:
            close()
    _log("tick process stopped: store closed")
    sys.exit(0)


def freeze_start_up() -> None:
    """Move what start-up built (modules, settings, the engine's tables: ~10^5 objects) out of
    the garbage collector's reach. They live as long as the process, yet every full collection
    walked them again: at 1000 agents this about halves the collector's time per tick (compare
    `bench/tick_phases.py --agents 1000` with and without `--gc-freeze`). The cost: cyclic
    garbage among these objects would never be collected; they are kept for good anyway."""
    gc.collect()
    gc.freeze()


def _build(args: WorkerArgs) -> tuple[Any, list[Callable[[], None]]]:
    from collector.attribution.live import LiveAttributor
    from collector.attribution.replay import load_records_file
    from collector.attribution.topology import topology_from_settings
    from collector.settings import load_settings
    from collector.store import Store

    settings = load_settings(args.config)
    inputs = []
    if args.inputs is not None:
        inputs = load_records_file(args.inputs, topology_from_settings(settings))
    retention = settings.store.retention_days * 86_400
    store = Store(args.store, writer=True, retention_seconds=retention)
    closers: list[Callable[[], None]] = [store.close]
    recording: IO[str] | None = None
    if args.record is not None:
        recording = args.record.open("a", encoding="utf-8")
        closers.insert(0, recording.close)
    pending = settings.store.max_pending_windows
    live = LiveAttributor(settings, store, settle_seconds=args.settle_seconds, record=recording,
                          replay_inputs=inputs, max_pending_windows=pending, log=_log)  # fmt: skip
    return live, closers


async def _run(live: Any, args: WorkerArgs, conn: Connection) -> None:
    from collector.attribution.live import poll_interval

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    def readable() -> None:
        try:
            if conn.recv() == STOP:
                stop.set()
        except (EOFError, OSError):  # the parent is gone
            stop.set()

    loop.add_reader(conn.fileno(), readable)
    interval = poll_interval(live.settings)
    try:
        while not stop.is_set():
            report = await _tick(live)
            if args.render is not None:
                report.exposition = args.render(live.last, live.writer.health(), report)
            try:
                conn.send(("tick", report))
            except OSError:  # the parent is gone
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    finally:
        loop.remove_reader(conn.fileno())
        await live.aclose()


async def _tick(live: Any) -> TickReport:
    report = TickReport(started=time.time())
    cpu = time.process_time()
    try:
        for snap in await live.tick():
            _log(f"window {snap.window_start:.0f} computed")
            report.windows.append(snap.window_start)
    except Exception as exc:  # one bad tick must not end the process
        _log(f"tick failed: {type(exc).__name__}: {exc}")
    report.cpu_seconds = time.process_time() - cpu
    report.ended = time.time()
    report.ready = live.ready
    report.intensities = list(live.carbon.latest.values())
    return report


class TickProcess:
    """The parent's side: starts the child, keeps its latest report, stops it."""

    def __init__(
        self, args: WorkerArgs, on_report: Callable[[TickReport], None] | None = None
    ) -> None:
        self.args = args
        self.on_report = on_report
        """Called with each report on the reading thread (the tick bench collects them)."""
        self.latest = TickReport()
        self.reports = 0
        """How many reports arrived (the /metrics cache's version)."""
        self.failure: str | None = None
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_conn = ctx.Pipe(duplex=True)
        self._child_conn: Connection | None = child_conn
        self.process = ctx.Process(
            target=child_main, args=(args, child_conn), name="e2e-energy-tick", daemon=False
        )
        self.ended = threading.Event()

    @property
    def ready(self) -> bool:
        return self.latest.ready

    def start(self, on_end: Callable[[], None] | None = None) -> None:
        """Spawn the child (call from the main thread: the death signal follows the thread that
        forked) and read its reports on a thread of this process."""
        self.process.start()
        assert self._child_conn is not None
        self._child_conn.close()  # so that the child's end gives EOF here
        self._child_conn = None
        threading.Thread(target=self._read, args=(on_end,), daemon=True).start()

    def _read(self, on_end: Callable[[], None] | None) -> None:
        while True:
            try:
                kind, payload = self._conn.recv()
            except (EOFError, OSError):
                break
            if kind == "tick":
                self.latest = payload
                self.reports += 1
                if self.on_report is not None:
                    self.on_report(payload)
            elif kind == "failed":
                self.failure = payload
        # EOF: the child is gone (or going). Not joined here: two threads waiting for one pid
        # race (the loser sees it alive forever); `stop` joins it on the main thread.
        self.ended.set()
        if on_end is not None:
            on_end()

    def exit_reason(self) -> str:
        """Why the child ended, in words (for the log line); after `stop`."""
        code = self.process.exitcode
        if self.failure is not None:
            return self.failure
        if code is not None and code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit status {code}"

    def stop(self, grace_seconds: float = 10.0) -> None:
        """Ask the child to finish its tick and close the store; kill it after `grace_seconds`."""
        if self.process.pid is None:
            return
        with contextlib.suppress(OSError):
            self._conn.send(STOP)
        self.process.join(grace_seconds)
        if self.process.is_alive():
            _log(f"tick process did not stop within {grace_seconds:.0f} s: killed")
            self.process.kill()
            self.process.join()
