"""The agent's import graph holds none of the extras' packages, as it runs: in this venv every
extra is installed, so anything the agent pulled in would show in sys.modules. (The import-linter
contract in pyproject.toml checks the same statically, lazy imports included; test_wheel.py runs
the agent where the extras are absent.)"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

PCAP = ROOT / "tests" / "fixtures" / "ioam" / "kernel-fff000.pcapng"
HEAVY = (
    *("numpy", "pandas", "scipy", "fastapi", "starlette", "uvicorn", "httpx", "pysnmp"),
    *("cryptography", "kubernetes", "matplotlib", "scapy", "pyroute2", "rich", "torch"),
)
PROBE = """
import contextlib, io, json, sys
from collector.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main(sys.argv[1:])
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
"""


def loaded(*args: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    return set(json.loads(out.stderr.strip().splitlines()[-1]))


def test_agent_help_and_pcap_replay_load_no_extra() -> None:
    for args in (["agent", "--help"], ["agent", "--pcap", str(PCAP), "--once"]):
        mods = loaded(*args)
        assert "collector" in mods and not mods & set(HEAVY), (args, mods & set(HEAVY))


def test_the_probe_would_see_them() -> None:
    """The same probe on the attributor's help does list its packages: the check is live."""
    assert {"numpy", "pandas", "httpx"} <= loaded("attributor", "--help")
