"""One attributor for bench/attributor_tick.py, as `e2e-energy attributor` runs it, with the
collector package of whichever tree is first on PYTHONPATH (this checkout, or the pre-refactor
baseline extracted by the bench).

The baseline runs the live attributor and its API on one event loop (its shape then). Phase 1
measures the process CPU time of each tick with no API traffic; phase 2 leaves the loop idle for
3 s, then ticks back to back, while the bench's client calls the API; it reports the idle and the
ticks' wall intervals.

A tree with collector.attribution.worker runs the command's own two processes (this one serves,
built by collector.services.attributor_cmd; the tick process ticks every poll interval): the CPU
of a tick is the tick process's (its report), the intervals are its ticks' during the API phase,
and the idle reference is the longest gap between two of them. Prints JSON
lines: {"event": "listening"}, {"event": "api"}, then {"event": "done", ...}.
Run: python bench/tick_worker.py SETTINGS STORE_DIR TICKS API_SECONDS
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn

from collector.outputs.api import create_app
from collector.outputs.exporter import SnapshotCollector, make_registry
from collector.settings import load_settings
from collector.store import Store

MEASURE_WALL_LIMIT_S = 120.0
"""Stop measuring after this long once two ticks are in (the baseline at N = 1000 is slow)."""


def build(settings_path: Path, store_dir: Path) -> tuple[Any, SnapshotCollector, Store]:
    settings = load_settings(settings_path)
    store = Store(store_dir / "s.sqlite", writer=True)
    try:
        from collector.attribution.live import LiveAttributor  # after the refactor

        exporter = SnapshotCollector()
        live = LiveAttributor(settings, store, settle_seconds=1.0, publish=exporter.publish)
    except ImportError:  # the baseline tree
        from collector.services.attributor_live import LiveAttributor as Old

        live = Old(settings, store, settle_seconds=1.0)
        exporter = live.collector
    return live, exporter, store


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def ticks(live: Any, count: int) -> list[float]:
    """Process CPU seconds of each of `count` ticks (fewer past the wall limit)."""
    cpu = []
    began = time.monotonic()
    for _ in range(count):
        c0 = time.process_time()
        await live.tick()
        cpu.append(time.process_time() - c0)
        if len(cpu) >= 2 and time.monotonic() - began > MEASURE_WALL_LIMIT_S:
            break
        await asyncio.sleep(0.2)
    return cpu


async def main_split(settings_path: Path, store_dir: Path, count: int, api_seconds: float) -> None:
    from collector.attribution.live import poll_interval
    from collector.attribution.worker import TickProcess, TickReport, WorkerArgs
    from collector.outputs.exporter import render_tick_process
    from collector.services import attributor_cmd as cmd

    settings = load_settings(settings_path)
    path = store_dir / "s.sqlite"
    Store(path, writer=True).close()  # as the command's validation leaves it
    reports: list[TickReport] = []
    args = WorkerArgs(settings_path, path, 1.0, render=render_tick_process)
    tick = TickProcess(args, on_report=reports.append)
    server, reader, tls = cmd.build_server(settings, "127.0.0.1:0", path, tick, None)
    serving = asyncio.create_task(cmd.serve(server, tick, None, poll_interval(settings), tls))
    while not server.started:
        await asyncio.sleep(0.05)
    import collector

    port = server.servers[0].sockets[0].getsockname()[1]
    emit(event="listening", port=port, code=str(Path(collector.__file__).parent))
    began = time.monotonic()
    while len(reports) < 1 + count:  # the first is the warm-up
        if len(reports) >= 3 and time.monotonic() - began > MEASURE_WALL_LIMIT_S:
            break
        await asyncio.sleep(0.05)
    cpu = [r.cpu_seconds for r in reports[1:]]
    emit(event="api")
    await asyncio.sleep(1.0)  # the client starts
    first = len(reports)
    began = time.time()
    while len(reports) - first < 2 or time.time() - began < api_seconds + 3.0:
        await asyncio.sleep(0.05)
    during = reports[first:]
    intervals = [(r.started, r.ended) for r in during]
    gaps = [(a.ended, b.started) for a, b in itertools.pairwise(during)]
    idle = max(gaps, key=lambda g: g[1] - g[0])
    emit(event="done", cpu=cpu, median=statistics.median(cpu), intervals=intervals, idle=idle)
    server.should_exit = True
    await serving
    reader.close()
    tick.stop()


async def main(settings_path: Path, store_dir: Path, count: int, api_seconds: float) -> None:
    live, exporter, store = build(settings_path, store_dir)
    reader = Store(store.path)
    app = create_app(reader, clock=time.time, ready=lambda: True, metrics=make_registry(exporter))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    import collector

    port = server.servers[0].sockets[0].getsockname()[1]
    emit(event="listening", port=port, code=str(Path(collector.__file__).parent))
    await ticks(live, 1)  # warm-up: first connections, imports on first use
    cpu = await ticks(live, count)
    emit(event="api")
    await asyncio.sleep(1.0)  # the client starts
    idle = (time.time(), time.time() + 3.0)  # the API alone, for reference
    await asyncio.sleep(3.0)
    intervals = []
    began = time.time()
    while not intervals or time.time() - began < api_seconds:
        t0 = time.time()
        await live.tick()
        intervals.append((t0, time.time()))
    emit(event="done", cpu=cpu, median=statistics.median(cpu), intervals=intervals, idle=idle)
    server.should_exit = True
    await serving
    reader.close()
    store.close()


if __name__ == "__main__":
    try:
        import collector.attribution.worker  # noqa: F401  (the split tree)

        run = main_split
    except ImportError:
        run = main
    asyncio.run(run(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
