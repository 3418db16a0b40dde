"""Shared test helpers. Under CI=true a missing component fails the test instead of skipping it."""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import Phase
from hypothesis import settings as hypothesis_settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
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
