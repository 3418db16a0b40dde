"""The chart's values.schema.json repeats the collector's lists (source and provider kinds, roles,
share keys, directions, TraceID carriers) so that `helm install` rejects a bad value early; each
enum must equal the list the collector itself accepts, read from its settings models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from collector.models import DIRECTIONS, ROLES, SHARE_KEYS
from collector.settings import ProviderSettings, SourceSettings, TraceIdCarrier

SCHEMA = Path(__file__).resolve().parents[2] / "helm" / "e2e-energy" / "values.schema.json"


def _kinds(union: Any) -> list[str]:
    """The `kind` of each class of a discriminated union of settings classes."""
    classes: tuple[type[BaseModel], ...] = get_args(get_args(union)[0])
    return [get_args(c.model_fields["kind"].annotation)[0] for c in classes]


def _literal(model: type[BaseModel], field: str) -> list[str]:
    return list(get_args(model.model_fields[field].annotation))


CONFIG = "properties/config/properties"
AGENT = "properties/agent/properties"
CASES: list[tuple[str, list[str]]] = [
    (f"{CONFIG}/sources/items/properties/kind", _kinds(SourceSettings)),
    (
        f"{CONFIG}/carbon/properties/zones/additionalProperties/properties/providers/items"
        "/properties/kind",
        _kinds(ProviderSettings),
    ),
    (f"{CONFIG}/nfs/items/properties/role", list(ROLES)),
    (f"{CONFIG}/shares/propertyNames", ["default", *ROLES]),
    (f"{CONFIG}/shares/additionalProperties/properties/static", list(SHARE_KEYS)),
    (f"{CONFIG}/shares/additionalProperties/properties/dynamic", list(SHARE_KEYS)),
    (f"{AGENT}/interfaces/items/properties/direction", list(DIRECTIONS)),
    (f"{AGENT}/traceIds/items/properties/carrier", _literal(TraceIdCarrier, "carrier")),
    (
        f"{AGENT}/traceIds/items/properties/node_id_field",
        _literal(TraceIdCarrier, "node_id_field"),
    ),
]


@pytest.mark.parametrize(("path", "expected"), CASES, ids=[p.rsplit("/", 1)[-1] for p, _ in CASES])
def test_schema_enum_is_the_collectors_list(path: str, expected: list[str]) -> None:
    node: Any = json.loads(SCHEMA.read_text(encoding="utf-8"))
    for key in path.split("/"):
        node = node[key]
    assert len(expected) >= 2
    assert sorted(node["enum"]) == sorted(expected)
