"""values.schema.json rejects bad values with Helm's own error; values.yaml is fully commented;
the settings files the chart renders load in the collector's own settings parser."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from collector.settings import parse_settings
from tests.conftest import EXAMPLE_SETTINGS, need_module
from tests.helmchart import TOGGLES, chart_path, documents, render, settings_of

helm = need_module("helm_python")

BAD_VALUES: list[tuple[str, dict[str, Any], str]] = [
    (
        "workers-not-int",
        {"agent": {"workers": "two"}},
        "at '/agent/workers': got string, want integer",
    ),
    ("port-range", {"agent": {"port": 70000}}, "/agent/port"),
    (
        "direction",
        {"agent": {"interfaces": [{"name": "eth1", "direction": "sideways"}]}},
        "/agent/interfaces/0/direction",
    ),
    ("no-interfaces", {"agent": {"interfaces": []}}, "/agent/interfaces"),
    (
        "placement-app-without-origin",
        {"config": {"placement": {"apps": {"chat": {"class": "standard"}}}}},
        "/config/placement",
    ),
    (
        "interface-name-too-long",
        {"agent": {"interfaces": [{"name": "x" * 16, "direction": "uplink"}]}},
        "/agent/interfaces/0/name",
    ),
    ("promiscuous-string", {"agent": {"promiscuous": "yes"}}, "/agent/promiscuous"),
    ("unknown-top-level", {"agnet": {}}, "additional properties 'agnet' not allowed"),
    (
        "unknown-agent-key",
        {"agent": {"interface": "eth0"}},
        "additional properties 'interface' not allowed",
    ),
    (
        "unknown-config-key",
        {"config": {"window": 15}},
        "additional properties 'window' not allowed",
    ),
    (
        "pvc-size-number",
        {"attributor": {"persistence": {"size": 5}}},
        "/attributor/persistence/size",
    ),
    (
        "labels-not-strings",
        {"serviceMonitor": {"labels": {"release": 1}}},
        "/serviceMonitor/labels/release",
    ),
    ("interval-format", {"podMonitor": {"interval": "15 seconds"}}, "/podMonitor/interval"),
    ("role", {"config": {"nfs": [{"name": "x", "role": "gnb"}]}}, "/config/nfs/0/role"),
    ("share-key", {"config": {"shares": {"du": {"static": "watts"}}}}, "/config/shares/du/static"),
    ("digest", {"agent": {"image": {"digest": "latest"}}}, "/agent/image/digest"),
    ("one-image", {"image": {"repository": "ghcr.io/x/e2e-energy"}}, "/image"),
    ("ring-block-size", {"agent": {"ringBlockSize": 1000}}, "/agent/ringBlockSize"),
    ("run-as-root", {"attributor": {"runAsUser": 0}}, "/attributor/runAsUser"),
]


@pytest.mark.parametrize(
    ("values", "where"), [(v, w) for _, v, w in BAD_VALUES], ids=[i for i, _, _ in BAD_VALUES]
)
def test_schema_rejects_bad_values(values: dict[str, Any], where: str) -> None:
    with pytest.raises(helm.HelmValuesError) as err:
        render(values)
    message = str(err.value)
    assert "values don't meet the specifications of the schema" in message
    assert where in message


def test_lint_reports_schema_violations_as_errors() -> None:
    report = helm.lint(chart_path(), {"agent": {"workers": "two"}}, strict=True)
    errors = [m for m in report["messages"] if m["severity"] == 3]
    assert any("/agent/workers" in m["error"] for m in errors), report


def test_every_default_passes_the_schema() -> None:
    with helm.Chart.load(chart_path()) as chart:
        chart.validate_schema(chart.values)
        assert chart.schema is not None and chart.schema["additionalProperties"] is False


def _leaf_paths(node: Any, prefix: str = "") -> list[str]:
    if isinstance(node, dict) and node:
        return [
            p for k, v in node.items() for p in _leaf_paths(v, f"{prefix}.{k}" if prefix else k)
        ]
    return [prefix]


def documented_values(text: str) -> list[str]:
    """Dotted paths of the keys preceded by a `# --` comment (helm-docs style): each is one
    documented value, its children (a Kubernetes object such as `resources`) included."""
    paths: list[str] = []
    stack: list[tuple[int, str]] = []
    previous = ""
    for line in text.splitlines():
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        m = re.match(r"([A-Za-z_][\w.-]*):", stripped)
        if m and not stripped.startswith("- "):
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, m.group(1)))
            if previous.startswith("# --"):
                paths.append(".".join(k for _, k in stack))
        continues_comment = stripped.startswith("#") and previous.startswith("#")
        if (stripped and not continues_comment) or stripped.startswith("# --"):
            previous = stripped
    return paths


def test_every_value_is_commented() -> None:
    text = (chart_path() / "values.yaml").read_text()
    documented = documented_values(text)
    leaves = _leaf_paths(yaml.safe_load(text))
    missing = [p for p in leaves if not any(p == d or p.startswith(d + ".") for d in documented)]
    assert not missing, "values without a `# --` comment: " + ", ".join(missing)
    assert len(documented) > 60


def test_every_value_is_in_the_reference(repo_root: Any) -> None:
    documented = documented_values((chart_path() / "values.yaml").read_text())
    reference = (repo_root / "docs" / "reference" / "helm-values.md").read_text()
    absent = [p for p in documented if f"`{p}`" not in reference]
    assert not absent, absent


@pytest.mark.parametrize("toggle", sorted(TOGGLES))
def test_rendered_settings_load_in_the_collector(toggle: str) -> None:
    docs = documents(TOGGLES[toggle])
    for key in ("agent.yaml", "attributor.yaml"):
        parse_settings(settings_of(docs, key), origin=f"{toggle}:{key}")


def test_the_example_settings_render_and_load() -> None:
    """docs/reference/settings-example.yaml as chart values: the attributor gets it back."""
    example = yaml.safe_load(EXAMPLE_SETTINGS.read_text())
    config = {k: v for k, v in example.items() if k not in ("agent", "agents", "web")}
    config["store"] = {"retention_days": example["store"]["retention_days"]}
    config["api"] = {k: v for k, v in example["api"].items() if k != "listen"}
    agent = example["agent"]
    values = {
        "config": config,
        "agent": {"interfaces": agent["interfaces"], "traceIds": agent["trace_ids"]},
        "secrets": {"existingSecret": "e2e-energy-credentials"},
    }
    docs = documents(values)
    rendered = settings_of(docs, "attributor.yaml")
    settings = parse_settings(rendered, origin="attributor.yaml")
    assert [n.name for n in settings.nfs] == [n["name"] for n in example["nfs"]]
    assert settings.agents.kubernetes is not None
    assert settings.agents.kubernetes.service == "e2e-e2e-energy-agent"
    agent_settings = parse_settings(settings_of(docs, "agent.yaml"), origin="agent.yaml").agent
    assert [i.name for i in agent_settings.interfaces] == [i["name"] for i in agent["interfaces"]]
