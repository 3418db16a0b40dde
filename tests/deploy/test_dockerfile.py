"""The Dockerfile, checked statically (no container engine runs here to build it)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml


def _instructions(repo_root: Path) -> list[tuple[str, str]]:
    text = (repo_root / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_multi_stage_with_pinned_bases(repo_root: Path) -> None:
    bases = [rest.split()[0] for op, rest in _instructions(repo_root) if op == "FROM"]
    assert len(bases) >= 2
    for base in bases:
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?", base), base


def test_runs_as_the_charts_non_root_user(repo_root: Path) -> None:
    users = [rest for op, rest in _instructions(repo_root) if op == "USER"]
    assert users, "no USER: the image would default to root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    values = yaml.safe_load((repo_root / "helm" / "e2e-energy" / "values.yaml").read_text())
    assert values["attributor"]["runAsUser"] == int(uid)


def test_installs_this_project_and_runs_its_command(repo_root: Path) -> None:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    ops = _instructions(repo_root)
    assert any(op == "RUN" and project["name"] in rest for op, rest in ops)
    entry = [rest for op, rest in ops if op == "ENTRYPOINT"]
    assert entry == ['["e2e-energy"]'] and "e2e-energy" in project["scripts"]
    exposed = " ".join(rest for op, rest in ops if op == "EXPOSE").split()
    assert {"9470", "8080"} <= set(exposed)
