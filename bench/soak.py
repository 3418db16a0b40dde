"""Soak: the live attributor through a seeded schedule of faults, on a fast-forwarded clock.

The real LiveAttributor (bench/soak_child.py, a process the soak SIGKILLs and restarts) reads a
real snmpd (a Counter32 in joules that wraps), a Kepler exposition and a JSON power meter over
HTTP, and two real agents replaying a capture, with its store on a small tmpfs. The clock is
injected: each tick moves it 12-16 s (15 s windows), so 10,000 windows take minutes. Faults:
agent restarts, source timeouts and garbage answers, counter resets (and the counter's own wraps),
clock steps forward and back, SIGKILL of the attributor, the store's disk filling up and freeing.

After every tick it checks, with its own model (bench/soak_model.py, not the engine):
conservation per NF and window; published per-app totals never decrease and never grow by more
than the energy measured in the windows they cover; every NF's window energy (stale or not,
catch-up) equals what the model derives from the samples the sources served; no faulty answer
became a sample; after each restart the store holds every window reported written before it.
A restarted attributor continues the signals from the state written with the newest stored
window, so at a kill the model rolls back to that window (the readings after it are lost with
the process) and the windows after a restart are checked like any others.
`windows_lost_to_kills` counts the windows after each restart until one is measured again.

Run (as root, for the tmpfs): .venv/bin/python bench/soak.py --json [--windows 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from bench.soak_model import Mark, Signal
from bench.soak_sources import (
    APPS,
    NODE_IDS,
    SNMP_BASE,
    SNMP_OID,
    WRAP_JOULES,
    Bank,
    HttpSources,
    write_capture,
)

ROOT = Path(__file__).resolve().parent.parent
W = 15.0
TICK = (12.0, 16.0)
"""Each tick moves the clock by a random 12 to 16 s (samples at irregular times)."""
MAX_GAP = 45.0
WARMUP_WINDOWS = 100
"""RSS growth is also reported from an incarnation's 100th window (pools, caches and the
allocator's arenas fill in the first ones), so that a leak is told apart from warm-up."""
DISK_FULL_HOLD = 120
"""Ticks a full disk stays full when no write has failed yet. SQLite writes into WAL pages it
already holds, so a full disk bites only when the WAL or the database must grow (a checkpoint
into a growing database); the disk is freed 2-12 ticks after the first failed write."""
TIMEOUT = 0.5
SETTLE = 5.0
"""The attributor's settle time (bench/soak_child.py): a window is due this long after its end."""
T0 = 1_800_000_003.3
KINDS = (
    "agent_restart", "source_timeout", "garbage", "counter_reset", "counter_wrap",
    "clock_forward", "clock_back", "attributor_kill", "disk_full",
)  # fmt: skip
RATES = {
    "agent_restart": 0.006, "source_timeout": 0.006, "garbage": 0.01, "counter_reset": 0.004,
    "clock_forward": 0.003, "clock_back": 0.003, "attributor_kill": 0.002, "disk_full": 0.003,
}  # fmt: skip
"""Scheduled events per window (counter_wrap is not scheduled: the SNMP counter wraps by itself)."""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A child process with its stderr to a file; stop() ends it."""

    def __init__(self, cmd: list[str], log: Path, **kw: Any) -> None:
        self.log = log.open("ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stderr=self.log, **kw)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self.log.close()


def start_snmpd(work: Path, values: Path, delay: Path) -> Proc:
    exe = shutil.which("snmpd")
    if exe is None:
        raise SystemExit("snmpd is not installed (make deps installs it)")
    port = free_udp_port()
    helper = f"{sys.executable} {ROOT / 'testbed' / 'snmp_pass.py'} {values} {delay}"
    conf = work / "snmpd.conf"
    conf.write_text(f"agentAddress udp:127.0.0.1:{port}\nrocommunity public 127.0.0.1\n"
                    f"pass_persist {SNMP_BASE} {helper}\n")  # fmt: skip
    env = {**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent"}
    p = Proc([exe, "-f", "-C", "-c", str(conf), "-Lf", str(work / "snmpd.log"), "-p",
              str(work / "snmpd.pid")], work / "snmpd.err", env=env,
             stdout=subprocess.DEVNULL)  # fmt: skip
    p.port = port  # type: ignore[attr-defined]
    time.sleep(1.0)
    return p


class Agents:
    """Two real agents (`e2e-energy agent --pcap --every`), each restartable on its port."""

    def __init__(self, work: Path) -> None:
        self.work = work
        config = work / "agent.yaml"
        trace_ids = [{"namespace_id": ns, "carrier": "namespace"} for ns in APPS.values()]
        config.write_text(yaml.safe_dump({"agent": {"trace_ids": trace_ids}}))
        self.specs = []
        for i, mix in enumerate(({"vision": (8, 900), "chat": (4, 200)},
                                 {"vision": (2, 1200), "chat": (6, 300)})):  # fmt: skip
            capture = work / f"agent{i}.pcap"
            write_capture(capture, mix)
            self.specs.append((capture, free_port()))
        self.config = config
        self.procs: list[Proc | None] = [None] * len(self.specs)
        for i in range(len(self.specs)):
            self.start(i)

    def start(self, i: int) -> None:
        capture, port = self.specs[i]
        self.procs[i] = Proc(
            [sys.executable, "-m", "collector", "agent", "--config", str(self.config), "--pcap",
             str(capture), "--every", "0.2", "--listen", f"127.0.0.1:{port}"],
            self.work / f"agent{i}.err", stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def restart(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None:
            proc.kill()
        self.start(i)

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}/metrics" for _, port in self.specs]

    def close(self) -> None:
        for p in self.procs:
            if p is not None:
                p.kill()


def attributor_settings(snmp_port: int, http: str, agent_urls: list[str]) -> dict[str, Any]:
    common = {"timeout_seconds": TIMEOUT, "interval_seconds": W}
    return {
        "window_seconds": W,
        "max_gap_seconds": MAX_GAP,
        "agents": {"urls": agent_urls, "timeout_seconds": TIMEOUT},
        "sources": [
            {"name": "ru", "kind": "snmp", "address": f"127.0.0.1:{snmp_port}", "community":
             "public", "profile": "generic", "oid": SNMP_OID, "unit": "J",
             "counter_width": WRAP_JOULES, "retries": 0, **common},
            {"name": "du", "kind": "kepler", "url": f"{http}/kepler", **common},
            {"name": "upf", "kind": "http_json", "url": f"{http}/meter",
             "power_path": "power.watts", **common},
        ],
        "carbon": {"zones": {"edge": {"providers": [{"kind": "static", "grams_per_kwh": 300}]}}},
        "nfs": [
            {"name": "ru", "role": "ru", "node_id": NODE_IDS["ru"], "zone": "edge",
             "power": {"source": "ru", "target": "device"}},
            {"name": "du", "role": "du", "node_id": NODE_IDS["du"], "zone": "edge",
             "power": {"source": "du", "target": "ran/du-0"}},
            {"name": "upf", "role": "upf", "node_id": NODE_IDS["upf"], "zone": "edge",
             "power": {"source": "upf", "target": "0"}},
        ],
        "apps": [{"name": a, "traces": [{"namespace_id": n, "trace_id": n}]}
                 for a, n in APPS.items()],
    }  # fmt: skip


class Child:
    """The attributor process under test."""

    def __init__(self, work: Path, settings: Path, store: Path, t: float) -> None:
        self.p = Proc(
            [sys.executable, str(ROOT / "bench" / "soak_child.py"), str(settings), str(store),
             repr(t)], work / "attributor.err",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        hello = self._read()
        assert hello.get("ready"), hello
        self.rss_start: int = hello["rss_kb"]
        self.resumed: bool = bool(hello.get("resumed"))
        """Whether it continued the signals from the state in the store (else it started fresh)."""

    def _read(self) -> dict[str, Any]:
        out: IO[str] | None = self.p.proc.stdout  # type: ignore[assignment]
        assert out is not None
        line = out.readline()
        if not line:
            raise RuntimeError("the attributor died: see attributor.err")
        return dict(json.loads(line))

    def send(self, t: float) -> None:
        stdin: IO[str] | None = self.p.proc.stdin  # type: ignore[assignment]
        assert stdin is not None
        stdin.write(json.dumps({"t": t}) + "\n")
        stdin.flush()

    def tick(self, t: float) -> dict[str, Any]:
        self.send(t)
        return self._read()


def fill(fs: Path) -> Path:
    """Fill the filesystem (it may be full already: the store's own growth)."""
    filler = fs / "filler"
    try:
        with filler.open("wb") as f:
            while True:
                f.write(b"\0" * (1 << 16))
                f.flush()
    except OSError:
        pass
    return filler


class Checker:
    """The invariants, checked after every tick against the soak's own bookkeeping."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.checks: Counter[str] = Counter()
        """Invariant -> times checked (what held is checks minus failures)."""
        self.failures: Counter[str] = Counter()
        self.window_measured: dict[float, float] = {}
        self.published: dict[tuple[str, str, str], float] = {}
        self.published_start: float | None = None
        self.reported_written: set[float] = set()
        self.unconfirmed: set[float] = set()
        """Computed and reported, not yet known to be in the store."""
        self.checked_windows = 0

    def check(self, invariant: str, held: bool, what: str) -> None:
        self.checks[invariant] += 1
        if not held:
            self.failures[invariant] += 1
            self.fail(f"{invariant}: {what}")

    def fail(self, what: str) -> None:
        if len(self.violations) < 50:
            self.violations.append(what)
        else:
            self.violations[-1] = f"... and more ({what})"

    def window(self, rep: dict[str, Any], models: dict[str, Signal]) -> None:
        start = float(rep["start"])
        total = 0.0
        for nf, w in rep["nfs"].items():
            parts = w["attributed"] + w["unattributed"]
            conserved = abs(w["measured"] - parts) <= 1e-9 * max(1.0, abs(w["measured"]))
            self.check("conservation", conserved, f"{nf}@{start}: {w['measured']} != {parts}")
            exp = models[nf].window(start, start + W)
            tol = 1e-9 * max(1.0, abs(models[nf].y[-1]) if models[nf].y else 1.0)
            stale = exp.stale == (w["unmeasured"] > 0)
            self.check(
                "unmeasured_declared",
                stale,
                f"{nf}@{start}: model {exp.stale}, attributor {w['unmeasured']}",
            )
            if stale:
                same = abs(exp.measured - w["measured"]) <= tol
                same = same and abs(exp.catch_up - w["catch_up"]) <= tol
                self.check("measured_equals_model", same, f"{nf}@{start}: model {exp}, got {w}")
            total += w["measured"]
        self.window_measured[start] = total
        self.unconfirmed.add(start)
        self.checked_windows += 1

    def written(self, last: float | None) -> None:
        if last is None:
            return
        done = {s for s in self.unconfirmed if s <= last}
        self.reported_written |= done
        self.unconfirmed -= done

    def totals(self, pub: dict[str, Any] | None) -> None:
        if pub is None:
            return
        start = float(pub["start"])
        new = {(a, n, d): j for a, n, d, j in pub["apps"]}
        for key, old in self.published.items():
            held = new.get(key, 0.0) >= old - 1e-9 * max(1.0, old)
            self.check("totals_never_decrease", held, f"{key}: {old} -> {new.get(key)}")
        grew = sum(new.values()) - sum(self.published.values())
        prev = self.published_start
        first = start if prev is None else prev + W
        covered = sum(
            self.window_measured.get(first + i * W, 0.0)
            for i in range(round((start - first) / W) + 1)
        )
        bounded = grew <= covered + 1e-6 * max(1.0, covered)
        self.check(
            "totals_bounded_by_measured",
            bounded,
            f"grew {grew} J up to {start}, windows covered measured {covered} J",
        )
        self.published, self.published_start = new, start


def schedule(rng: random.Random, windows: int, minimum: int) -> dict[int, list[str]]:
    """Tick index -> fault kinds: each scheduled kind at least `minimum` times."""
    ticks = int(windows * 0.9)
    plan: dict[int, list[str]] = {}
    for kind, rate in RATES.items():
        n = max(minimum, round(rate * windows))
        for k in rng.sample(range(4, ticks), n):
            plan.setdefault(k, []).append(kind)
    return plan


def run(windows: int = 10_000, seed: int = 1, minimum: int = 20) -> dict[str, Any]:
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="e2e-soak-"))
    fs = work / "fs"
    fs.mkdir()
    mounted = os.geteuid() == 0
    if mounted:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(fs)], check=True)
    injected: Counter[str] = Counter()
    checker = Checker()
    started = time.monotonic()
    stack = ExitStack()
    try:
        bank = Bank(rng, work / "snmp.json", work / "snmp.delay")
        bank.advance(T0)
        bank.serve(T0, {})
        snmpd = start_snmpd(work, work / "snmp.json", work / "snmp.delay")
        stack.callback(snmpd.kill)
        http = HttpSources(bank, TIMEOUT)
        stack.callback(http.close)
        agents = Agents(work)
        stack.callback(agents.close)
        settings = work / "attributor.yaml"
        settings.write_text(yaml.safe_dump(
            attributor_settings(snmpd.port, http.base, agents.urls)  # type: ignore[attr-defined]
        ))  # fmt: skip
        store = fs / "store.sqlite"
        plan = schedule(rng, windows, minimum)
        offset, t = 0.0, T0
        previous = T0
        child = Child(work, settings, store, t)
        stack.callback(lambda: child.p.kill())
        models = {nf: Signal(b.kind, MAX_GAP, WRAP_JOULES if nf == "ru" else None)
                  for nf, b in bank.nfs.items()}  # fmt: skip
        incarnations = [{"windows": 0, "rss_start_kb": child.rss_start, "rss_end_kb": 0,
                         "rss": []}]  # fmt: skip
        unpersisted_at_kill = 0
        store_waiting_ticks = store_pending_max = 0
        stale_after_restart = 0
        after_restart = False
        kills: list[dict[str, Any]] = []
        """Per kill: what the new process resumed from and each window lost after it, why."""
        # the models as they stood when each window was computed (newest reported ones): a
        # restart continues from the state written with the newest window in the store
        marks: dict[float, dict[str, Mark]] = {}
        computed: set[float] = set()
        disk_free_at: int | None = None
        filler: Path | None = None
        filled_at = 0
        disk_full_bit = 0
        k = 0
        while len(computed) < windows:
            k += 1
            t += rng.uniform(*TICK)
            bank.advance(t)
            faults: dict[str, str] = {}
            kill = False
            for kind in plan.get(k, []):
                if kind == "clock_forward":
                    offset += rng.uniform(20, 120)
                elif kind == "clock_back":
                    offset -= rng.uniform(5, 40)
                elif kind == "counter_reset":
                    bank.reset_counter(rng.choice(["ru", "du"]))
                elif kind == "agent_restart":
                    agents.restart(rng.randrange(len(agents.specs)))
                elif kind == "disk_full":
                    if not mounted or filler is not None:
                        continue
                    filler, filled_at, disk_free_at = fill(fs), k, None
                elif kind == "source_timeout":
                    faults[rng.choice(["ru", "du", "upf"])] = "timeout"
                elif kind == "garbage":
                    faults[rng.choice(["ru", "du", "upf"])] = "garbage"
                elif kind == "attributor_kill":
                    kill = True
                injected[kind] += 1
            held_out = disk_free_at is None and k - filled_at >= DISK_FULL_HOLD
            if filler is not None and (disk_free_at == k or held_out):
                filler.unlink(missing_ok=True)
                filler = disk_free_at = None
            served = bank.serve(t, faults)
            now = t + offset
            if kill:
                child.send(now)
                time.sleep(rng.uniform(0.0, 0.08))  # anywhere inside the tick, or after it
                child.p.kill()
                child = Child(work, settings, store, now)
                incarnations.append({"windows": 0, "rss_start_kb": child.rss_start,
                                     "rss_end_kb": 0, "rss": []})  # fmt: skip
                stored = set(stored_windows(store))
                horizon = now - 6 * 3600 + 2 * W
                missing = [s for s in checker.reported_written if s >= horizon and s not in stored]
                checker.check(
                    "store_holds_written_windows",
                    not missing,
                    f"reported written, missing after a kill: {missing}",
                )
                unreported = sorted(x for x in stored if x not in checker.window_measured)
                for s, m in measured_per_window(
                    store,
                    checker.unconfirmed | {x for x in stored if x not in checker.window_measured},
                ).items():
                    checker.window_measured[s] = m  # written in the killed tick, unreported
                    checker.reported_written.add(s)
                    computed.add(s)
                lost = [s for s in checker.unconfirmed if s not in stored]
                unpersisted_at_kill += len(lost)
                for s in lost:
                    computed.discard(s)
                    checker.window_measured.pop(s, None)
                checker.unconfirmed = set()
                after_restart = True
                state_window = stored_state_window(store)
                restart_models(models, marks, stored, unreported, served, now, state_window,
                               state_reading_times(store))  # fmt: skip
                kills.append({
                    "at": round(now, 3), "previous_tick": round(previous, 3),
                    "newest_stored": max(stored, default=None),
                    "state_window": state_window, "resumed": child.resumed,
                    "other_faults": sorted(set(plan.get(k, [])) - {"attributor_kill"}),
                    "last_reading_kept": {nf: m.t[-1] if m.t else None
                                          for nf, m in models.items()},
                    "first_reading_after": None, "lost": [],
                })  # fmt: skip
                marks = {max(stored): {nf: m.mark() for nf, m in models.items()}} if stored else {}
                continue
            reply = child.tick(now)
            previous = now
            for nf, source in (("ru", "ru"), ("du", "du"), ("upf", "upf")):
                up = reply["up"].get(source, False)
                if nf in served.faults:
                    checker.check(
                        "faulty_answer_refused",
                        not up,
                        f"{served.faults[nf]} answer of {nf} accepted at {now}",
                    )
                elif up:
                    models[nf].add(now, served.values[nf])
            for rep in reply["computed"]:
                checker.window(rep, models)
                computed.add(float(rep["start"]))
                # each window is written with the state after it (a tick's later window may
                # fail to be written while an earlier one was)
                marks[float(rep["start"])] = {nf: m.mark() for nf, m in models.items()}
            if reply["state_at"] == now and reply["last_written"] is not None:
                # the state was written in this tick (with a window or alone): it holds the
                # readings until now, which a restart continues from
                marks[reply["last_written"]] = {nf: m.mark() for nf, m in models.items()}
            if reply["last_written"] is not None:  # older marks are never restored
                marks = {s: m for s, m in marks.items() if s >= reply["last_written"]}
            checker.totals(reply["published"])
            checker.written(reply["last_written"])
            if kills and kills[-1]["first_reading_after"] is None:
                kills[-1]["first_reading_after"] = round(now, 3)
            for rep in reply["computed"] if after_restart else ():
                stale_nfs = sorted(nf for nf, w in rep["nfs"].items() if w["unmeasured"] > 0)
                if not stale_nfs:
                    after_restart = False  # the first window measured again
                    break
                stale_after_restart += 1
                kills[-1]["lost"].append(lost_window(kills[-1], float(rep["start"]), stale_nfs))
            incarnations[-1]["windows"] += len(reply["computed"])
            if reply["pending"] and filler is not None and disk_free_at is None:
                disk_full_bit += 1  # a write failed: free the disk a few ticks later
                disk_free_at = k + rng.randint(2, 12)
            if reply["pending"]:
                store_waiting_ticks += 1
                store_pending_max = max(store_pending_max, reply["pending"])
            incarnations[-1]["rss_end_kb"] = reply["rss_kb"]
            incarnations[-1]["rss"].append((incarnations[-1]["windows"], reply["rss_kb"]))
            incarnations[-1]["open_fds"] = reply["open_fds"]
            if (
                incarnations[-1]["windows"] >= WARMUP_WINDOWS
                and "rss_warm_kb" not in incarnations[-1]
            ):
                incarnations[-1]["rss_warm_kb"] = reply["rss_kb"]
        injected["counter_wrap"] = bank.wraps
        stored = stored_windows(store)
        energy = store_totals(store)
        summed = sum(checker.window_measured.values())
        checker.check(
            "store_total_equals_sum_of_windows",
            abs(energy[0] - summed) <= 1e-6 * max(1.0, summed),
            f"store totals {energy[0]} J, windows computed {summed} J",
        )
        elapsed = time.monotonic() - started
        rss = rss_report(incarnations)
        return {
            "windows": len(computed),
            "ticks": k,
            "seed": seed,
            "faults_injected": {kind: injected.get(kind, 0) for kind in KINDS},
            "invariant_violations": sum(checker.failures.values()),
            "invariants_checked": dict(checker.checks),
            "invariants_failed": dict(checker.failures),
            "violations": checker.violations[:20],
            "windows_checked_against_model": checker.checked_windows,
            "windows_lost_to_kills": stale_after_restart,
            "windows_lost_to_kills_by_cause": dict(
                Counter(lost["cause"] for kill in kills for lost in kill["lost"])
            ),
            "kills_with_lost_windows": [kill for kill in kills if kill["lost"]],
            "windows_computed_but_unwritten_at_kill": unpersisted_at_kill,
            "kills": injected.get("attributor_kill", 0),
            "windows_in_store_at_end": len(stored),
            "disk_full_episodes_with_failed_writes": disk_full_bit,
            "ticks_with_windows_waiting_for_the_disk": store_waiting_ticks,
            "most_windows_waiting_for_the_disk": store_pending_max,
            "energy_true_joules": round(sum(nf.joules for nf in bank.nfs.values()), 1),
            "energy_measured_joules": round(energy[0], 1),
            "unmeasured_seconds": round(energy[1], 1),
            **rss,
            "disk_full_on_tmpfs": mounted,
            "seconds": round(elapsed, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }
    finally:
        stack.close()
        if mounted:
            subprocess.run(["umount", "-l", str(fs)], check=False)
        shutil.rmtree(work, ignore_errors=True)


RSS_GOAL = (
    "growth of the attributor's RSS from its incarnation's 100th window (warm-up done: imports,"
    " connection pools, SQLite's page cache, the allocator's arenas) to its last, the largest"
    " over incarnations of at least 500 windows; goal < 5 %. rss_growth_from_start_max_ratio"
    " also counts the warm-up (from the process ready, before its first tick)"
)


def rss_report(incarnations: list[dict[str, Any]]) -> dict[str, Any]:
    """RSS at start, after warm-up and at the end, the growth (the goal's definition is
    `rss_goal_definition`), and the longest incarnation's RSS at 25/50/75/100 % of its windows
    with the growth over its second half: a leak keeps growing there, warm-up does not."""
    long_lived = [i for i in incarnations if i["windows"] >= 500 and "rss_warm_kb" in i]
    warm = [(i["rss_end_kb"] - i["rss_warm_kb"]) / i["rss_warm_kb"] for i in long_lived]
    cold = [(i["rss_end_kb"] - i["rss_start_kb"]) / i["rss_start_kb"] for i in long_lived]
    longest = max(incarnations, key=lambda i: i["windows"])
    n = longest["windows"]
    level = [next((kb for w, kb in longest["rss"] if w >= f * n), longest["rss_end_kb"])
             for f in (0.25, 0.5, 0.75, 1.0)]  # fmt: skip
    return {
        "incarnations": len(incarnations),
        "rss_goal_definition": RSS_GOAL,
        "rss_growth_after_warmup_max_ratio": round(max(warm), 4) if warm else None,
        "rss_growth_from_start_max_ratio": round(max(cold), 4) if cold else None,
        "rss_longest_incarnation": {
            "windows": n,
            "start_kb": longest["rss_start_kb"],
            "warm_kb": longest.get("rss_warm_kb"),
            "end_kb": longest["rss_end_kb"],
            "at_25_50_75_100_percent_kb": level,
            "second_half_growth_ratio": round((level[3] - level[1]) / level[1], 4),
            "open_fds_at_end": longest.get("open_fds"),
        },
        "rss_first_incarnation_kb": [
            incarnations[0]["rss_start_kb"],
            incarnations[0].get("rss_warm_kb"),
            incarnations[0]["rss_end_kb"],
        ],
    }


def lost_window(kill: dict[str, Any], start: float, stale_nfs: list[str]) -> dict[str, Any]:
    """Why a window after a restart was not measured:
    - `in_progress`: the killed tick was computing it (due after the previous tick) or it was
      still open or settling at the kill; the readings of the killed tick died with it;
    - `waiting_for_the_disk`: computed at an earlier tick but not yet in the store (a full disk)
      when the kill came; with it died the readings since the last window written;
    - `started_fresh`: the new process did not take the stored state and began without readings;
    - `after_kill`: it began after the kill (the goal excludes these)."""
    if not kill["resumed"]:
        cause = "started_fresh"
    elif start > kill["at"]:
        cause = "after_kill"
    elif start + W + SETTLE <= kill["previous_tick"]:
        cause = "waiting_for_the_disk"
    else:
        cause = "in_progress"
    return {"start": start, "stale_nfs": stale_nfs, "cause": cause}


def restart_models(
    models: dict[str, Signal],
    marks: dict[float, dict[str, Mark]],
    stored: set[float],
    unreported: list[float],
    served: Any,
    now: float,
    state_window: float | None,
    state_times: dict[str, float],
) -> None:
    """Roll the models back to what the new process continues from: the state written with the
    newest window in the store (readings taken after it are lost with the process). When the
    killed tick wrote windows of its own (never reported), its readings had been taken before
    them: the models take those readings and compute those windows, as the killed process did.
    A store whose state is not of its newest window (a tick that computes several windows
    writes the state with its last one only) starts afresh."""
    newest = max(stored, default=None)
    if newest is None or state_window != newest:
        for m in models.values():
            m.rollback((0, None, None))
        return
    if newest in marks:
        for nf, m in models.items():
            m.rollback(marks[newest][nf])
            if state_times.get(nf) == now and nf not in served.faults:
                m.add(now, served.values[nf])  # the killed tick wrote the state alone
        return
    if not unreported:
        raise RuntimeError(f"the store's newest window {newest} was never computed here")
    # the killed tick wrote windows after the newest reported one: the models stand where the
    # killed process stood before that tick (every reading until then, the carry of the newest
    # reported window), then take the tick's readings and compute its windows
    for nf, m in models.items():
        if nf not in served.faults:
            m.add(now, served.values[nf])
        for s in unreported:
            m.window(s, s + W)


def measured_per_window(store: Path, starts: set[float]) -> dict[float, float]:
    """Σ measured over NFs of the given windows that the store holds."""
    from collector.store import Store

    reader = Store(store)
    try:
        rows = reader.query("SELECT window_start, sum(measured_joules) FROM nf_window GROUP BY 1")
    finally:
        reader.close()
    return {float(s): float(m) for s, m in rows if float(s) in starts}


def store_totals(store: Path) -> tuple[float, float]:
    """Σ measured joules and Σ unmeasured seconds over NFs, as the store's totals hold them."""
    from collector.store import Store

    reader = Store(store)
    try:
        ((measured, unmeasured),) = reader.query(
            "SELECT total(measured_joules), total(unmeasured_seconds) FROM totals_nf"
        )
    finally:
        reader.close()
    return float(measured), float(unmeasured)


def stored_state_window(store: Path) -> float | None:
    """The window whose engine state the store holds (the one before its next_window)."""
    from collector.store import Store

    reader = Store(store)
    try:
        text = reader.load_state()
    finally:
        reader.close()
    return None if text is None else float(json.loads(text)["next_window"]) - W


def state_reading_times(store: Path) -> dict[str, float]:
    """NF -> the newest reading time in the stored engine state."""
    from collector.store import Store

    reader = Store(store)
    try:
        text = reader.load_state()
    finally:
        reader.close()
    if text is None:
        return {}
    out = {}
    for nf, energy in json.loads(text)["energy"].items():
        times = [line["t"][-1] for line in energy["lines"].values() if line["t"]]
        if times:
            out[nf] = max(times)
    return out


def stored_windows(store: Path) -> list[float]:
    from collector.store import Store

    reader = Store(store)
    try:
        return [r[0] for r in reader.query("SELECT window_start FROM windows ORDER BY 1")]
    finally:
        reader.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--windows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-per-kind", type=int, default=20)
    parser.add_argument("--no-kills", action="store_true", help="one incarnation (RSS check)")
    args = parser.parse_args()
    if args.no_kills:
        RATES.pop("attributor_kill")
    result = run(args.windows, args.seed, args.min_per_kind)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>32}: {value}")
    sys.exit(1 if result["invariant_violations"] else 0)


if __name__ == "__main__":
    main()
