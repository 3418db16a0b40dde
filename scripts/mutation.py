#!/usr/bin/env python3
"""Mutation testing of the accounting core with mutmut, and a readable report.

    scripts/mutation.py [--profile full|ci] [--module collector/units.py ...] [--jobs N]

Stages a copy of collector/, tests/ and bench/ under build/mutation/<profile>/ with the mutmut
settings of the profile (scripts/mutation.toml) and runs `mutmut run` there from scratch; then
the named mutants (hand-written bugs mutmut does not make: module-level constants, deleted
lines). Writes report.md and report.json next to them: killed / timed out / survived / no tests /
equivalent per module, each survivor's diff, the equivalent mutants with why. Exits 1 when a
module is below the profile's `fail_under` or a named mutant survives, 2 when mutmut fails.

The repository is never modified; interrupting the run kills mutmut's whole process group.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mutation_report as report

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "scripts" / "mutation.toml"
COPIED = ("collector", "tests", "bench")
MUTMUT = str(Path(sys.executable).with_name("mutmut"))


def modules_for(cfg: dict[str, Any], profile: str, only: list[str]) -> dict[str, list[str]]:
    """Module path -> its tests, for the profile (and only `only` when given)."""
    ci_only = cfg["profiles"][profile].get("ci_only", False)
    unknown = set(only) - set(cfg["modules"])
    if unknown:
        sys.exit(f"mutation: not in {CONFIG.name}: {', '.join(sorted(unknown))}")
    mods = {
        path: list(spec["tests"])
        for path, spec in cfg["modules"].items()
        if (spec.get("ci", False) or not ci_only) and (not only or path in only)
    }
    named = [p for p in mods] + [t.split("::")[0] for ts in mods.values() for t in ts]
    missing = [p for p in named if not (ROOT / p).exists()]
    if missing:
        sys.exit(f"mutation: missing files named in {CONFIG.name}: {', '.join(missing)}")
    return mods


def stage(work: Path, mods: dict[str, list[str]], deselect: list[str]) -> None:
    """A fresh copy of the project with a [tool.mutmut] section for these modules."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for name in COPIED:
        shutil.copytree(ROOT / name, work / name, ignore=skip)
    section = {
        "source_paths": ["collector"],
        "only_mutate": sorted(mods),
        "also_copy": ["bench"],
        "pytest_add_cli_args_test_selection": [
            *sorted({t for ts in mods.values() for t in ts}),
            *(arg for test in deselect for arg in ("--deselect", test)),
        ],
        "pytest_add_cli_args": ["-p", "no:cacheprovider"],
        "use_git_change_detection": False,
        # CPU seconds a mutant may take: (its tests' time + 1) x 3 x 2. mutmut's default of
        # x 15 x 2 lets each looping mutant burn minutes; 6 x is still far above the noise.
        "timeout_multiplier": 3.0,
    }
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = re.sub(r"\n\[tool\.mutmut\].*?(?=\n\[|\Z)", "", pyproject, flags=re.S)
    lines = ["", "[tool.mutmut]", *(f"{k} = {json.dumps(v)}" for k, v in section.items())]
    (work / "pyproject.toml").write_text(pyproject + "\n".join(lines) + "\n")


def run_mutmut(work: Path, jobs: int) -> int:
    """`mutmut run` in its own process group, output to mutmut.log; whatever is left of the
    group when it ends or this is interrupted is killed."""
    env = dict(os.environ, E2E_HYPOTHESIS_PROFILE="mutation")
    with (work / "mutmut.log").open("w") as out:
        proc = subprocess.Popen(
            [MUTMUT, "run", "--max-children", str(jobs)],
            cwd=work,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            return proc.wait()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_named(work: Path, named: list[dict[str, Any]]) -> list[report.NamedResult]:
    """Apply each named mutant to the staged copy in turn and run the tests said to kill it;
    they must pass on the clean copy first.

    This process imports pytest, its plugins and the project once (running the clean tests);
    each mutant runs in a fork that forgets the project's modules, so it imports the mutated
    file while numpy, pandas, scapy and the plugins stay loaded: seconds per mutant, not tens."""
    import pytest

    os.environ["E2E_HYPOTHESIS_PROFILE"] = "mutation"
    os.chdir(work)
    sys.path.insert(0, str(work))
    args = ["-q", "-x", "-p", "no:cacheprovider", "--rootdir", str(work)]
    clean = sorted({t for n in named for t in n["killed_by"]})
    clean_ok = pytest.main([*args, *clean]) == 0
    out = []
    for n in named:
        path = work / n["module"]
        source = path.read_text()
        if not clean_ok:
            verdict = "error: its tests fail on the clean code"
        elif source.count(n["original"]) != 1:
            verdict = "error: `original` is not in the module exactly once"
        else:
            path.write_text(source.replace(n["original"], n["mutant"]))
            try:
                rc = _forked_pytest([*args, *n["killed_by"]])
            finally:
                path.write_text(source)
            verdict = {0: "SURVIVED", 1: "killed"}.get(rc, f"error: pytest exit code {rc}")
        out.append(report.NamedResult(n["name"], n["module"], n["killed_by"], verdict))
    return out


def _forked_pytest(args: list[str]) -> int:
    pid = os.fork()
    if pid == 0:  # the child forgets the project's modules, imports the mutated one, runs
        code = 3
        try:
            import pytest

            ours = ("collector", "tests", "bench")
            for name in [m for m in sys.modules if m.split(".")[0] in ours]:
                del sys.modules[name]
            code = int(pytest.main(args))
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@contextlib.contextmanager
def redirected(log: Path) -> Iterator[None]:
    """This process's stdout and stderr (file descriptors 1 and 2) go to `log` for a while."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("w") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--profile", default="full")
    ap.add_argument("--module", action="append", default=[], help="only this module (repeat)")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATION_JOBS", "1")))
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "mutation")
    args = ap.parse_args()
    with args.config.open("rb") as f:
        cfg = tomllib.load(f)
    mods = modules_for(cfg, args.profile, args.module)
    work = args.out.resolve() / args.profile
    stage(work, mods, cfg.get("deselect", []))
    print(f"mutation: {len(mods)} module(s) in {work}, {args.jobs} worker(s)", flush=True)
    started = time.monotonic()
    rc = run_mutmut(work, args.jobs)
    seconds = {"mutmut": time.monotonic() - started}
    if rc != 0:
        print((work / "mutmut.log").read_text()[-4000:])
        print(f"mutation: mutmut exited with {rc}; its output is in {work / 'mutmut.log'}")
        return 2
    equivalents = cfg.get("equivalent", [])
    results = report.collect(work, MUTMUT, list(mods), equivalents)
    started = time.monotonic()
    named = [n for n in cfg.get("named", []) if n["module"] in mods]
    with redirected(work / "named.log"):
        named_results = run_named(work, named) if named else []
    seconds["named"] = time.monotonic() - started
    fail_under = float(cfg["profiles"][args.profile]["fail_under"])
    ok = all(r.score >= fail_under for r in results)
    ok &= all(n.verdict == "killed" for n in named_results)
    stale = report.unused_equivalents(results, equivalents)
    md = report.render(args.profile, results, named_results, stale, seconds, fail_under)
    report.write(work, md, report.summary(args.profile, results, named_results, seconds, ok))
    for r in results:
        print(f"  {r.path:36} {len(r.mutants):4} mutants {r.score:6.1f} % killed")
    for n in named_results:
        print(f"  named: {n.name}: {n.verdict}")
    total = sum(seconds.values())
    print(f"mutation: {'ok' if ok else 'FAILED'} in {total:.0f} s; report: {work / 'report.md'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
