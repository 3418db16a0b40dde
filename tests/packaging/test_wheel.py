"""What `pip install e2e-energy-collector` gives an operator, tested as installed: the sdist and
the wheel are built from a clean copy of the checkout (what `git clone` would hold: tracked and
not-ignored files), the wheel is built from the sdist, installed into fresh virtual environments
(never editable) from the locked wheelhouse, and every command runs from outside the checkout.

- core only (the agent image's set): `agent --pcap … --once` counts as the checkout does, and the
  commands that need an extra say which one instead of failing with a traceback;
- with the attributor, placement and decode extras (the attributor image's set): `ioam decode`,
  `replay` and `placement simulate` print what the checkout prints, and the attributor starts and
  answers /metrics, /healthz, the API and the placement endpoints from the bundled dataset.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, need
from tests.http_fixture import request

pytestmark = pytest.mark.slow
PCAP = ROOT / "tests" / "fixtures" / "ioam" / "kernel-fff000.pcapng"
REPLAY = ROOT / "tests" / "data" / "attribution"
HEAVY = ("numpy", "pandas", "scipy", "fastapi", "pysnmp", "kubernetes", "matplotlib", "scapy")


def uv() -> str:
    path = Path(sys.executable).parent / "uv"
    need(path.exists(), "uv is not in the venv (make venv installs the dev extra)")
    return str(path)


def tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [f for f in out.stdout.splitlines() if (ROOT / f).is_file()]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """sdist and wheel (the wheel built from the sdist) of a clean copy of the checkout."""
    src = tmp_path_factory.mktemp("clone")
    for name in tracked_files():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    out = src / "dist"
    subprocess.run([uv(), "build", "--quiet", "--out-dir", str(out), str(src)], check=True)
    (sdist,) = out.glob("e2e_energy_collector-*.tar.gz")
    (wheel,) = out.glob("e2e_energy_collector-*.whl")
    return {"sdist": sdist, "wheel": wheel}


def venv(where: Path, wheelhouse: Path, requirement: str) -> Path:
    """A fresh venv with `requirement` resolved from the wheelhouse only (no index, offline)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    subprocess.run(
        [uv(), "pip", "install", "--quiet", "--python", str(python), "--offline", "--no-index",
         "--find-links", str(wheelhouse), requirement],
        check=True,
    )  # fmt: skip
    return where / "bin"


