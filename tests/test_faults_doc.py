"""docs/explanation/faults.md stays true to the code: every test it names exists (file and test
function), every error kind and metric it names is one the collector produces, and the limits it
quotes are the code's."""

from __future__ import annotations

import re

from collector.attribution.engine import FORGET_SERIES_SECONDS
from collector.attribution.live import AGENT_FORGET_SECONDS, STATE_EVERY_WINDOWS
from collector.outputs.metrics_spec import BY_NAME, PREFIX
from collector.settings import SourceBase
from collector.sources.http import MAX_REDIRECTS
from collector.sources.values import MAX_GRAMS_PER_KWH
from tests.conftest import ROOT

DOC = ROOT / "docs" / "explanation" / "faults.md"


def test_every_named_test_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    named = set(re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", text))
    assert len(named) >= 10
    for path, func in named:
        source = ROOT / path
        assert source.is_file(), path
        if func:
            assert f"def {func}(" in source.read_text(encoding="utf-8"), f"{path}::{func}"


def test_every_named_kind_and_metric_is_produced() -> None:
    text = DOC.read_text(encoding="utf-8")
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "collector").rglob("*.py"))
    for kind in set(re.findall(r'kind="(\w+)"', text)):
        assert f'"{kind}"' in code, kind
    for metric in set(re.findall(rf"`({PREFIX}\w+)`", text)):
        assert metric.removeprefix(PREFIX) in BY_NAME, metric
    for metric in set(re.findall(r"`e2e_energy_(\w+)\{", text)):
        assert metric in BY_NAME, metric


def test_quoted_limits_are_the_codes() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert f"At most {MAX_REDIRECTS} redirects" in text
    assert f"> {MAX_GRAMS_PER_KWH:g} g/kWh" in text
    assert "max_response_bytes" in SourceBase.model_fields
    assert f"batches of {STATE_EVERY_WINDOWS}" in text
    assert f"`AGENT_FORGET_SECONDS` ({AGENT_FORGET_SECONDS / 60:g} min)" in text
    assert FORGET_SERIES_SECONDS == 3600.0 and "without a sample for an hour" in text
