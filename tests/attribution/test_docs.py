"""The generated metrics reference is up to date, and the API reference names every route."""

from __future__ import annotations

from pathlib import Path

from collector.outputs.api import create_app
from collector.outputs.metrics_doc import render
from collector.store import Store
from tests.conftest import ROOT


def test_metrics_reference_is_generated_from_the_code() -> None:
    doc = (ROOT / "docs" / "reference" / "metrics.md").read_text(encoding="utf-8")
    assert doc == render(), (
        "run: python -m collector.outputs.metrics_doc > docs/reference/metrics.md"
    )


def test_api_reference_documents_every_route(tmp_path: Path) -> None:
    writer = Store(tmp_path / "s.sqlite", writer=True)
    app = create_app(Store(tmp_path / "s.sqlite"))
    doc = (ROOT / "docs" / "reference" / "api.md").read_text(encoding="utf-8")
    paths = set(app.openapi()["paths"])
    assert paths, "no routes"
    for path in paths:
        if path.startswith("/v1/placement"):
            continue  # documented by the placement reference
        assert f"`GET {path}`" in doc, path
    writer.close()
