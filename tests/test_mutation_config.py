"""scripts/mutation.toml stays true to the code: its modules and tests exist, each named mutant's
text is in its module exactly once, each equivalent mutant's original line is still there; and
the report's parsing of mutmut's names and diffs. (The mutation run itself is `make mutation`.)"""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from types import ModuleType
from typing import Any

from tests.conftest import ROOT

CONFIG = ROOT / "scripts" / "mutation.toml"


def config() -> dict[str, Any]:
    with CONFIG.open("rb") as f:
        return tomllib.load(f)


def report_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "mutation_report", ROOT / "scripts" / "mutation_report.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutation_report"] = module
    spec.loader.exec_module(module)
    return module


def test_modules_and_their_tests_exist() -> None:
    cfg = config()
    assert {"collector/units.py", "collector/agent/tally.py"} <= {
        m for m, spec in cfg["modules"].items() if spec.get("ci")
    }
    for module, spec in cfg["modules"].items():
        assert (ROOT / module).is_file(), module
        assert spec["tests"], module
    every = [t for spec in cfg["modules"].values() for t in spec["tests"]]
    for test in every + cfg.get("deselect", []):
        path, _, name = test.partition("::")
        assert (ROOT / path).is_file(), test
        if name:
            assert re.search(rf"^def {re.escape(name)}\(", (ROOT / path).read_text(), re.M), test


def test_named_mutants_apply_to_their_module_exactly_once() -> None:
    cfg = config()
    names = [n["name"] for n in cfg["named"]]
    assert len(names) == len(set(names))
    for n in cfg["named"]:
        assert n["module"] in cfg["modules"], n["name"]
        assert (ROOT / n["module"]).read_text().count(n["original"]) == 1, n["name"]
        assert n["original"] != n["mutant"] and n["killed_by"], n["name"]
        for test in n["killed_by"]:
            path, _, name = test.partition("::")
            assert re.search(rf"^def {re.escape(name)}\(", (ROOT / path).read_text(), re.M), test


def test_equivalent_mutants_still_match_the_code() -> None:
    cfg = config()
    for eq in cfg["equivalent"]:
        assert eq["module"] in cfg["modules"], eq
        source = (ROOT / eq["module"]).read_text()
        lines = {line.strip() for line in source.splitlines()}
        for line in eq["original"].strip().splitlines():
            assert line.strip() in lines, (eq["module"], line)
        function = eq["function"].rpartition(".")[2]
        assert re.search(rf"^\s*def {re.escape(function)}\(", source, re.M), eq["function"]
        assert eq["why"].strip(), eq
    keys = [(e["module"], e["function"], e["original"], e["mutant"]) for e in cfg["equivalent"]]
    assert len(keys) == len(set(keys))


def test_mutmut_is_pinned_and_make_test_runs_the_ci_subset() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "mutmut==3.8.1" in pyproject["project"]["optional-dependencies"]["dev"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:.* mutation-ci\b", makefile, re.M)


def test_report_reads_mutmut_names_and_diffs() -> None:
    r = report_module()
    assert (
        r.function_of("collector.agent.tally.xǁTallyǁcount__mutmut_41", "collector.agent.tally")
        == "Tally.count"
    )
    assert (
        r.function_of("collector.units.x_counter_delta__mutmut_9", "collector.units")
        == "counter_delta"
    )
    diff = "\n".join(
        [
            "--- collector/units.py",
            "+++ collector/units.py",
            "@@ -11,6 +11,6 @@",
            '         return CounterStep(0.0, "first")',
            "-    if current >= previous:",
            "+    if current > previous:",
            '         return CounterStep(current - previous, "normal")',
        ]
    )
    assert r.changed_lines(diff) == ("if current >= previous:", "if current > previous:")


def test_score_counts_timeouts_as_killed_and_leaves_equivalents_out() -> None:
    r = report_module()
    res = r.ModuleResult("m.py")
    res.mutants = [
        r.Mutant("a", "killed", "f"),
        r.Mutant("b", "timeout", "f"),
        r.Mutant("c", "survived", "f"),
        r.Mutant("d", "survived", "f", why="a cache"),
        r.Mutant("e", "no tests", "f"),
    ]
    assert res.score == 50.0  # 2 of the 4 non-equivalent
    assert [m.name for m in res.survivors] == ["c", "e"]
    assert [m.name for m in res.equivalent] == ["d"]
