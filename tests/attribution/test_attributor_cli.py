"""`e2e-energy attributor` refuses bad configs (naming key and file) and a second writer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from collector.store import Store
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "attribution"


def attributor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", "attributor", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_bad_config_names_key_and_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("store: {path: x.sqlite, retention_dayz: 3}\n")
    out = attributor("--config", str(config))
    assert out.returncode != 0
    assert str(config) in out.stderr and "store.retention_dayz: unknown key" in out.stderr


def test_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    holder = Store(path, writer=True)
    try:
        out = attributor("--config", str(DATA / "config.yaml"), "--store", str(path))
        assert out.returncode != 0 and "another writer holds the store" in out.stderr
    finally:
        holder.close()


def _start(args: list[str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    import time

    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "collector", "attributor", *args],
            cwd=ROOT, stderr=err, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    # a budget for start-up only (imports take seconds on a loaded machine), not a timing check;
    # a process that exits early fails at once with its log
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        for line in log.read_text().splitlines():
            if line.startswith("attributor listening on "):
                return proc, line.rsplit(" ", 1)[1]
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise AssertionError(log.read_text())


def _stop(proc: subprocess.Popen[bytes]) -> None:
    import signal

    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _scrape_until(url: str, want: float | None, budget: float = 20.0) -> dict[str, float]:
    import time

    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    deadline = time.monotonic() + budget
    values: dict[str, float] = {}
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
            text = httpx.get(f"{url}/metrics", timeout=5).text
            values = {}
            for fam in text_string_to_metric_families(text):
                for s in fam.samples:
                    if s.name in (
                        "e2e_energy_app_joules_total",
                        "e2e_energy_attributor_windows_total",
                    ):
                        values[s.name] = values.get(s.name, 0.0) + s.value
            if want is None or abs(values.get("e2e_energy_app_joules_total", 0) - want) < 1e-6:
                return values
        time.sleep(0.3)
    raise AssertionError(f"never reached {want}: {values}")


def test_restart_resumes_the_counters(tmp_path: Path) -> None:
    """Run 1 attributes 10 s of a 4 W RU (40 J to app a) from an input file; run 2, on the same
    store and without inputs, starts from those totals instead of zero."""
    import math
    import time

    from tests.attribution.drive import ru_inputs

    config, inputs = ru_inputs(tmp_path, math.floor(time.time()) - 20, 11)
    store = str(tmp_path / "s.sqlite")
    common = ["--config", str(config), "--store", store, "--listen", "127.0.0.1:0",
              "--settle-seconds", "0.5"]  # fmt: skip
    proc, url = _start([*common, "--inputs", str(inputs)], tmp_path / "run1.log")
    try:
        first = _scrape_until(url, 40.0)
    finally:
        _stop(proc)
    proc, url = _start(common, tmp_path / "run2.log")
    try:
        second = _scrape_until(url, 40.0)
    finally:
        _stop(proc)
    assert (
        second["e2e_energy_attributor_windows_total"] > first["e2e_energy_attributor_windows_total"]
    )


def test_inputs_are_read_like_replay_reads_them(tmp_path: Path) -> None:
    """--inputs goes through replay's loading: an unreadable file or a bad line is refused with
    the file (and line) named, before the store is opened, never with a traceback."""
    store = tmp_path / "s.sqlite"
    missing = tmp_path / "absent.jsonl"
    out = attributor("--config", str(DATA / "config.yaml"), "--inputs", str(missing),
                     "--store", str(store))  # fmt: skip
    assert out.returncode != 0 and f"{missing}: cannot read" in out.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t": 0, "kind": "energy", "nf": "ru1", "joules_total": 1}\n'
                   '{"t": 1, "kind": "energy", "nf": "nope", "watts": 1}\n')  # fmt: skip
    out = attributor("--config", str(DATA / "config.yaml"), "--inputs", str(bad),
                     "--store", str(store))  # fmt: skip
    assert out.returncode != 0
    assert f"{bad}: line 2: unknown nf 'nope'" in out.stderr
    assert "Traceback" not in out.stderr and not store.exists()
