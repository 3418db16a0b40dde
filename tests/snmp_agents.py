"""Real SNMP agents for tests: snmpsim with the APC recordings, and net-snmp snmpd with a
pass_persist helper that reads a JSON file on every request (so tests change values live)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import snmpsim_data

from collector.models import ReadResult
from collector.power.pdu_snmp import SnmpReader
from collector.sources import Poller, Runner
from tests.conftest import need_binary

RECORDINGS = Path(snmpsim_data.__file__).parent / "data" / "UPS"
PASS_HELPER = Path(__file__).resolve().parent.parent / "testbed" / "snmp_pass.py"


async def read_once(reader: SnmpReader) -> ReadResult:
    """One read through the runtime, then the engine's sockets closed inside the same loop."""
    runner = Runner(reader)
    try:
        return await runner.read()
    finally:
        await runner.aclose()


async def poll_and_close(poller: Poller) -> list[ReadResult]:
    try:
        return await poller.poll_once()
    finally:
        await poller.aclose()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def silent_udp_port() -> Iterator[int]:
    """A loopback UDP port held for the block and never read: requests sent there get no
    answer (a dead agent), and no parallel test's agent can bind it meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def _snmpget_ready(port: int, community: str, oid: str, deadline_s: float = 90.0) -> None:
    """Wait for the agent to answer; the budget covers start-up on a loaded machine (snmpsim
    indexes its recordings first), it is not a timing check."""
    snmpget = need_binary("snmpget")
    env = {**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent"}
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        r = subprocess.run(
            [snmpget, "-v2c", "-c", community, "-t", "0.3", "-r", "0", f"127.0.0.1:{port}", oid],
            capture_output=True,
            env=env,
            check=False,
        )
        if r.returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"SNMP agent on port {port} did not answer in {deadline_s}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def snmpsim(tmp: Path, recordings: tuple[str, ...]) -> Iterator[int]:
    """snmpsim serving copies of the named recordings; community = file name stem."""
    venv_exe = Path(sys.executable).parent / "snmpsim-command-responder"
    exe = str(venv_exe) if venv_exe.exists() else need_binary("snmpsim-command-responder")
    data, cache = tmp / "snmpsim-data", tmp / "snmpsim-cache"
    data.mkdir()
    cache.mkdir()
    for name in recordings:
        shutil.copy(RECORDINGS / f"{name}.snmprec", data / f"{name}.snmprec")
    port = free_udp_port()
    proc = subprocess.Popen(
        [
            exe,
            f"--data-dir={data}",
            f"--cache-dir={cache}",
            f"--agent-udpv4-endpoint=127.0.0.1:{port}",
        ],
        env={**os.environ, "SNMPSIM_ALLOW_ROOT": "true"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _snmpget_ready(port, recordings[0], "1.3.6.1.2.1.1.1.0")
        yield port
    finally:
        _stop(proc)


@contextmanager
def snmpd(
    tmp: Path,
    values_json: Path,
    *,
    bases: tuple[str, ...] = (".1.3.6.1.4.1",),
    delay_file: Path | None = None,
) -> Iterator[int]:
    """net-snmp snmpd: v2c community `public`, v3 user `u` (SHA/AES), pass_persist on base_oid."""
    exe = need_binary("snmpd")
    port = free_udp_port()
    helper = f"{sys.executable} {PASS_HELPER} {values_json}"
    if delay_file is not None:
        helper += f" {delay_file}"
    conf = tmp / "snmpd.conf"
    conf.write_text(
        f"agentAddress udp:127.0.0.1:{port}\n"
        "rocommunity public 127.0.0.1\n"
        'createUser u SHA "authpass" AES "privpass"\n'
        "rouser u priv\n" + "".join(f"pass_persist {b} {helper}\n" for b in bases)
    )
    env = {**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent"}
    proc = subprocess.Popen(
        [
            exe,
            "-f",
            "-C",
            "-c",
            str(conf),
            "-Lf",
            str(tmp / "snmpd.log"),
            "-p",
            str(tmp / "snmpd.pid"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _snmpget_ready(port, "public", "1.3.6.1.2.1.1.1.0")
        yield port
    finally:
        _stop(proc)
