"""locks/ agrees with pyproject.toml: offline (every requirement pyproject.toml declares for a
lock is met by a version it pins, and the recorded input digest matches) and online (uv resolves
the same files again at their recorded date). CI runs these from a fresh clone, so a
pyproject.toml edited without `make lock` fails there."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT, need

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
NAME = canonicalize_name(PROJECT["name"])
# lock -> the extras it is resolved with (what the images and `make venv` install)
LOCKS = {
    "agent": (),
    "attributor": ("attributor", "placement", "decode"),
    "ci": ("attributor", "placement", "plot", "decode", "testbed", "model", "dev"),
}
ENV = {"python_version": "3.11", "python_full_version": "3.11.2", "sys_platform": "linux",
       "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
       "implementation_name": "cpython", "platform_python_implementation": "CPython"}  # fmt: skip
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


def pins(lock: str) -> dict[str, Version]:
    """name -> the version pinned for CPython 3.11 on Linux x86_64 (markers evaluated)."""
    out: dict[str, Version] = {}
    for line in (ROOT / "locks" / f"{lock}.txt").read_text().splitlines():
        m = PIN.match(line)
        if m and (m.group(3) is None or Marker(m.group(3)).evaluate(ENV)):
            out[canonicalize_name(m.group(1))] = Version(m.group(2))
    return out


def declared(extras: tuple[str, ...]) -> list[Requirement]:
    """pyproject.toml's requirements for the core plus `extras`, self-references expanded."""
    todo, seen, reqs = list(extras), set(), [Requirement(r) for r in PROJECT["dependencies"]]
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in PROJECT["optional-dependencies"][extra]:
            req = Requirement(text)
            if canonicalize_name(req.name) == NAME:
                todo.extend(req.extras)
            else:
                reqs.append(req)
    return reqs


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_declared_requirement_is_pinned_within_its_range(lock: str) -> None:
    pinned = pins(lock)
    for req in declared(LOCKS[lock]):
        if req.marker is not None and not req.marker.evaluate(ENV):
            continue
        name = canonicalize_name(req.name)
        if lock == "ci" and name == "torch":
            continue  # installed from its CPU build by `make venv` (locks/overrides.txt)
        assert name in pinned, f"{req} is declared but locks/{lock}.txt pins no {name}"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"locks/{lock}.txt pins {name}=={pinned[name]}, outside {req}; run `make lock`"
        )


def test_image_locks_hold_no_test_or_model_packages() -> None:
    heavy = {"torch", "pytest", "matplotlib", "sentence-transformers", "pyroute2", "scapy"}
    assert not heavy & set(pins("agent"))
    assert not (heavy - {"scapy"}) & set(pins("attributor"))
    assert set(pins("agent")) <= set(pins("attributor"))


def test_every_pin_carries_hashes() -> None:
    for lock in (*LOCKS, "pip"):
        text = (ROOT / "locks" / f"{lock}.txt").read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 4)[4])
        for entry in entries:
            if entry.strip() and not entry.startswith("#"):
                assert "--hash=sha256:" in entry, f"locks/{lock}.txt: {entry.splitlines()[0]}"


def test_torch_requirements_match_the_installed_torch() -> None:
    """locks/torch-requires.in stands in for torch, which the CI lock leaves out."""
    listed = {
        str(Requirement(line))
        for line in (ROOT / "locks" / "torch-requires.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    have = importlib.metadata.requires("torch") or []
    wanted = {str(Requirement(r)) for r in have if "extra ==" not in r}
    assert listed == wanted


def test_digests_match_pyproject() -> None:
    """What `make check` runs: offline, quick, names the stale files."""
    out = subprocess.run(
        [sys.executable, "scripts/lock.py", "--verify"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


def test_an_edited_pyproject_is_caught_offline(tmp_path: Path) -> None:
    """A copy of the repository whose pyproject.toml gained a requirement fails --verify."""
    for part in ("pyproject.toml", "scripts/lock.py", *(f"locks/{p.name}" for p in
                 (ROOT / "locks").iterdir())):  # fmt: skip
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / part).write_bytes((ROOT / part).read_bytes())
    assert (
        subprocess.run([sys.executable, "scripts/lock.py", "--verify"], cwd=tmp_path).returncode
        == 0
    )
    text = (tmp_path / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(
        text.replace('"click>=8.1",', '"click>=8.1",\n  "rich",', 1)
    )
    out = subprocess.run(
        [sys.executable, "scripts/lock.py", "--verify"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1 and "run `make lock`" in out.stderr
    assert "locks/agent.txt" in out.stderr


@pytest.mark.slow
def test_resolving_again_gives_the_committed_locks() -> None:
    """uv resolves every lock again at its recorded --exclude-newer date (PyPI): same bytes."""
    out = subprocess.run(
        [sys.executable, "scripts/lock.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    need("uv pip compile failed" not in out.stdout + out.stderr, f"PyPI unreachable? {out.stderr}")
    assert out.returncode == 0, out.stdout + out.stderr
