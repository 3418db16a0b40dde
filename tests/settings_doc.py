"""Renders the settings reference tables from the models and their field docstrings.

Two references: the collector's settings (collector/settings/) in docs/reference/settings.md,
and the testbed's own section (testbed/settings.py) in testbed/README.md.
`python -m tests.settings_doc --write` rewrites both generated blocks; tests/test_settings_doc.py
and tests/testbed/test_settings.py fail when one is out of date.
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

import collector.settings as settings_pkg
from collector.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COLLECTOR_SOURCES = tuple(sorted(Path(settings_pkg.__file__).parent.glob("*.py")))
TESTBED_SOURCES = (ROOT / "testbed" / "settings.py",)


def field_docs(sources: tuple[Path, ...] = COLLECTOR_SOURCES) -> dict[tuple[str, str], str]:
    """(class name, field) -> the docstring written under the field in the source files."""
    out: dict[tuple[str, str], str] = {}
    classes = (
        n
        for path in sources
        for n in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(n, ast.ClassDef)
    )
    for cls in classes:
        body = cls.body
        for a, b in itertools.pairwise(body):
            if (
                isinstance(a, ast.AnnAssign)
                and isinstance(a.target, ast.Name)
                and isinstance(b, ast.Expr)
                and isinstance(b.value, ast.Constant)
                and isinstance(b.value.value, str)
            ):
                out[(cls.name, a.target.id)] = " ".join(b.value.value.split())
    return out


def _models(tp: Any) -> Iterator[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield tp
    for arg in get_args(tp):
        yield from _models(arg)


def walk(
    model: type[BaseModel], path: str, seen: set[str]
) -> Iterator[tuple[str, type[BaseModel]]]:
    """(dotted path, model) for the tree below `model`, each model class once per path."""
    yield path, model
    for name, f in model.model_fields.items():
        for sub in _models(f.annotation):
            key = f"{path}.{name}:{sub.__name__}"
            if key in seen:
                continue
            seen.add(key)
            child = f"{path}.{name}" if path else name
            if "sources" in child or "providers" in child:
                child = (
                    f"{child}[kind={sub.model_fields['kind'].annotation.__args__[0]}]"
                    if ("kind" in sub.model_fields)
                    else child
                )
            yield from walk(sub, child, seen)


def default_text(f: Any) -> str:
    if f.default is PydanticUndefined and f.default_factory is None:
        return "required"
    value = f.default_factory() if f.default_factory is not None else f.default
    if isinstance(value, BaseModel):
        return "(section defaults)"
    return f"`{value!r}`" if value not in ({}, [], None) else f"`{value}`"


def render(
    root: type[BaseModel] = Settings,
    prefix: str = "",
    sources: tuple[Path, ...] = COLLECTOR_SOURCES,
    *,
    once: bool = False,
) -> str:
    """The tables below `root`; with `once`, a model used at several paths is shown at the
    first one only (titled with its class, e.g. every power parameter is one Param)."""
    docs = field_docs(sources)
    lines = []
    shown: set[type[BaseModel]] = set()
    for path, model in walk(root, prefix, set()):
        if once and model in shown:
            continue
        shown.add(model)
        title = path or "top level"
        lines += [
            "",
            f"### `{title}` ({model.__name__})",
            "",
            "| key | default | meaning |",
            "|---|---|---|",
        ]
        for name, f in model.model_fields.items():
            doc = ""
            for klass in model.__mro__:
                doc = docs.get((klass.__name__, name), "")
                if doc:
                    break
            lines.append(f"| `{f.alias or name}` | {default_text(f)} | {doc} |")
    return "\n".join(lines) + "\n"


DOC = ROOT / "docs" / "reference" / "settings.md"
TESTBED_DOC = ROOT / "testbed" / "README.md"
BEGIN = "<!-- BEGIN GENERATED: python -m tests.settings_doc --write -->"
END = "<!-- END GENERATED -->"


def render_testbed() -> str:
    from testbed.settings import TestbedSettings

    return render(TestbedSettings, "testbed", TESTBED_SOURCES, once=True)


def generated_block(text: str) -> str:
    return text.split(BEGIN, 1)[1].split(END, 1)[0]


def write() -> None:
    for doc, block in ((DOC, render()), (TESTBED_DOC, render_testbed())):
        text = doc.read_text(encoding="utf-8")
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        doc.write_text(head + BEGIN + "\n" + block + END + tail, encoding="utf-8")


if __name__ == "__main__":
    if "--write" in sys.argv:
        write()
    else:
        print(render(), end="")
