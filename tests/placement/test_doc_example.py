"""The live-advice example in docs/explanation/placement.md is one a user can paste: it is a
valid `placement` section, and every class, origin and region it names is in the bundled
dataset (read here from the data files themselves, not through the advisor's loader)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import yaml

from collector.settings.placement import PlacementSettings

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "collector" / "placement" / "data"


def live_example() -> dict[str, object]:
    text = (ROOT / "docs" / "explanation" / "placement.md").read_text(encoding="utf-8")
    section = text.split("## Live advice", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None, "the Live advice section has no yaml example"
    doc = yaml.safe_load(block.group(1))
    assert set(doc) == {"placement"}
    return doc["placement"]  # type: ignore[no-any-return]


def csv_names(name: str) -> set[str]:
    lines = [x for x in (DATA / name).read_text().splitlines() if not x.startswith("#")]
    return {row["name"] for row in csv.DictReader(lines)}


def test_the_live_example_validates_and_names_only_bundled_entries() -> None:
    settings = PlacementSettings.model_validate(live_example())
    dataset = yaml.safe_load((DATA / "default.yaml").read_text())
    classes = {c["name"] for c in dataset["classes"]}
    regions = {r["name"] for r in dataset["regions"]} | (
        csv_names(dataset["csv"]["regions"]) if "regions" in dataset.get("csv", {}) else set()
    )
    origins = csv_names("origins.csv") | {o["name"] for o in dataset.get("origins", [])}
    assert settings.apps, "the example advises on no app"
    for app, entry in settings.apps.items():
        assert entry.workload_class in classes, (app, entry.workload_class)
        assert entry.origin in origins, (app, entry.origin)
    assert set(settings.carbon_zones) <= regions, settings.carbon_zones
