"""The attributor's two processes, run for real: the parent serves while its child ticks; SIGTERM
and Ctrl-C stop both with the store closed; a kill -9 of the parent leaves no child holding the
store; the child dying ends the parent with a message and a non-zero status. Processes are found
in /proc, not through the code under test."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from collector.store import Store, StoreLocked
from tests.attribution.drive import ru_inputs
from tests.conftest import ROOT

BUDGET = 120.0
"""Start-up and shutdown budgets for a loaded 2-core machine; never timing assertions."""


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid`, read from /proc/*/stat."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _tick_children(pid: int) -> list[int]:
    """The children running multiprocessing's spawn entry point (the other child `spawn` starts
    is its resource tracker)."""
    return [c for c in _children(pid) if b"spawn_main" in _cmdline(c)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(cond: object, what: str, budget: float = BUDGET) -> None:
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {budget} s: {what}")


class Attributor:
    """`e2e-energy attributor` on 1 s windows, fed 4 W to app a from an input file."""

    def __init__(self, tmp: Path, *, new_session: bool = False) -> None:
        config, inputs = ru_inputs(tmp, math.floor(time.time()) - 5, 400)
        self.store = tmp / "s.sqlite"
        self.log = tmp / "attributor.log"
        with self.log.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "collector", "attributor", "--config", str(config),
                 "--store", str(self.store), "--inputs", str(inputs),
                 "--listen", "127.0.0.1:0", "--settle-seconds", "0.2"],
                cwd=ROOT, stderr=err, stdout=subprocess.DEVNULL, start_new_session=new_session,
            )  # fmt: skip
        self.url = ""

        def listening() -> bool:
            assert self.proc.poll() is None, self.text()
            for line in self.text().splitlines():
                if line.startswith("attributor listening on "):
                    self.url = line.rsplit(" ", 1)[1]
            return bool(self.url)

        _wait(listening, "the attributor listens")

    def text(self) -> str:
        return self.log.read_text()

    def child(self) -> int:
        _wait(lambda: len(_tick_children(self.proc.pid)) == 1, "one tick process")
        (pid,) = _tick_children(self.proc.pid)
        return pid

    def windows(self) -> list[float]:
        return [float(x.split()[1]) for x in self.text().splitlines() if x.endswith(" computed")]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def _ready(url: str) -> bool:
    return httpx.get(f"{url}/readyz", timeout=10).status_code == 200


def _writer_free(store: Path) -> bool:
    try:
        Store(store, writer=True).close()
    except StoreLocked:
        return False
    return True


def test_the_parent_serves_while_the_child_ticks(tmp_path: Path) -> None:
    att = Attributor(tmp_path)
    try:
        child = att.child()
        assert child != att.proc.pid
        _wait(lambda: _ready(att.url), "ready after the first window")
        _wait(lambda: len(att.windows()) >= 3, "three windows")
        text = httpx.get(f"{att.url}/metrics", timeout=10).text
        # 4 W for 1 s windows, all to app a: the child's families arrive through the parent
        joules = [ln for ln in text.splitlines() if ln.startswith("e2e_energy_app_joules_total{")]
        assert joules and sum(float(ln.rsplit(" ", 1)[1]) for ln in joules) > 0
        assert "e2e_energy_attributor_tick_cpu_seconds " in text
        assert text.count("# TYPE e2e_energy_build_info ") == 1  # once, from the parent
        apps = httpx.get(f"{att.url}/v1/apps", timeout=10)
        assert apps.status_code == 200 and "a" in apps.text
        # the writer lock is the child's: the parent does not hold the store
        assert not _writer_free(att.store)
    finally:
        att.kill()


def test_sigterm_stops_both_and_the_store_is_closed(tmp_path: Path) -> None:
    att = Attributor(tmp_path)
    try:
        child = att.child()
        _wait(lambda: len(att.windows()) >= 2, "two windows")
        att.proc.send_signal(signal.SIGTERM)
        code = att.proc.wait(BUDGET)
    finally:
        att.kill()
    assert code == -signal.SIGTERM  # as uvicorn exits on it, after the child has stopped
    assert not _alive(child)
    assert "Traceback" not in att.text() and "tick process ended" not in att.text()
    assert "did not stop" not in att.text() and "tick process stopped: store closed" in att.text()
    # SQLite removes the write-ahead log when the last connection closes; a killed writer
    # leaves it behind
    assert not Path(f"{att.store}-wal").exists()
    assert _writer_free(att.store)
    store = Store(att.store)
    try:
        stored = {r[0] for r in store.query("SELECT window_start FROM windows")}
    finally:
        store.close()
    assert set(att.windows()) <= stored  # every window it logged is in the store


def test_ctrl_c_reaches_the_group_and_both_stop_cleanly(tmp_path: Path) -> None:
    """A terminal's Ctrl-C signals the whole group: the child ignores it and stops when the
    parent tells it to, after its tick, with the store closed."""
    att = Attributor(tmp_path, new_session=True)
    try:
        child = att.child()
        _wait(lambda: len(att.windows()) >= 2, "two windows")
        os.killpg(att.proc.pid, signal.SIGINT)
        att.proc.wait(BUDGET)
    finally:
        att.kill()
    assert not _alive(child)
    assert "tick process ended" not in att.text() and "Traceback" not in att.text()
    assert not Path(f"{att.store}-wal").exists()  # closed, not killed
    assert _writer_free(att.store)


def test_kill_9_of_the_parent_leaves_no_child(tmp_path: Path) -> None:
    att = Attributor(tmp_path)
    try:
        child = att.child()
        others = [c for c in _children(att.proc.pid) if c != child]  # the resource tracker
        _wait(lambda: len(att.windows()) >= 1, "a window")
        att.proc.kill()
        att.proc.wait()
        _wait(lambda: not _alive(child), "the orphaned child ends")
        _wait(lambda: not any(_alive(c) for c in others), "no other child stays")
        _wait(lambda: _writer_free(att.store), "the store's writer lock is free")
    finally:
        att.kill()


def test_the_child_dying_ends_the_parent_non_zero_with_the_reason(tmp_path: Path) -> None:
    att = Attributor(tmp_path)
    try:
        child = att.child()
        os.kill(child, signal.SIGKILL)
        code = att.proc.wait(BUDGET)
    finally:
        att.kill()
    assert code == 1
    assert "the tick process ended (killed by SIGKILL); exiting" in att.text()
