#!/usr/bin/env python3
"""Builds the agent and attributor images with podman, offline, and reports their sizes.

    scripts/images.py             base, wheelhouse, both images, then the size report (make images)
    scripts/images.py wheelhouse  only the build context in .cache/images/context (make wheelhouse)
    scripts/images.py clean       remove the images, the base and the cache (make clean-images)
    scripts/images.py compare-single [--rev R]   the one image of R (before the split), same base

No image registry is reachable from the machines this project is developed on, so the base is
made from Debian's packages: `mmdebstrap --variant=minbase` into a tarball, imported into podman.
The Python packages come from a wheelhouse downloaded from locks/ with every hash checked, so the
build itself runs with no network. Expensive steps are cached under .cache/images, keyed by what
they are made from (the base by its recipe, the wheelhouse by the locks); podman caches layers.
Elsewhere, build on the usual public base instead: see the Dockerfile's header.

podman here needs `--runtime runc` (crun fails on hybrid cgroups) and explicit ulimits (the
sandbox lacks CAP_SYS_RESOURCE); PODMAN_FLAGS holds them for the tests too.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "images"
CONTEXT = CACHE / "context"
DOCKERFILE = ROOT / "Dockerfile"
TARGETS = ("agent", "attributor")
REPOSITORY = "localhost/e2e-energy"
PODMAN = ("podman", "--runtime", "runc")
ULIMITS = ("--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096")
SUITE = "bookworm"
MIRRORS = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
# Documentation, manual pages and translations are not installed into the base.
DPKG_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*")


def say(msg: str) -> None:
    print(f"images: {msg}", file=sys.stderr, flush=True)


def run(*cmd: str, quiet: bool = False) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"images: `{' '.join(cmd)}` failed ({out.returncode}):\n{out.stderr[-4000:]}")
    if not quiet and out.stderr.strip():
        print(out.stderr.strip()[-2000:], file=sys.stderr)
    return out.stdout


def need(binary: str, package: str) -> None:
    if shutil.which(binary) is None:
        sys.exit(f"images: `{binary}` is missing; install it with `make deps` (Debian: {package})")


@contextmanager
def cache_lock() -> Iterator[None]:
    """One build at a time per checkout: concurrent test sessions share the cache."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield


def agent_debs() -> list[str]:
    """The Debian packages the agent loads at run time: the Dockerfile's AGENT_DEBS default."""
    m = re.search(r'^ARG AGENT_DEBS="([^"]*)"', DOCKERFILE.read_text(), re.MULTILINE)
    if m is None:
        sys.exit('images: no `ARG AGENT_DEBS="..."` line in the Dockerfile')
    return m.group(1).split()


def base_recipe() -> list[str]:
    include = ",".join(["python3", *agent_debs()])
    args = ["--variant=minbase", f"--include={include}", "--aptopt=Acquire::Languages none"]
    args += [f"--dpkgopt=path-exclude={p}" for p in DPKG_EXCLUDES]
    args += ["--dpkgopt=path-include=/usr/share/doc/*/copyright"]
    return [*args, SUITE]


def key(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()[:12]


def image_exists(ref: str) -> bool:
    return subprocess.run([*PODMAN, "image", "exists", ref]).returncode == 0


def base() -> str:
    """The base image made from Debian's packages; built and imported once per recipe."""
    recipe = base_recipe()
    ref = f"{REPOSITORY}-base:{SUITE}-{key(*recipe, *MIRRORS)}"
    if image_exists(ref):
        return ref
    need("mmdebstrap", "mmdebstrap")
    tarball = CACHE / f"base-{ref.rsplit(':', 1)[1]}.tar"
    if not tarball.exists():
        say(f"making the base with mmdebstrap (a minute or more): {' '.join(recipe)}")
        partial = tarball.with_suffix(".partial.tar")
        run("mmdebstrap", "--quiet", *recipe, str(partial), *MIRRORS, quiet=True)
        partial.rename(tarball)
    run(*PODMAN, "import", "--quiet", str(tarball), ref, quiet=True)
    for old in CACHE.glob("base-*.tar"):  # one base tarball is enough
        if old != tarball:
            old.unlink()
    names = run(*PODMAN, "images", "--format", "{{.Repository}}:{{.Tag}}", quiet=True).split()
    stale = [n for n in names if n.startswith(f"{REPOSITORY}-base:") and n != ref]
    if stale:  # bases of an earlier recipe
        subprocess.run([*PODMAN, "rmi", *stale], capture_output=True)
    return ref


def locks() -> list[Path]:
    return [ROOT / "locks" / f"{t}.txt" for t in (*TARGETS, "pip")]


def wheelhouse() -> Path:
    """Every wheel the locks pin for this platform, downloaded once per version of the locks."""
    found = CACHE / f"wheelhouse-{key(*(p.read_bytes() for p in locks()))}"
    if found.is_dir():
        return found
    say(f"downloading the wheelhouse for {', '.join(p.name for p in locks())}")
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        cmd += ["--require-hashes", "--only-binary", ":all:", "--dest", tmp]
        for p in locks():
            cmd += ["-r", str(p)]
        run(*cmd, quiet=True)
        os.rename(tmp, found)
    for old in CACHE.glob("wheelhouse-*"):
        if old != found:
            shutil.rmtree(old)
    return found


def project_wheel(dest: Path) -> Path:
    """The project's wheel, built from the working tree (package data included)."""
    with tempfile.TemporaryDirectory() as tmp:
        run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
            "--wheel-dir", tmp, str(ROOT), quiet=True)  # fmt: skip
        (built,) = Path(tmp).glob("e2e_energy_collector-*.whl")
        dest.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(built, dest / built.name))


