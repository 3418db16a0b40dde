"""The soak's attributor process: the real LiveAttributor with an injected clock, driven one tick
at a time over stdin/stdout (JSON lines) so that the soak can SIGKILL it anywhere and start it
again on the same store. `python bench/soak_child.py SETTINGS STORE T0`.

Each request `{"t": T}` sets the clock to T and runs one tick; the reply lists the windows
computed (per NF: stale, measured, catch-up and the other parts), which sources were up, the
totals now published, the newest window in the store and the process's RSS.

Debugging memory (off by default): `E2E_SOAK_TRACEMALLOC=A,B:FILE` traces Python allocations and
writes to FILE, when the process has computed B windows, the allocations grown since its A-th
window grouped by traceback (largest first) and the live objects grown by type, with
/proc/self/smaps_rollup at both points (what Python does not allocate: SQLite's page cache,
OpenSSL, numpy's buffers, the allocator's arenas).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.attribution.live import LiveAttributor
from collector.attribution.snapshot import Snapshot
from collector.settings import load_settings
from collector.store import Store


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class MemoryTrace:
    """Python allocations traced from the `first` window on (tracing from the start slows the
    process tenfold), diffed at the `second`; with live objects counted by type at both."""

    def __init__(self, spec: str) -> None:
        points, _, out = spec.partition(":")
        self.first, self.second = (int(x) for x in points.split(","))
        self.out = Path(out)
        self.windows = 0
        self.base: Any = None
        self.base_rollup = ""
        self.base_types: Counter[str] = Counter()

    def windows_done(self, n: int) -> None:
        import tracemalloc

        before, self.windows = self.windows, self.windows + n
        if before < self.first <= self.windows:
            gc.collect()
            tracemalloc.start(6)
            self.base, self.base_rollup = tracemalloc.take_snapshot(), rollup()
            self.base_types = object_types()
        if before < self.second <= self.windows and self.base is not None:
            gc.collect()
            top = tracemalloc.take_snapshot().compare_to(self.base, "traceback")
            types = object_types()
            types.subtract(self.base_types)
            lines = [f"windows {self.first} -> {self.windows}; traced now "
                     f"{tracemalloc.get_traced_memory()[0] / 1024:.0f} KiB",
                     "smaps_rollup at the first:", self.base_rollup,
                     "smaps_rollup now:", rollup(), "live objects grown, by type:",
                     *(f"  {t}: {n:+d}" for t, n in types.most_common(15)),
                     "grown, by traceback:"]  # fmt: skip
            for stat in top[:25]:
                lines.append(f"{stat.size_diff / 1024:+.1f} KiB, {stat.count_diff:+d} blocks")
                lines.extend("    " + line for line in stat.traceback.format()[-6:])
            self.out.write_text("\n".join(lines) + "\n")
            tracemalloc.stop()


def object_types() -> Counter[str]:
    return Counter(type(o).__name__ for o in gc.get_objects())


def rollup() -> str:
    return Path("/proc/self/smaps_rollup").read_text()


def window_report(snap: Snapshot) -> dict[str, Any]:
    return {
        "start": snap.window_start,
        "nfs": {
            w.nf: {
                "stale": w.stale,
                "measured": w.measured_joules,
                "catch_up": w.catch_up_joules,
                "attributed": w.attributed_joules,
                "unattributed": w.untagged_joules + w.idle_no_traffic_joules + w.catch_up_joules,
                "unmeasured": w.unmeasured_seconds,
            }
            for w in snap.nfs
        },
    }


def published(live: LiveAttributor) -> dict[str, Any] | None:
    snap = live.last
    if snap is None:
        return None
    a = snap.totals.apps
    joules = (a.static_joules + a.dynamic_joules).tolist()
    keys = zip(a.app.tolist(), a.nf.tolist(), a.direction.tolist(), strict=True)
    return {
        "start": snap.window_start,
        "apps": [[*k, j] for k, j in zip(keys, joules, strict=True)],
        "measured": {n.nf: n.measured_joules for n in snap.totals.nfs},
    }


async def main() -> None:
    settings_path, store_path, t0 = sys.argv[1], sys.argv[2], float(sys.argv[3])
    settings = load_settings(settings_path)
    now = [t0]
    store = Store(store_path, writer=True, retention_seconds=6 * 3600.0, clock=lambda: now[0])
    live = LiveAttributor(
        settings, store, clock=lambda: now[0], settle_seconds=5.0, max_pending_windows=10_000,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )  # fmt: skip
    hello = {"ready": True, "rss_kb": rss_kb(), "resumed": live.resumed_signals}
    print(json.dumps(hello), flush=True)
    spec = os.environ.get("E2E_SOAK_TRACEMALLOC")
    trace = MemoryTrace(spec) if spec else None
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            break
        now[0] = float(json.loads(line)["t"])
        snaps = await live.tick()
        if trace is not None:
            trace.windows_done(len(snaps))
        reply = {
            "computed": [window_report(s) for s in snaps],
            "up": {h.source: h.up for h in live.health()},
            "published": published(live),
            "last_written": live.writer.last_written,
            "state_at": live.state_written_at,
            "pending": live.writer.pending,
            "rss_kb": rss_kb(),
            "open_fds": len(os.listdir("/proc/self/fd")),
        }
        print(json.dumps(reply), flush=True)
    await live.aclose()
    store.close()


if __name__ == "__main__":
    asyncio.run(main())
