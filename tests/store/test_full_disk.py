"""A full disk under the store, on a real (small tmpfs) filesystem that the test fills up and
frees: writes fail with a named kind, windows wait in order, readers keep answering, and writing
resumes by itself when space returns.

On the code before issue 14 a failed write lost the window (the engine had moved on) and the
exception ended the tick; these tests fail there.
"""

from __future__ import annotations

import errno
import json
import math
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collector.attribution import Engine
from collector.attribution.persist import StoreWriter
from collector.store import Store
from tests.conftest import need_binary, need_root
from tests.store.crash_writer import NFS, ROWS_PER_WINDOW, TOPO, WATTS, W, records


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for the test and unmounted after it."""
    need_root()
    need_binary("mount")
    mnt = tmp_path / "fs"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(fs: Path) -> Path:
    """Write a file until the filesystem refuses (ENOSPC). Unbuffered: a buffered file would
    raise again on close, flushing the part of a write that did not fit."""
    filler = fs / "filler"
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def stored(path: Path) -> list[float]:
    reader = Store(path)
    try:
        return [r[0] for r in reader.query("SELECT window_start FROM windows ORDER BY 1")]
    finally:
        reader.close()


def test_full_disk_queues_windows_and_writing_resumes_when_space_returns(
    small_fs: Path,
) -> None:
    path = small_fs / "store.sqlite"
    store = Store(path, writer=True, retention_seconds=1e12)
    logged: list[str] = []
    writer = StoreWriter(store, log=logged.append)
    engine = Engine(TOPO)
    starts = [i * W for i in range(12)]
    engine.ingest(records(0.0, starts[-1] + W))
    for s in starts[:3]:
        assert writer.commit(engine.compute(s)) is not None
    filler = fill(small_fs)
    for s in starts[3:9]:
        assert writer.commit(engine.compute(s)) is None  # nothing new reached the store
    health = writer.health()
    assert health.pending_windows == 6
    assert health.errors_total.get("disk_full", 0) >= 6
    assert len(logged) == 1 and "disk_full" in logged[0]  # one line, not one per window
    assert stored(path) == starts[:3]  # readers keep answering from what was written
    filler.unlink()
    assert writer.commit() is not None  # the retry a tick makes, with no new window
    assert writer.health().pending_windows == 0
    assert "resumed" in logged[-1]
    for s in starts[9:]:
        assert writer.commit(engine.compute(s)) is not None
    assert stored(path) == starts
    rows = store.query("SELECT window_start, count(*) FROM app_window GROUP BY 1")
    assert all(n == ROWS_PER_WINDOW for _, n in rows) and len(rows) == len(starts)
    for nf, measured in store.query("SELECT nf, measured_joules FROM totals_nf"):
        assert measured == pytest.approx(WATTS[nf] * W * len(starts), rel=1e-9)
    store.close()


def test_too_many_waiting_windows_drop_rows_not_energy(small_fs: Path) -> None:
    path = small_fs / "store.sqlite"
    store = Store(path, writer=True, retention_seconds=1e12)
    writer = StoreWriter(store, max_pending=2, log=lambda _m: None)
    engine = Engine(TOPO)
    starts = [i * W for i in range(7)]
    engine.ingest(records(0.0, starts[-1] + W))
    writer.commit(engine.compute(starts[0]))
    filler = fill(small_fs)
    for s in starts[1:6]:
        writer.commit(engine.compute(s))
    assert writer.health().dropped_windows_total == 3
    os.unlink(filler)
    assert writer.commit(engine.compute(starts[6])) is not None
    # Windows 1-3 lost their rows (declared by the metric); the totals still hold all 7.
    assert stored(path) == [starts[0], *starts[4:]]
    for nf, measured in store.query("SELECT nf, measured_joules FROM totals_nf"):
        assert measured == pytest.approx(WATTS[nf] * W * 7, rel=1e-9)
    assert {r[0] for r in store.query("SELECT nf FROM totals_nf")} == set(NFS)
    store.close()


def _metrics(url: str) -> dict[str, float]:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    resp = httpx.get(f"{url}/metrics", timeout=10)
    assert resp.status_code == 200
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(resp.text):
        for s in fam.samples:
            key = s.name + "".join(f",{k}={v}" for k, v in sorted(s.labels.items()))
            out[key] = s.value
    return out


def _wait(what: str, check: Callable[[], bool], budget: float = 60.0) -> None:
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"never: {what}")


def test_attributor_keeps_serving_on_a_full_disk_and_resumes(
    small_fs: Path, tmp_path: Path
) -> None:
    """The real attributor process, 1 s windows, its store on a tmpfs that fills up: a metric
    and one log line, /metrics and the API answer 200 throughout, the totals on /metrics never
    run ahead of the store, and every window computed meanwhile is written once space returns."""
    import httpx

    from tests.attribution.test_attributor_cli import _start, _stop

    config = tmp_path / "c.yaml"
    config.write_text(
        "window_seconds: 1\nmax_gap_seconds: 3\nnfs: [{name: ru1, role: ru, node_id: 1}]\n"
        "apps: [" + ", ".join(f"{{name: a{i}, traces: []}}" for i in range(20)) + "]\n"
    )
    t0 = math.floor(time.time()) - 2
    lines = []
    for k in range(0, 2 * 180):
        t = t0 + k / 2
        lines.append({"t": t, "kind": "energy", "nf": "ru1", "joules_total": 4.0 * (t - t0)})
        for i in range(20):
            n = (i + 1) * (t - t0)
            traffic = {"direction": "uplink", "packets_total": n, "bytes_total": 100 * n}
            lines.append({"t": t, "kind": "traffic", "nf": "ru1", "app": f"a{i}", **traffic})
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps(r) + "\n" for r in lines))
    store = small_fs / "store.sqlite"
    log = tmp_path / "attributor.log"
    proc, url = _start(["--config", str(config), "--store", str(store), "--inputs", str(inputs),
                        "--listen", "127.0.0.1:0", "--settle-seconds", "0.3"], log)  # fmt: skip
    try:
        m: dict[str, float] = {}

        def windows_at_least(n: int) -> bool:
            m.update(_metrics(url))
            return m.get("e2e_energy_attributor_windows_total", 0) >= n

        _wait("3 windows", lambda: windows_at_least(3))
        filler = fill(small_fs)

        def full_seen() -> bool:
            m.update(_metrics(url))
            return (
                m.get("e2e_energy_store_write_errors_total,kind=disk_full", 0) >= 1
                and m.get("e2e_energy_store_pending_windows", 0) >= 3
            )

        _wait("disk_full on /metrics with windows waiting", full_seen)
        shown = m["e2e_energy_nf_joules_total,energy_basis=measured,nf=ru1,role=ru"]
        for path in ("/v1/nfs", "/v1/apps", "/readyz", "/healthz"):
            assert httpx.get(url + path, timeout=10).status_code == 200, path
        reader = Store(store)
        in_store = reader.query("SELECT measured_joules FROM totals_nf")[0][0]
        reader.close()
        assert shown == pytest.approx(in_store, rel=1e-12)  # /metrics never ahead of the store
        filler.unlink()

        def drained() -> bool:
            m.update(_metrics(url))
            return m.get("e2e_energy_store_pending_windows", -1) == 0

        _wait("the waiting windows written", drained)
        assert m["e2e_energy_nf_joules_total,energy_basis=measured,nf=ru1,role=ru"] >= shown
    finally:
        _stop(proc)
    err = log.read_text()
    assert err.count("store: cannot write") == 1 and "disk_full" in err
    assert err.count("store: writing resumed") == 1
    starts = stored(store)
    assert starts == [starts[0] + i for i in range(len(starts))]  # no window lost
    reader = Store(store)
    (measured,) = reader.query("SELECT measured_joules FROM totals_nf")[0]
    (summed,) = reader.query("SELECT sum(measured_joules) FROM nf_window")[0]
    reader.close()
    assert measured == pytest.approx(summed, rel=1e-9)  # never doubled, never lost
