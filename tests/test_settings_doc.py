"""docs/reference/settings.md lists every settings field with its default (generated block)."""

from __future__ import annotations

from collector.settings import Settings
from tests.settings_doc import DOC, generated_block, render, walk


def test_reference_matches_settings_py() -> None:
    block = generated_block(DOC.read_text(encoding="utf-8"))
    assert block.strip() == render().strip(), (
        "docs/reference/settings.md is out of date: run `python -m tests.settings_doc --write`"
    )


def test_every_field_appears() -> None:
    block = generated_block(DOC.read_text(encoding="utf-8"))
    for _path, model in walk(Settings, "", set()):
        for name, field in model.model_fields.items():
            name = field.alias or name  # the key as written in the file
            assert f"| `{name}` |" in block, f"{model.__name__}.{name} missing from the reference"
