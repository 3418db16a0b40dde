"""`e2e-energy ioam decode` end to end: both engines, both formats, pcapng, bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from collector.ioam import build
from collector.ioam.pcapfile import write_pcap
from tests.conftest import ROOT, need_binary
from tests.ioam.test_fuzz import seed_frames


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    path = tmp_path / "ioam.pcap"
    frames = [frame for frame, linktype in seed_frames() if linktype == 1]
    broken = frames[0][:-40]
    plain = build.ethernet(build.ipv6(upper=build.udp(1, 2)))
    write_pcap(path, [(float(i), f) for i, f in enumerate([*frames, broken, plain])])
    return path


def test_json_engines_identical_and_keys(capture: Path) -> None:
    struct = run_cli("ioam", "decode", capture)
    scapy = run_cli("ioam", "decode", capture, "--engine", "scapy")
    assert struct.returncode == 0, struct.stderr
    assert struct.stdout == scapy.stdout
    records = [json.loads(line) for line in struct.stdout.splitlines()]
    first = records[0]
    assert list(first)[:8] == [
        "packet",
        "option_type",
        "namespace_id",
        "trace_type",
        "flags",
        "remaining_len",
        "node_len",
        "nodes",
    ]
    assert first["trace_type"] == "0xc00000" and first["packet"] == 1
    assert [n["node_id"] for n in first["nodes"]] == [100, 101, 102]
    assert records[1]["option_type"] == "dex" and records[1]["flow_id"] == 5
    assert {r["option_type"] for r in records} >= {"preallocated_trace", "dex", "pot", "e2e"}
    assert any(r["gtpu"] for r in records)
    broken = [r for r in records if r["errors"]]
    assert len(broken) == 1 and "runs past the packet" in broken[0]["errors"][0]
    assert f"{len(records)} IOAM options, 1 with errors" in struct.stderr


def test_engine_names(capture: Path) -> None:
    """`struct` is the default; `fast`, the old name that always ran it, still works with a
    one-line notice on stderr; --help says what each engine runs."""
    default = run_cli("ioam", "decode", capture)
    struct = run_cli("ioam", "decode", capture, "--engine", "struct")
    fast = run_cli("ioam", "decode", capture, "--engine", "fast")
    assert default.stdout == struct.stdout == fast.stdout and default.stdout
    assert "deprecated" not in struct.stderr
    [notice] = [line for line in fast.stderr.splitlines() if "deprecated" in line]
    assert "--engine struct" in notice
    assert fast.stderr.replace(notice + "\n", "") == struct.stderr
    helptext = " ".join(run_cli("ioam", "decode", "--help").stdout.split())
    assert "struct: the hand-written decoder" in helptext and "walker.py" in helptext
    assert "scapy: the independent oracle" in helptext and "deprecated name for struct" in helptext


def test_table_format(capture: Path) -> None:
    out = run_cli("ioam", "decode", capture, "--format", "table")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["packet", "option", "ns"]
    assert "100,101,102" in lines[1] and "flow=5" in lines[2]


def test_pcapng_input(capture: Path, tmp_path: Path) -> None:
    tshark = need_binary("tshark")
    pcapng = tmp_path / "ioam.pcapng"
    subprocess.run(
        [tshark, "-r", capture, "-F", "pcapng", "-w", pcapng], check=True, capture_output=True
    )
    assert run_cli("ioam", "decode", pcapng).stdout == run_cli("ioam", "decode", capture).stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), (b"not a capture at all", "not a pcap or pcapng file")],
)
def test_unreadable_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "input.pcap"
    if content is not None:
        path.write_bytes(content)
    out = run_cli("ioam", "decode", path)
    assert out.returncode == 1
    assert message in out.stderr and "Traceback" not in out.stderr


def test_truncated_capture_keeps_what_it_read(capture: Path) -> None:
    capture.write_bytes(capture.read_bytes()[:-5])
    out = run_cli("ioam", "decode", capture)
    assert out.returncode == 1 and "truncated at offset" in out.stderr
    assert "Traceback" not in out.stderr
    assert json.loads(out.stdout.splitlines()[0])["packet"] == 1
