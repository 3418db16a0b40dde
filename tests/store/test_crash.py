"""Crash safety of the store: SIGKILL inside a write, at many points, leaves a store that opens,
holds every window that was reported written, holds each window whole or not at all, and resumes.

These hold on the code before issue 14 as well (SQLite's WAL transaction is the atomic unit and
the writer's flock dies with the process); the tests pin that down with real kills.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from collector.store import Store, StoreCorrupt
from tests.store.crash_writer import NFS, ROWS_PER_WINDOW, WATTS, W, fork_writer


def _status(pid: int) -> int:
    """The child's exit like subprocess reports it: -signal or the exit code."""
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def run_child(store: Path, *args: str) -> tuple[int, list[float]]:
    pid, out = fork_writer(str(store), *args)
    with out:
        written = [float(line.split()[1]) for line in out.read().splitlines()]
    return _status(pid), written


def check_store(path: Path, reported: list[float]) -> list[float]:
    """Open the store as the attributor would and check it against the independent model:
    whole windows, no holes, totals equal to the sum of the windows, every reported window."""
    store = Store(path, writer=True)
    try:
        assert store.query("PRAGMA integrity_check") == [("ok",)]
        starts = [r[0] for r in store.query("SELECT window_start FROM windows ORDER BY 1")]
        assert starts == [i * W for i in range(len(starts))], "a hole or a stray window"
        assert set(reported) <= set(starts), "a window reported written is missing"
        per_window = dict(
            store.query("SELECT window_start, count(*) FROM app_window GROUP BY window_start")
        )
        assert all(per_window.get(s) == ROWS_PER_WINDOW for s in starts), "a torn window"
        nf_rows = store.query("SELECT count(*) FROM nf_window")[0][0]
        assert nf_rows == len(NFS) * len(starts)
        orphans = store.query(
            "SELECT count(*) FROM app_window WHERE window_start NOT IN (SELECT window_start "
            "FROM windows)"
        )
        assert orphans == [(0,)]
        # Totals and windows commit together: the totals are exactly the stored windows' sum,
        # and that sum is the synthetic load's energy (fixed watts, every window fresh).
        meta = dict(store.query("SELECT key, value FROM meta"))
        if starts:
            assert meta["windows"] == len(starts)
            assert meta["last_window_start"] == starts[-1]
            # the engine's state is the one written with the newest window, never another's
            state = json.loads(store.load_state() or "{}")
            assert state["next_window"] == starts[-1] + W
        for nf, measured in store.query("SELECT nf, measured_joules FROM totals_nf"):
            assert measured == pytest.approx(WATTS[nf] * W * len(starts), rel=1e-9)
        app_sum = store.query("SELECT sum(static_joules + dynamic_joules) FROM totals_app")[0][0]
        window_sum = store.query("SELECT sum(static_joules + dynamic_joules) FROM app_window")[0][0]
        assert app_sum == pytest.approx(window_sum, rel=1e-9)
        return starts
    finally:
        store.close()


# One write is 927 statements: BEGIN, the engine's state (2), the window (3-550: app rows 8-367,
# traffic rows 371-550), the totals replaced (551-921), retention (922-926), COMMIT (927); the
# next write starts at 928. A kill point is hit as its statement starts.
COMMIT = 927
KILL_POINTS = (2, 200, 460, 700, COMMIT, 1100)


def test_self_kill_inside_the_transaction_at_many_statements(tmp_path: Path) -> None:
    """The writer kills itself before a chosen SQL statement: at the engine's state, inside the
    window's inserts, inside the totals' replacement, just before COMMIT, inside its second
    write. Each time the store opens whole, its engine state is the newest window's, and the
    next run resumes from the last stored window."""
    path = tmp_path / "store.sqlite"
    rc, written = run_child(path, "--windows", "2")  # a first committed state
    assert rc == 0 and written == [0.0, W]
    reported = list(written)
    for die_at in KILL_POINTS:
        rc, written = run_child(path, "--die-at", str(die_at))
        assert rc == -signal.SIGKILL
        assert len(written) == (die_at > COMMIT)  # killed before COMMIT: that window is absent
        before = len(reported)
        reported += written
        starts = check_store(path, reported)
        assert len(starts) == before + len(written)
    rc, written = run_child(path, "--windows", "3")
    assert rc == 0 and written[0] == check_store(path, reported)[-3]


def test_sigkill_from_outside_during_a_stream_of_writes(tmp_path: Path) -> None:
    """SIGKILL at random moments while windows are written back to back (most of the child's
    time is inside a transaction): the store opens, resumes, and holds every reported window."""
    path = tmp_path / "store.sqlite"
    rng = random.Random(7)
    reported: list[float] = []
    for _ in range(4):
        pid, out = fork_writer(str(path))
        with out:
            first = out.readline()  # running and past its first commit
            assert first.startswith("written")
            time.sleep(rng.uniform(0.05, 0.6))
            os.kill(pid, signal.SIGKILL)
            assert _status(pid) == -signal.SIGKILL
            rest = out.read().splitlines()
        reported += [float(line.split()[1]) for line in [first, *rest] if line]
        check_store(path, reported)
    assert len(reported) >= 4


def test_a_file_that_is_not_a_store_is_a_named_error_and_left_alone(tmp_path: Path) -> None:
    """Fails on the code before issue 14: sqlite3.DatabaseError escaped as a traceback."""
    path = tmp_path / "store.sqlite"
    garbage = b"this is not a database, " * 200
    path.write_bytes(garbage)
    for _ in range(2):  # the second try is StoreCorrupt again, not StoreLocked: lock released
        with pytest.raises(StoreCorrupt, match="not a SQLite database"):
            Store(path, writer=True)
    with pytest.raises(StoreCorrupt):
        Store(path)
    assert path.read_bytes() == garbage  # never overwritten
