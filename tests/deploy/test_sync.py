"""deploy/ and the chart stay in sync: copies, rendered manifests and the values reference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import need_module

need_module("helm_python")


def test_derived_files_are_current(repo_root: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/render-deploy.py"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, (
        "derived files are stale; run `python scripts/render-deploy.py --update-golden`:\n"
        + proc.stderr
    )


def test_check_notices_a_stale_copy(repo_root: Path, tmp_path: Path) -> None:
    """The check itself can fail: a copy of the tree with one dashboard edited by hand."""
    import shutil

    for part in ("helm", "deploy", "scripts", "docs"):
        shutil.copytree(repo_root / part, tmp_path / part)
    dash = tmp_path / "deploy" / "grafana" / "e2e-energy-overview.json"
    dash.write_text(dash.read_text().replace("Network share", "Network portion"))
    proc = subprocess.run(
        [sys.executable, "scripts/render-deploy.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert "deploy/grafana/e2e-energy-overview.json" in proc.stderr
