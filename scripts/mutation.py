#!/usr/bin/env python3
"""Mutation testing of the accounting core with mutmut, and a readable report.

    scripts/mutation.py [--profile full|ci] [--module collector/units.py ...] [--jobs N]

Stages a copy of collector/, tests/ and bench/ under build/mutation/<profile>/ with the mutmut
settings of the profile (scripts/mutation.toml), runs `mutmut run` there from scratch, then the
named mutants (hand-written bugs mutmut cannot make: module-level constants, deleted lines),
and writes report.md and report.json next to it: killed / survived / timed out / no tests /
equivalent per module, each survivor's diff, and the equivalent mutants with why. Exits 1 when a
module is below the profile's `fail_under` or a named mutant survives.

The repository itself is never modified. Interrupting the run kills mutmut's whole process group.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "scripts" / "mutation.toml"
COPIED = ("collector", "tests", "bench")
# mutmut's own status words (mutmut/stats.py, status_by_exit_code)
DETECTED = {"killed", "timeout", "caught by type check", "segfault"}
NOT_DETECTED = {"survived", "no tests", "suspicious", "skipped", "not checked"}


@dataclass
class Mutant:
    name: str
    status: str
    function: str = ""
    original: str = ""
    mutated: str = ""
    diff: str = ""
    why: str = ""  # set when it matches an equivalent entry


@dataclass
class ModuleResult:
    path: str
    mutants: list[Mutant] = field(default_factory=list)

    def count(self, *statuses: str) -> int:
        return sum(1 for m in self.mutants if m.status in statuses and not m.why)

    @property
    def equivalent(self) -> list[Mutant]:
        return [m for m in self.mutants if m.why]

    @property
    def score(self) -> float:
        relevant = len(self.mutants) - len(self.equivalent)
        detected = self.count(*DETECTED)
        return 100.0 if relevant == 0 else 100.0 * detected / relevant


def load_config(path: Path) -> dict[str, object]:
    with path.open("rb") as f:
        return tomllib.load(f)


def modules_for(cfg: dict, profile: str, only: list[str]) -> dict[str, list[str]]:
    prof = cfg["profiles"][profile]
    mods = {
        path: list(spec["tests"])
        for path, spec in cfg["modules"].items()
        if (spec.get("ci", False) or not prof.get("ci_only", False))
        and (not only or path in only)
    }
    unknown = set(only) - set(cfg["modules"])
    if unknown:
        sys.exit(f"mutation: not in {CONFIG.name}: {', '.join(sorted(unknown))}")
    missing = [t for ts in mods.values() for t in ts if not (ROOT / t.split("::")[0]).exists()]
    missing += [p for p in mods if not (ROOT / p).exists()]
    if missing:
        sys.exit(f"mutation: missing files named in {CONFIG.name}: {', '.join(missing)}")
    return mods


def stage(work: Path, mods: dict[str, list[str]]) -> None:
    """A fresh copy of the project with a [tool.mutmut] section for these modules."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for name in COPIED:
        shutil.copytree(ROOT / name, work / name, ignore=skip)
    tests = sorted({t for ts in mods.values() for t in ts})
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = re.sub(r"\n\[tool\.mutmut\].*?(?=\n\[|\Z)", "", pyproject, flags=re.S)
    section = {
        "source_paths": ["collector"],
        "only_mutate": sorted(mods),
        "also_copy": ["bench"],
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-p", "no:cacheprovider"],
        "use_git_change_detection": False,
    }
    lines = ["", "[tool.mutmut]"] + [f"{k} = {json.dumps(v)}" for k, v in section.items()]
    (work / "pyproject.toml").write_text(pyproject + "\n".join(lines) + "\n")


