from __future__ import annotations

import subprocess
import sys

from collector import __version__
from tests.conftest import ROOT


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_version_and_help() -> None:
    out = run_cli("--version")
    assert out.returncode == 0 and __version__ in out.stdout
    out = run_cli("--help")
    assert out.returncode == 0
    for sub in ("ioam", "agent", "attributor", "replay", "placement", "demo"):
        assert sub in out.stdout


def test_unknown_subcommand_fails() -> None:
    out = run_cli("frobnicate")
    assert out.returncode == 2
    assert "No such command" in out.stderr