def context() -> Path:
    """The build context the Dockerfile expects: wheels/, project/, locks/, install-venv.sh."""
    wheels = wheelhouse()
    if CONTEXT.exists():
        shutil.rmtree(CONTEXT)
    (CONTEXT / "wheels").mkdir(parents=True)
    for whl in wheels.iterdir():
        os.link(whl, CONTEXT / "wheels" / whl.name)
    (CONTEXT / "locks").mkdir()
    for t in TARGETS:
        shutil.copy2(ROOT / "locks" / f"{t}.txt", CONTEXT / "locks")
    shutil.copy2(ROOT / "scripts" / "install-venv.sh", CONTEXT / "install-venv.sh")
    project_wheel(CONTEXT / "project")
    return CONTEXT


CACHE_STAGES = ("deps-agent", "deps-attributor", "project")
"""Build stages kept under a name (REPOSITORY-cache:STAGE) so podman reuses their layers."""


def build(target: str, base_ref: str, tag: str | None = None) -> str:
    """Builds one target with no network; returns its image ID, tagged REPOSITORY-target:dev."""
    tag = tag or f"{REPOSITORY}-{target}:dev"
    old = image_id(tag)
    with tempfile.NamedTemporaryFile("r") as iid:
        run(*PODMAN, "build", "--quiet", *ULIMITS, "--network=none", "--pull=never",
            "--build-arg", f"BASE={base_ref}", "--target", target, "--iidfile", iid.name,
            "--tag", tag, "--file", str(DOCKERFILE), str(CONTEXT), quiet=True)  # fmt: skip
        new = iid.read().strip().removeprefix("sha256:")
    if old and not new.startswith(old):  # the previous build of this tag, now unnamed
        subprocess.run([*PODMAN, "rmi", old], capture_output=True)
    return new


def prune_stale_stages() -> None:
    """Unnamed build-stage images left by earlier locks or code: ours only, by label."""
    prune = [*PODMAN, "image", "prune", "--force", "--filter", "label=io.e2e-energy.stage=build"]
    for _ in range(5):  # removing an image can leave its parent unnamed in turn
        if not run(*prune, quiet=True).strip():
            return


def image_id(ref: str) -> str | None:
    out = subprocess.run([*PODMAN, "image", "inspect", "--format", "{{.Id}}", ref],
                         capture_output=True, text=True)  # fmt: skip
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def build_all() -> dict[str, str]:
    """Base, wheelhouse, context and both images; target -> image ID. Safe to call in parallel."""
    need("podman", "podman")
    need("runc", "runc")
    with cache_lock():
        base_ref = base()
        context()
        for stage in CACHE_STAGES:
            build(stage, base_ref, f"{REPOSITORY}-cache:{stage}")
        ids = {t: build(t, base_ref) for t in TARGETS}
        prune_stale_stages()
        ids["base"] = image_id(base_ref) or base_ref
        return ids


@dataclass(frozen=True)
class Layer:
    size: int
    created_by: str


def layers(ref: str) -> list[Layer]:
    """The image's layers, oldest first, with what made each."""
    rows = json.loads(run(*PODMAN, "history", "--format", "json", ref, quiet=True))
    out = [Layer(int(r.get("size", 0)), str(r.get("CreatedBy") or r.get("createdBy") or ""))
           for r in rows]  # fmt: skip
    return out[::-1]