def run_group(cmd: list[str], cwd: Path, log: Path, env: dict[str, str]) -> int:
    """Run cmd in its own process group, output to log; on any exit kill what is left of it."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            return proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def mutmut_env() -> dict[str, str]:
    env = dict(os.environ)
    env["E2E_HYPOTHESIS_PROFILE"] = "mutation"  # derandomized: the same verdicts every run
    env.pop("PYTHONPATH", None)
    return env


def function_of(name: str, module: str) -> str:
    """`collector.agent.tally.xǁTallyǁcount__mutmut_41` -> `Tally.count`."""
    rest = name.removeprefix(module + ".").rsplit("__mutmut_", 1)[0]
    if rest.startswith("xǁ"):
        return ".".join(p for p in rest[2:].split("ǁ") if p)
    return rest.removeprefix("x_")


def diff_lines(diff: str) -> tuple[str, str]:
    minus = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    plus = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    return "\n".join(minus), "\n".join(plus)


def collect(work: Path, mods: dict[str, list[str]], cfg: dict) -> list[ModuleResult]:
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    out = subprocess.run(
        [mutmut, "results", "--all=true"], cwd=work, capture_output=True, text=True, check=True
    ).stdout
    by_module = {p: ModuleResult(p) for p in mods}
    dotted = {p.removesuffix(".py").replace("/", "."): p for p in mods}
    equivalents = cfg.get("equivalent", [])
    for line in out.splitlines():
        name, _, status = line.strip().rpartition(": ")
        module = next((d for d in dotted if name.startswith(d + ".")), None)
        if module is None:
            continue
        m = Mutant(name, status, function_of(name, module))
        if status not in DETECTED:
            m.diff = subprocess.run(
                [mutmut, "show", name], cwd=work, capture_output=True, text=True, check=True
            ).stdout.split("\n", 1)[1]
            m.original, m.mutated = diff_lines(m.diff)
            for eq in equivalents:
                if (
                    eq["module"] == dotted[module]
                    and eq["function"] == m.function
                    and eq["original"].strip() == m.original
                    and eq["mutant"].strip() == m.mutated
                ):
                    m.why = eq["why"]
        by_module[dotted[module]].mutants.append(m)
    return list(by_module.values())


@dataclass
class NamedResult:
    name: str
    module: str
    killed_by: list[str]
    verdict: str  # killed | SURVIVED | error: ...


def run_named(work: Path, mods: dict[str, list[str]], cfg: dict, env: dict[str, str]) -> list[NamedResult]:
    """Apply each hand-written mutant of the profile's modules to the staged copy in turn and run
    the tests said to kill it; they must pass on the clean copy first."""
    named = [n for n in cfg.get("named", []) if n["module"] in mods]
    if not named:
        return []
    env = dict(env, PYTHONPATH=str(work))
    pytest = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
    clean = sorted({t for n in named for t in n["killed_by"]})
    if subprocess.run([*pytest, *clean], cwd=work, env=env, capture_output=True).returncode:
        return [NamedResult(n["name"], n["module"], n["killed_by"], "error: fails on clean code") for n in named]
    results = []
    for n in named:
        path = work / n["module"]
        source = path.read_text()
        if source.count(n["original"]) != 1:
            results.append(NamedResult(n["name"], n["module"], n["killed_by"], "error: original text not found once"))
            continue
        path.write_text(source.replace(n["original"], n["mutant"]))
        try:
            rc = subprocess.run([*pytest, *n["killed_by"]], cwd=work, env=env, capture_output=True).returncode
        finally:
            path.write_text(source)
        verdict = {0: "SURVIVED", 1: "killed"}.get(rc, f"error: pytest exit code {rc}")
        results.append(NamedResult(n["name"], n["module"], n["killed_by"], verdict))
    return results


def write_report(
    work: Path, profile: str, results: list[ModuleResult], named: list[NamedResult], seconds: dict[str, float], fail_under: float
) -> bool:
    ok = all(r.score >= fail_under for r in results) and all(n.verdict == "killed" for n in named)
    md = [f"# Mutation report ({profile})", ""]
    md.append(f"mutmut {seconds['mutmut']:.0f} s, named mutants {seconds['named']:.0f} s; goal: at least {fail_under:g} % of the non-equivalent mutants of each module killed.")
    md += ["", "| module | mutants | killed | timed out | survived | no tests | equivalent | killed % |", "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for r in results:
        md.append(
            f"| {r.path} | {len(r.mutants)} | {r.count('killed', 'caught by type check', 'segfault')} | {r.count('timeout')} "
            f"| {r.count('survived', 'suspicious', 'skipped', 'not checked')} | {r.count('no tests')} | {len(r.equivalent)} | {r.score:.1f} |"
        )
    md += ["", "Timed-out mutants count as killed: mutmut limits CPU time, not wall time, so a timeout is a mutant that loops.", ""]
    if named:
        md += ["## Named mutants", "", "| mutant | module | verdict | killed by |", "|---|---|---|---|"]
        md += [f"| {n.name} | {n.module} | {n.verdict} | {'<br>'.join(n.killed_by)} |" for n in named]
        md.append("")
    survivors = [m for r in results for m in r.mutants if m.status in NOT_DETECTED and not m.why]
    md += ["## Survivors", ""] + (["None."] if not survivors else [])
    for m in survivors:
        md += [f"### {m.name} ({m.status})", "", "```diff", m.diff.strip(), "```", ""]
    md += ["", "## Equivalent mutants", ""]
    eq = [m for r in results for m in r.equivalent]
    md += [f"- `{m.name}` (`{m.original}` → `{m.mutated}`, {m.status}): {m.why}" for m in eq] or ["None."]
    (work / "report.md").write_text("\n".join(md) + "\n")
    summary = {
        "profile": profile,
        "seconds": seconds,
        "ok": ok,
        "modules": {
            r.path: {
                "mutants": len(r.mutants),
                "killed": r.count("killed", "caught by type check", "segfault"),
                "timeout": r.count("timeout"),
                "survived": r.count("survived", "suspicious", "skipped", "not checked"),
                "no_tests": r.count("no tests"),
                "equivalent": len(r.equivalent),
                "killed_percent": round(r.score, 2),
                "survivors": [m.name for m in r.mutants if m.status in NOT_DETECTED and not m.why],
            }
            for r in results
        },
        "named": {n.name: n.verdict for n in named},
    }
    (work / "report.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="full")
    ap.add_argument("--module", action="append", default=[], help="only this module (repeatable)")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATION_JOBS", "1")))
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "mutation")
    args = ap.parse_args()
    cfg = load_config(args.config)
    mods = modules_for(cfg, args.profile, args.module)
    work = args.out / args.profile
    stage(work, mods)
    env = mutmut_env()
    print(f"mutation: {len(mods)} module(s) staged in {work}; mutmut with {args.jobs} worker(s)", flush=True)
    started = time.monotonic()
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    rc = run_group([mutmut, "run", "--max-children", str(args.jobs)], work, work / "mutmut.log", env)
    seconds = {"mutmut": time.monotonic() - started}
    if rc != 0:
        print((work / "mutmut.log").read_text()[-4000:])
        print(f"mutation: mutmut exited with {rc}")
        return 2
    results = collect(work, mods, cfg)
    started = time.monotonic()
    named = run_named(work, mods, cfg, env)
    seconds["named"] = time.monotonic() - started
    fail_under = float(cfg["profiles"][args.profile]["fail_under"])
    ok = write_report(work, args.profile, results, named, seconds, fail_under)
    for r in results:
        print(f"  {r.path:36} {len(r.mutants):4} mutants  {r.score:5.1f} % killed  ({len(r.equivalent)} equivalent)")
    for n in named:
        print(f"  named: {n.name}: {n.verdict}")
    print(f"mutation: report in {work / 'report.md'} ({'ok' if ok else 'FAILED'}, {sum(seconds.values()):.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
