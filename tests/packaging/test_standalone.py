"""The repository stands alone for its users: what it ships (code, chart, manifests, docs, the
testbed, scripts) points only at files inside it, and every such pointer resolves. Design notes
kept beside a developer's checkout (../shared) are not part of it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import ROOT

SHIPPED = ("collector", "docs", "helm", "deploy", "testbed", "scripts", "locks", "bench")
TOP = ("README.md", "Dockerfile", "Makefile", "pyproject.toml")
OUTSIDE = re.compile(r"shared/|\b(DESIGN|REFERENCE|INFRA|STYLE|CONTRACTS)\.md\b")
PATH = re.compile(
    r"(?<![\w./-])((?:docs|collector|tests|deploy|helm|scripts|testbed|bench|locks)/"
    r"[\w./-]*\.(?:md|py|yaml|yml|json|txt|sh|toml|in|csv))\b"
)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def shipped_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *SHIPPED, *TOP],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    files = [ROOT / f for f in out.stdout.splitlines() if (ROOT / f).is_file()]
    return [f for f in files if f.suffix not in (".png", ".o", ".pcapng", ".pcap", ".gz")]


def test_nothing_points_outside_the_repository() -> None:
    hits = []
    for path in shipped_files():
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)


def test_every_repository_path_mentioned_exists() -> None:
    missing = []
    for path in shipped_files():
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for mention in PATH.findall(line):
                if "*" not in mention and not (ROOT / mention).exists():
                    missing.append(f"{path.relative_to(ROOT)}:{n}: {mention}")
    assert not missing, "\n".join(missing)


def test_every_relative_link_in_the_docs_resolves() -> None:
    broken = []
    for path in [p for p in shipped_files() if p.suffix == ".md"]:
        for target in LINK.findall(path.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}")
    assert not broken, "\n".join(broken)
