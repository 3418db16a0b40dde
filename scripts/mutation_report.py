"""Reading mutmut's verdicts and writing the mutation report (used by scripts/mutation.py).

A mutant's verdict comes from `mutmut results --all=true` and its diff from `mutmut show`, the
tool's public commands. Survivors are matched against the equivalent mutants listed in
scripts/mutation.toml by module, function and changed line, so the list survives renumbering.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# mutmut's own status words (mutmut/stats.py, status_by_exit_code). A timeout counts as killed:
# mutmut limits a mutant's CPU time, not its wall time, so a timeout is a mutant that loops.
DETECTED = ("killed", "timeout", "caught by type check", "segfault")
SURVIVED = ("survived", "suspicious", "skipped", "not checked")
NO_TESTS = ("no tests",)


@dataclass
class Mutant:
    name: str
    status: str
    function: str
    diff: str = ""
    original: str = ""
    mutated: str = ""
    why: str = ""  # set when it is a listed equivalent mutant


@dataclass
class ModuleResult:
    path: str
    mutants: list[Mutant] = field(default_factory=list)

    def count(self, statuses: tuple[str, ...]) -> int:
        return sum(1 for m in self.mutants if m.status in statuses and not m.why)

    @property
    def equivalent(self) -> list[Mutant]:
        return [m for m in self.mutants if m.why]

    @property
    def survivors(self) -> list[Mutant]:
        return [m for m in self.mutants if m.status not in DETECTED and not m.why]

    @property
    def score(self) -> float:
        """Per cent of the non-equivalent mutants killed (timeouts included)."""
        relevant = len(self.mutants) - len(self.equivalent)
        return 100.0 if relevant == 0 else 100.0 * self.count(DETECTED) / relevant


@dataclass
class NamedResult:
    name: str
    module: str
    killed_by: list[str]
    verdict: str  # killed | SURVIVED | error: ...


def function_of(name: str, module: str) -> str:
    """`collector.agent.tally.xǁTallyǁcount__mutmut_41` -> `Tally.count`."""
    rest = name.removeprefix(module + ".").rsplit("__mutmut_", 1)[0]
    if rest.startswith("xǁ"):
        return ".".join(p for p in rest[2:].split("ǁ") if p)
    return rest.removeprefix("x_")


def changed_lines(diff: str) -> tuple[str, str]:
    """The removed and the added lines of a unified diff, stripped and joined by newlines."""
    lines = diff.splitlines()
    minus = [ln[1:].strip() for ln in lines if ln.startswith("-") and not ln.startswith("---")]
    plus = [ln[1:].strip() for ln in lines if ln.startswith("+") and not ln.startswith("+++")]
    return "\n".join(minus), "\n".join(plus)


def collect(
    work: Path, mutmut: str, modules: list[str], equivalents: list[dict[str, str]]
) -> list[ModuleResult]:
    def cli(*args: str) -> str:
        return subprocess.run(
            [mutmut, *args], cwd=work, capture_output=True, text=True, check=True
        ).stdout

    results = {p: ModuleResult(p) for p in modules}
    dotted = {p.removesuffix(".py").replace("/", "."): p for p in modules}
    for line in cli("results", "--all=true").splitlines():
        name, _, status = line.strip().rpartition(": ")
        module = next((d for d in dotted if name.startswith(d + ".")), None)
        if module is None:
            continue
        m = Mutant(name, status, function_of(name, module))
        if status not in DETECTED:
            m.diff = _diff(work, name, dotted[module])
            m.original, m.mutated = changed_lines(m.diff)
            m.why = next(
                (
                    eq["why"]
                    for eq in equivalents
                    if (eq["module"], eq["function"]) == (dotted[module], m.function)
                    and (eq["original"].strip(), eq["mutant"].strip()) == (m.original, m.mutated)
                ),
                "",
            )
        results[dotted[module]].mutants.append(m)
    return list(results.values())


def _diff(work: Path, name: str, path: str) -> str:
    """What `mutmut show` prints, without a process per mutant (mutmut is pinned in pyproject)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    here = Path.cwd()
    os.chdir(work)
    try:
        return get_diff_for_mutant(name, path=path).strip()
    finally:
        os.chdir(here)


def unused_equivalents(
    results: list[ModuleResult], equivalents: list[dict[str, str]]
) -> list[dict[str, str]]:
    """Listed equivalents of the modules run that matched no surviving mutant: stale entries."""
    run = {r.path for r in results}
    seen = {(r.path, m.function, m.original, m.mutated) for r in results for m in r.equivalent}
    return [
        eq
        for eq in equivalents
        if eq["module"] in run
        and (eq["module"], eq["function"], eq["original"].strip(), eq["mutant"].strip()) not in seen
    ]


def _row(r: ModuleResult) -> str:
    cells = [
        r.path,
        len(r.mutants),
        r.count(("killed", "caught by type check", "segfault")),
        r.count(("timeout",)),
        r.count(SURVIVED),
        r.count(NO_TESTS),
        len(r.equivalent),
        f"{r.score:.1f}",
    ]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def render(
    profile: str,
    results: list[ModuleResult],
    named: list[NamedResult],
    stale: list[dict[str, str]],
    seconds: dict[str, float],
    fail_under: float,
) -> str:
    md = [
        f"# Mutation report ({profile})",
        "",
        f"mutmut {seconds['mutmut']:.0f} s, named mutants {seconds['named']:.0f} s. Goal: at "
        f"least {fail_under:g} % of the non-equivalent mutants of each module killed (a timeout "
        "counts as killed: mutmut limits CPU time, so a timeout is a mutant that loops).",
        "",
        "| module | mutants | killed | timed out | survived | no tests | equivalent | killed % |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
        *(_row(r) for r in results),
        "",
    ]
    if named:
        md += ["## Named mutants", "", "| mutant | module | verdict | killed by |", "|---|" * 4]
        for n in named:
            md.append(f"| {n.name} | {n.module} | {n.verdict} | {'<br>'.join(n.killed_by)} |")
        md.append("")
    md += ["## Survivors", ""]
    survivors = [m for r in results for m in r.survivors]
    for m in survivors:
        md += [f"### {m.name} ({m.status})", "", "```diff", m.diff, "```", ""]
    md += [] if survivors else ["None.", ""]
    md += ["## Equivalent mutants", ""]
    for r in results:
        md += [f"- `{m.name}`: `{m.original}` → `{m.mutated}`: {m.why}" for m in r.equivalent]
    if stale:
        md += ["", "## Stale entries in scripts/mutation.toml (matched no mutant)", ""]
        md += [f"- {eq['module']} {eq['function']}: `{eq['original']}`" for eq in stale]
    return "\n".join(md) + "\n"


def summary(
    profile: str,
    results: list[ModuleResult],
    named: list[NamedResult],
    seconds: dict[str, float],
    ok: bool,
) -> dict[str, Any]:
    return {
        "profile": profile,
        "ok": ok,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "modules": {
            r.path: {
                "mutants": len(r.mutants),
                "killed": r.count(("killed", "caught by type check", "segfault")),
                "timeout": r.count(("timeout",)),
                "survived": r.count(SURVIVED),
                "no_tests": r.count(NO_TESTS),
                "equivalent": len(r.equivalent),
                "killed_percent": round(r.score, 2),
                "survivors": [m.name for m in r.survivors],
            }
            for r in results
        },
        "named": {n.name: n.verdict for n in named},
    }


def write(work: Path, md: str, data: dict[str, Any]) -> None:
    (work / "report.md").write_text(md)
    (work / "report.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
