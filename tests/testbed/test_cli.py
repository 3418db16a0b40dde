"""`e2e-energy testbed up|status|down` and the demo's cleanup on Ctrl-C, through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import need, need_binary, need_root

pytestmark = [pytest.mark.netns]

ROOT = Path(__file__).resolve().parent.parent.parent


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=check,
        timeout=120,
    )


def _require_testbed() -> None:
    need_root()
    need_binary("ethtool")
    from testbed import netns

    need(netns.unsupported_reason() is None, str(netns.unsupported_reason()))


def test_bad_config_names_the_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "topo.yaml"
    bad.write_text("testbed:\n  nodes: [{name: ue, role: phone}]\n")
    out = _cli("testbed", "status", "--config", str(bad), check=False)
    assert out.returncode != 0
    assert f"{bad}: testbed.nodes.0.role" in out.stderr
    empty = tmp_path / "none.yaml"
    empty.write_text("window_seconds: 5\n")
    out = _cli("testbed", "down", "--config", str(empty), check=False)
    assert f"{empty}: testbed: Field required" in out.stderr


def test_without_the_testbed_package_the_commands_say_so() -> None:
    """An installation without `testbed` (the container image) keeps the collector's CLI and
    answers `demo` and `testbed` with a clear error instead of a traceback."""
    block = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'testbed' or name.startswith('testbed.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from collector.cli import main\n"
        "main()\n"
    )
    for args in (["demo"], ["testbed", "status"]):
        out = subprocess.run(
            [sys.executable, "-c", block, *args], capture_output=True, text=True, timeout=60
        )
        assert out.returncode != 0
        assert "unavailable here: it needs the `testbed` package" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
    listed = subprocess.run(
        [sys.executable, "-c", block, "--help"], capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0 and "demo" in listed.stdout and "agent" in listed.stdout


def test_up_is_idempotent_and_down_removes_everything() -> None:
    _require_testbed()
    prefix = f"e2tc{os.getpid() % 100000}"
    try:
        _cli("testbed", "up", "--network-only", "--prefix", prefix)
        _cli("testbed", "up", "--network-only", "--prefix", prefix)  # again: rebuilt, not doubled
        status = json.loads(_cli("testbed", "status", "--prefix", prefix).stdout)
        assert len(status["namespaces"]) == 6
        assert sorted(status["root_interfaces"]) == [f"{prefix}-srv", f"{prefix}-ue"]
        ping = subprocess.run(
            ["ip", "netns", "exec", f"{prefix}-ue", "ping", "-c", "1", "-W", "2", "fd00:e2e:3::2"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert ping.returncode == 0, ping.stdout + ping.stderr  # UE reaches the CU through RU, DU
    finally:
        removed = _cli("testbed", "down", "--prefix", prefix).stdout
    assert f"netns {prefix}-ue" in removed
    status = json.loads(_cli("testbed", "status", "--prefix", prefix).stdout)
    assert status["namespaces"] == [] and status["root_interfaces"] == []
    assert _cli("testbed", "down", "--prefix", prefix).stdout.strip() == "nothing to remove"


def test_demo_interrupted_leaves_nothing_behind(tmp_path: Path) -> None:
    _require_testbed()
    from testbed import netns

    prefix = f"e2td{os.getpid() % 100000}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "collector",
            "demo",
            "--prefix",
            prefix,
            "--duration",
            "10",
            "--report",
            str(tmp_path / "r"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    seen: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            status = netns.status(prefix)
            processes = status["processes"]
            assert isinstance(processes, dict)
            seen = [p for pids in processes.values() for p in pids]
            if len(seen) >= 3:  # GTP-U pair and the model server are up
                break
            time.sleep(0.3)
        assert len(seen) >= 3, "the testbed did not come up"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        netns.down(prefix)
    assert proc.returncode == 130, out
    assert b"interrupted" in out
    status = netns.status(prefix)
    assert status["namespaces"] == [] and status["root_interfaces"] == []
    assert not any(Path(f"/proc/{pid}").exists() for pid in seen)
    assert not netns.state_path(prefix).exists()
