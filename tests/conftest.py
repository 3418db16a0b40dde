"""Shared test helpers. Under CI=true a missing component fails the test instead of skipping it."""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import Phase
from hypothesis import settings as hypothesis_settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
EXAMPLE_SETTINGS = ROOT / "docs" / "reference" / "settings-example.yaml"
"""The complete, commented settings file shipped for operators; tests load it so it never drifts."""
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# No per-example deadline: these machines are shared and noisy, and speed belongs in bench/, not
# in tests. print_blob lets a failure found in CI be replayed exactly.
hypothesis_settings.register_profile("e2e", deadline=None, print_blob=True)
# scripts/mutation.py: the same examples for every mutant, so a report does not depend on luck,
# and no shrinking: a failing example kills the mutant as it is, without minutes of shrinking.
hypothesis_settings.register_profile(
    "mutation",
    deadline=None,
    print_blob=True,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),
)
hypothesis_settings.load_profile(os.environ.get("E2E_HYPOTHESIS_PROFILE", "e2e"))


def need(condition: bool, reason: str) -> None:
    """Skip with `reason` when `condition` is false; under CI=true fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required component missing under CI: {reason}")
    pytest.skip(reason, allow_module_level=True)


def need_binary(name: str) -> str:
    path = shutil.which(name)
    need(path is not None, f"`{name}` is not installed (make deps installs it)")
    assert path is not None
    return path


def need_module(name: str) -> ModuleType:
    """Import `name`; when it is missing, skip (fail under CI=true) like every other component."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        need(False, f"Python module `{name}` is not installed ({exc}); make venv installs it")
        raise  # need() has skipped or failed; this line is never reached


def need_root() -> None:
    need(os.geteuid() == 0, "needs root (network namespaces, raw sockets)")


def shared_fixture(*parts: str) -> Path:
    """A path under ../shared/fixtures; skips (fails under CI) when it is absent."""
    path = SHARED.joinpath("fixtures", *parts)
    need(path.exists(), f"{path} is absent (shared/ beside the project)")
    return path


@pytest.fixture
def repo_root() -> Path:
    return ROOT


def image_tools() -> ModuleType:
    """scripts/images.py as a module: the tests build the wheelhouse and the images the way
    `make images` does, into the same cache (.cache/images), so one run pays for them once."""
    spec = importlib.util.spec_from_file_location("e2e_images", ROOT / "scripts" / "images.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """Every wheel locks/agent.txt and locks/attributor.txt pin, hash-checked (PyPI, once)."""
    tools = image_tools()
    with tools.cache_lock():
        path: Path = tools.wheelhouse()
    return path


_IMAGE_BUILD: list[subprocess.Popen[bytes]] = []
IMAGE_BUILD_LOG = ROOT / ".cache" / "images" / "suite-build.log"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that run the built images go last, and the build starts now, in the background:
    it takes minutes (a Debian base, the wheelhouse, two images) and runs on the core that the
    serial suite leaves idle, so by the time those tests come it is done or nearly done."""
    uses = [i for i in items if "built_images" in getattr(i, "fixturenames", ())]
    if not uses:
        return
    rest = [i for i in items if "built_images" not in getattr(i, "fixturenames", ())]
    items[:] = rest + uses
    tools = ("podman", "runc", "mmdebstrap")
    if os.geteuid() != 0 or not all(shutil.which(t) for t in tools) or _IMAGE_BUILD:
        return  # the fixture reports what is missing when the tests run
    IMAGE_BUILD_LOG.parent.mkdir(parents=True, exist_ok=True)
    with IMAGE_BUILD_LOG.open("wb") as log:
        build = [sys.executable, str(ROOT / "scripts" / "images.py")]
        proc = subprocess.Popen(
            build, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        _IMAGE_BUILD.append(proc)


def pytest_sessionfinish() -> None:
    """A session that ends before the image tests (-x, Ctrl-C) leaves no build behind."""
    for proc in _IMAGE_BUILD:
        if proc.poll() is None:
            proc.terminate()
            proc.wait()


@pytest.fixture(scope="session")
def built_images() -> dict[str, str]:
    """target -> image ID of the agent and attributor images (and "base"), built once a session:
    the background build started at collection is awaited, then build_all() (cache hits) gives
    the IDs; a failed background build is rebuilt here, in the foreground, with its errors."""
    need_binary("podman")
    need_binary("runc")
    need_binary("mmdebstrap")
    need_root()
    for proc in _IMAGE_BUILD:
        proc.wait()
    ids: dict[str, str] = image_tools().build_all()
    return ids
