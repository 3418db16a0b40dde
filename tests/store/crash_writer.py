"""A writer that the crash tests kill: `python -m tests.store.crash_writer STORE [--die-at N]`
(the tests fork it, already imported, through `fork_writer`).

It resumes the store like the attributor (totals and the engine's state loaded, the engine
continuing after the last stored window), computes windows of a fixed synthetic load with the
real engine and writes each through StoreWriter with the engine's state, printing
`written START` after each commit. With `--die-at N` it SIGKILLs itself at the N-th SQL
statement it runs, i.e. inside a write; the cache is kept tiny so that SQLite spills the open
transaction's pages into the WAL before that.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import TextIO

from collector.attribution import Engine, NfSpec, Topology
from collector.attribution.persist import StoreWriter, load_totals
from collector.attribution.records import EnergyRecord, Record, TrafficRecord
from collector.store import Store

W = 15.0
NFS = ("ru", "du", "upf")
APPS = tuple(f"app{i:03d}" for i in range(60))
WATTS = {"ru": 40.0, "du": 25.0, "upf": 10.0}
TOPO = Topology(
    nfs=tuple(NfSpec(n, n, zone="z") for n in NFS), window_seconds=W, max_gap_seconds=3 * W
)
ROWS_PER_WINDOW = len(NFS) * len(APPS) * 2
"""Every app sends both ways at every NF in every window: one row per (app, NF, direction)."""


def records(t0: float, t1: float) -> list[Record]:
    """Samples every 5 s in [t0, t1]: NF counters at fixed watts, each app's traffic growing."""
    out: list[Record] = []
    t = t0
    while t <= t1:
        for nf in NFS:
            out.append(EnergyRecord(t=t, nf=nf, joules_total=WATTS[nf] * t))
            for i, app in enumerate(APPS):
                for direction in ("uplink", "downlink"):
                    n = (i + 1) * t
                    out.append(TrafficRecord(t=t, nf=nf, app=app, direction=direction,
                                             packets_total=n, bytes_total=100 * n))  # fmt: skip
        t += 5.0
    return out


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--die-at", type=int, default=0)
    ap.add_argument("--windows", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    store = Store(args.store, writer=True, retention_seconds=1e12)
    engine = Engine(TOPO, totals=load_totals(store))
    saved = store.load_state()
    if saved is not None and not engine.restore(json.loads(saved)):
        sys.exit("the engine state is not of the newest stored window")
    start = engine.next_window if engine.next_window is not None else 0.0
    writer = StoreWriter(store)
    store.db.execute("PRAGMA cache_size=8")  # spill the open transaction into the WAL
    statements = [0]

    def count(_sql: str) -> None:
        statements[0] += 1
        if args.die_at and statements[0] == args.die_at:
            os.kill(os.getpid(), signal.SIGKILL)

    store.db.set_trace_callback(count)
    for _ in range(args.windows):
        engine.ingest(records(start - 5.0, start + W))
        snap = engine.compute(start)
        if writer.commit(snap, json.dumps(engine.state())) is None:
            sys.exit(f"write failed: {writer.health().last_error}")
        print(f"written {start:.0f}", file=out, flush=True)
        start += W
    store.close()


def fork_writer(*argv: str) -> tuple[int, TextIO]:
    """Fork a child running main(argv) (no interpreter start-up); returns its pid and the read
    end of its output."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the test runner
        code = 1
        try:
            os.close(r)
            main(list(argv), os.fdopen(w, "w"))
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    return pid, os.fdopen(r)


if __name__ == "__main__":
    main()
