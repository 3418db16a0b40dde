"""The Dockerfile, read statically: what the built images are checked for in test_images.py
(which builds and runs them) rests on these declarations."""

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


def _stages(repo_root: Path) -> dict[str, list[tuple[str, str]]]:
    """Stage name -> its instructions (FROM line first)."""
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for op, rest in _instructions(repo_root):
        if op == "FROM":
            current = [(op, rest)]
            stages[rest.split()[-1]] = current
        else:
            current.append((op, rest))
    return stages


def test_default_base_is_pinned_and_overridable(repo_root: Path) -> None:
    args = [rest for op, rest in _instructions(repo_root) if op == "ARG" and "BASE=" in rest]
    assert len(args) == 1
    base = args[0].split("=", 1)[1]
    assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?", base), base
    froms = [rest.split()[0] for op, rest in _instructions(repo_root) if op == "FROM"]
    assert set(froms) - {"build", "runtime"} == {"${BASE}"}


def test_two_targets_run_this_projects_command_as_the_charts_user(repo_root: Path) -> None:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    values = yaml.safe_load((repo_root / "helm" / "e2e-energy" / "values.yaml").read_text())
    stages = _stages(repo_root)
    entry = [rest for op, rest in stages["runtime"] if op == "ENTRYPOINT"]
    assert entry == ['["e2e-energy"]'] and "e2e-energy" in project["scripts"]
    for target, port in (("agent", "9470"), ("attributor", "8080")):
        ops = stages[target]
        assert ops[0] == ("FROM", f"runtime AS {target}")
        users = [rest for op, rest in ops if op == "USER"]
        assert users and users[-1] == f"{values['attributor']['runAsUser']}:65532"
        assert [rest for op, rest in ops if op == "EXPOSE"] == [port]
        copied = [rest for op, rest in ops if op == "COPY"]
        assert f"--from=deps-{target} /opt/e2e-energy /opt/e2e-energy" in copied
        assert "--from=project /opt/e2e-energy/project /opt/e2e-energy/project" in copied
        assert [rest for op, rest in ops if op == "CMD"] == [f'["{target}", "--help"]']


def test_each_image_installs_its_own_lock(repo_root: Path) -> None:
    stages = _stages(repo_root)
    for target in ("agent", "attributor"):
        runs = [rest for op, rest in stages[f"deps-{target}"] if op == "RUN"]
        assert runs == [f"install-venv deps {target}"]
        assert (repo_root / "locks" / f"{target}.txt").exists()
