"""docs/explanation/data-flow.md draws the folder tree: every top-level part of collector/ is in
it, and every module it names exists where it says."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "explanation" / "data-flow.md"


def _tree() -> list[str]:
    """The lines of the fenced block that starts with `collector/`."""
    blocks = re.findall(r"```\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    (tree,) = [b for b in blocks if b.startswith("collector/")]
    return tree.splitlines()


def _named(lines: list[str]) -> list[tuple[str, str]]:
    """(parent folder, name) for each file or folder name in the tree, nesting by indent."""
    out = []
    stack: list[tuple[int, str]] = []
    for line in lines[1:]:
        indent = len(line) - len(line.lstrip())
        names = re.findall(r"(?:^|\s)([a-z_]+(?:\.py|/))(?=\s|$)", line)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = "collector/" + "".join(s for _, s in stack)
        out += [(parent, n) for n in names]
        if len(names) == 1 and names[0].endswith("/"):
            stack.append((indent, names[0]))
    return out


def test_every_named_module_exists() -> None:
    named = _named(_tree())
    assert len(named) > 20
    missing = [p + n for p, n in named if not (ROOT / p / n).exists()]
    assert missing == []


def test_every_top_level_part_of_collector_is_in_the_tree() -> None:
    named = {n for p, n in _named(_tree()) if p == "collector/"}
    parts = {
        p.name + ("/" if p.is_dir() else "")
        for p in (ROOT / "collector").iterdir()
        if (p.suffix == ".py" or (p / "__init__.py").exists())
        and p.name not in ("__init__.py", "__main__.py")
    }
    assert parts - named == set()