@pytest.fixture(scope="module")
def core(dist: dict[str, Path], wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return venv(tmp_path_factory.mktemp("core"), wheelhouse, str(dist["wheel"]))


@pytest.fixture(scope="module")
def full(dist: dict[str, Path], wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    req = f"e2e-energy-collector[attributor,placement,decode] @ {dist['wheel'].as_uri()}"
    return venv(tmp_path_factory.mktemp("full"), wheelhouse, req)


def installed(
    bin_dir: Path, *args: str, cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """The installed command, run away from the checkout with a clean environment."""
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8"}
    return subprocess.run(
        [str(bin_dir / "e2e-energy"), *args], cwd=cwd, env=env, capture_output=True, text=True,
        check=check, timeout=300,
    )  # fmt: skip


def checkout(*args: str, cwd: Path) -> str:
    """The same command from the checkout's venv (every extra installed)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "collector", *args], cwd=cwd, env=env, capture_output=True,
        text=True, check=True, timeout=300,
    ).stdout  # fmt: skip


def test_wheel_and_sdist_carry_every_file_the_package_reads(dist: dict[str, Path]) -> None:
    package = [f for f in tracked_files() if f.split("/")[0] in ("collector", "testbed")]
    data = [f for f in package if not f.endswith(".py")]
    assert "collector/placement/data/default.yaml" in data
    assert "collector/agent/bpf/ioam_tc.bpf.o" in data
    with zipfile.ZipFile(dist["wheel"]) as whl:
        names = set(whl.namelist())
    assert not set(package) - names, "missing from the wheel"
    assert not {n for n in names if n.startswith(("tests/", "bench/", "scripts/", "locks/"))}
    with tarfile.open(dist["sdist"]) as sd:
        top = sd.getnames()[0].split("/")[0]
        in_sdist = {n.removeprefix(top + "/") for n in sd.getnames()}
    assert not set(data) - in_sdist, "missing from the sdist"


def test_core_install_is_the_agent(core: Path, tmp_path: Path) -> None:
    python = core / "python"
    probe = "import importlib.util as u, collector; print(collector.__file__); " + (
        f"print([m for m in {HEAVY!r} if u.find_spec(m)])"
    )
    out = subprocess.run([python, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    where, found = out.stdout.splitlines()
    assert Path(where).is_relative_to(core.parent), "collector imported from outside the venv"
    assert found == "[]"
    counted = installed(core, "agent", "--pcap", str(PCAP), "--once", cwd=tmp_path)
    assert "e2e_energy_ioam_packets_total{" in counted.stdout
    assert counted.stdout == checkout("agent", "--pcap", str(PCAP), "--once", cwd=tmp_path)
    refused = installed(core, "replay", "--inputs", "x", "--config", "y", cwd=tmp_path, check=False)
    assert refused.returncode == 1
    assert "needs the `attributor` extra" in refused.stderr and "Traceback" not in refused.stderr


def test_tools_run_from_the_full_install(full: Path, tmp_path: Path) -> None:
    decoded = installed(full, "ioam", "decode", str(PCAP), cwd=tmp_path).stdout
    assert decoded == checkout("ioam", "decode", str(PCAP), cwd=tmp_path)
    assert len(decoded.splitlines()) == 4  # the capture's four packets
    args = ["--inputs", str(REPLAY / "inputs.jsonl"), "--config", str(REPLAY / "config.yaml")]
    replayed = installed(full, "replay", *args, "--format", "json", cwd=tmp_path).stdout
    assert json.loads(replayed) == json.loads(
        checkout("replay", *args, "--format", "json", cwd=tmp_path)
    )
    # no --config: the dataset bundled in the wheel (collector/placement/data)
    simulated = json.loads(installed(full, "placement", "simulate", "--format", "json",
                                     cwd=tmp_path).stdout)  # fmt: skip
    reference = json.loads(checkout("placement", "simulate", "--format", "json", cwd=tmp_path))
    simulated["solver"].pop("seconds"), reference["solver"].pop("seconds")
    assert simulated == reference
    assert simulated["classes"][0]["name"] == "interactive"
    # no matplotlib (the `plot` extra) here: --plot says which extra, without a traceback
    png = tmp_path / "frontier.png"
    refused = installed(full, "placement", "simulate", "--plot", str(png), cwd=tmp_path,
                        check=False)  # fmt: skip
    assert refused.returncode == 1 and not png.exists()
    assert "e2e-energy-collector[plot]" in refused.stderr and "Traceback" not in refused.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


get = request


def test_installed_attributor_answers(full: Path, tmp_path: Path) -> None:
    port = free_port()
    settings = yaml.safe_load((REPLAY / "config.yaml").read_text())
    settings["store"] = {"path": str(tmp_path / "store.sqlite")}
    settings["api"] = {"listen": f"127.0.0.1:{port}"}
    settings["agents"] = {"urls": []}
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings))
    env = {"PATH": f"{full}:/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [str(full / "e2e-energy"), "attributor", "--config", "settings.yaml"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = get(f"{base}/healthz")
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "did not start"
                time.sleep(0.2)
        assert status == 200
        status, metrics = get(f"{base}/metrics")
        assert status == 200 and b"e2e_energy_build_info{" in metrics
        status, apps = get(f"{base}/v1/apps")
        assert status == 200 and "items" in json.loads(apps)
        status, dataset = get(f"{base}/v1/placement/dataset")
        assert status == 200 and len(json.loads(dataset)["regions"]) >= 8
        status, solved = get(f"{base}/v1/placement/solve", data=b"")
        assert status == 200 and json.loads(solved)["classes"][0]["name"] == "interactive"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    # uvicorn shuts down, then re-raises SIGTERM so the exit status says what stopped it
    assert proc.returncode in (0, -signal.SIGTERM), out
    assert "Traceback" not in out
    assert os.path.exists(tmp_path / "store.sqlite")