def image_size(ref: str) -> int:
    return int(run(*PODMAN, "image", "inspect", "--format", "{{.Size}}", ref, quiet=True))


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def stage_instructions(target: str) -> list[str]:
    """The instructions of `runtime` and `target`, in order: one history row (layer) each."""
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in DOCKERFILE.read_text().replace("\\\n", " ").splitlines():
        line = " ".join(line.split())
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            current = stages.setdefault(line.split()[-1], [])
        else:
            current.append(line)
    return stages["runtime"] + stages[target]


def report(ids: dict[str, str]) -> dict[str, dict[str, int]]:
    """Prints each image's size and what its layers add to the base; returns the figures."""
    base_size = image_size(ids["base"])
    base_layers = len(layers(ids["base"]))
    figures: dict[str, dict[str, int]] = {"base": {"size": base_size}}
    print(f"base        {mb(base_size):>10}  Debian {SUITE} minbase + python3 ({ids['base'][:12]})")
    for t in TARGETS:
        size, added = image_size(ids[t]), layers(ids[t])[base_layers:]
        figures[t] = {"size": size, "added": size - base_size}
        print(f"{t:<11} {mb(size):>10}  adds {mb(size - base_size)} to the base ({ids[t][:12]})")
        for layer, what in zip(added, stage_instructions(t), strict=False):
            if layer.size >= 1000:
                print(f"    {mb(layer.size):>10}  {what[:88]}")
    return figures


SINGLE_DOCKERFILE = """\
ARG BASE
FROM ${BASE}
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
COPY wheels/ /wheels/
RUN python3 -m venv --without-pip /opt/venv \\
    && /opt/venv/bin/python $(ls /wheels/pip-*.whl)/pip install --no-index --find-links=/wheels \\
       e2e-energy-collector \\
    && rm -rf /wheels
USER 65532:65532
ENTRYPOINT ["/opt/venv/bin/e2e-energy"]
"""


def compare_single(rev: str) -> None:
    """Builds the one image of `rev` (before the split) on the same base and compares sizes.

    As that revision's Dockerfile did: every wheel `pip wheel .` resolves today (network) is
    copied in, then installed and deleted in one step (so the copied wheels stay in a layer of
    their own, as they did there); only the base differs, and pip runs from its wheel.
    """
    ids = build_all()
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        src, ctx = Path(tmp) / "src", Path(tmp) / "ctx"
        src.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True)
        if archive.returncode != 0:
            sys.exit(f"images: git archive {rev} failed: {archive.stderr.decode()}")
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
        say(f"resolving and downloading the dependencies of {rev} (network)")
        run(sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(ctx / "wheels"),
            str(src), quiet=True)  # fmt: skip
        for whl in wheelhouse().glob("pip-*.whl"):
            shutil.copy2(whl, ctx / "wheels")
        (ctx / "Dockerfile").write_text(SINGLE_DOCKERFILE)
        tag = f"{REPOSITORY}-single:{rev[:12]}"
        base_arg = f"BASE={image_id(ids['base'])}"
        run(*PODMAN, "build", "--quiet", *ULIMITS, "--network=none", "--pull=never",
            "--build-arg", base_arg, "--tag", tag, str(ctx), quiet=True)  # fmt: skip
    figures = report(ids)
    single = image_size(tag)
    base_size = figures["base"]["size"]
    print(f"single      {mb(single):>10}  adds {mb(single - base_size)} to the base ({rev})")
    for layer in layers(tag)[len(layers(ids["base"])) :]:
        if layer.size >= 1000:
            what = re.sub(r"\s+", " ", layer.created_by.split("#(nop)")[-1]).strip()
            print(f"    {mb(layer.size):>10}  {what[:88]}")
    for t in TARGETS:
        print(f"{t} / single: {figures[t]['size'] / single:.2f} of the size")
    subprocess.run([*PODMAN, "rmi", tag], capture_output=True)  # a one-off, 900 MB


def clean() -> None:
    out = run(*PODMAN, "images", "--format", "{{.Repository}}:{{.Tag}}", quiet=True)
    refs = [r for r in out.split() if r.startswith(REPOSITORY)]
    if refs:
        subprocess.run([*PODMAN, "rmi", "--force", *refs], capture_output=True)
    shutil.rmtree(CACHE, ignore_errors=True)
    say(f"removed {len(refs)} image(s) and {CACHE.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "step", nargs="?", default="all", choices=("all", "wheelhouse", "clean", "compare-single")
    )
    parser.add_argument("--rev", default="033d160", help="compare-single: the one-image revision")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    if args.step == "clean":
        clean()
        return 0
    if args.step == "compare-single":
        compare_single(args.rev)
        return 0
    if args.step == "wheelhouse":
        with cache_lock():
            say(f"build context ready: {context().relative_to(ROOT)}")
        return 0
    figures = report(build_all())
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
