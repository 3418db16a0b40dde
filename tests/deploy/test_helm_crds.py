"""Hand-written checks of the Prometheus Operator objects (no schema for them offline).

Field sets and required fields follow the monitoring.coreos.com/v1 API reference (ServiceMonitor,
PodMonitor, PrometheusRule), e.g. the OKD/OpenShift rendering of the CRDs at
docs.okd.io/latest/rest_api/monitoring_apis/. Unknown fields are rejected by the real CRDs'
structural schemas (pruned or refused), so a typo here would silently disable scraping.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import need_binary, need_module
from tests.helmchart import TOGGLES, documents, of_kind

need_module("helm_python")

DURATION = re.compile(
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
META = {"name", "namespace", "labels", "annotations"}
SELECTOR = {"matchLabels", "matchExpressions"}
NAMESPACE_SELECTOR = {"any", "matchNames"}
SERVICE_MONITOR_SPEC = {
    "attachMetadata", "bodySizeLimit", "endpoints", "jobLabel", "keepDroppedTargets",
    "labelLimit", "labelNameLengthLimit", "labelValueLengthLimit", "namespaceSelector",
    "podTargetLabels", "sampleLimit", "scrapeClass", "scrapeProtocols", "selector",
    "targetLabels", "targetLimit",
}  # fmt: skip
POD_MONITOR_SPEC = SERVICE_MONITOR_SPEC - {"endpoints", "targetLabels"} | {"podMetricsEndpoints"}
ENDPOINT = {
    "authorization", "basicAuth", "bearerTokenFile", "bearerTokenSecret", "enableHttp2",
    "filterRunning", "followRedirects", "honorLabels", "honorTimestamps", "interval",
    "metricRelabelings", "oauth2", "params", "path", "port", "proxyUrl", "relabelings", "scheme",
    "scrapeTimeout", "targetPort", "tlsConfig", "trackTimestampsStaleness",
}  # fmt: skip
POD_ENDPOINT = ENDPOINT - {"bearerTokenFile"} | {"portNumber"}
SECRET_KEY = {"name", "key", "optional"}
SAFE_TLS = {"ca", "cert", "keySecret", "serverName", "insecureSkipVerify", "minVersion",
            "maxVersion"}  # fmt: skip
TLS = SAFE_TLS | {"caFile", "certFile", "keyFile"}
RULE_GROUP = {
    "name",
    "labels",
    "interval",
    "rules",
    "partial_response_strategy",
    "limit",
    "query_offset",
}
RULE = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}

MONITOR_TOGGLES = [
    "service-monitor", "pod-monitor", "prometheus-rule", "everything-on", "web-tls",
    "web-mtls-auth", "web-basic-auth",
]  # fmt: skip


def _only(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(obj) - allowed
    assert not unknown, f"{where}: fields not in the CRD: {sorted(unknown)}"


def _labels(obj: dict[str, Any], where: str) -> None:
    for k, v in obj.items():
        assert isinstance(k, str) and isinstance(v, str), (
            f"{where}: label {k}={v!r} is not a string"
        )


def _check_endpoint(ep: dict[str, Any], allowed: set[str], where: str) -> None:
    _only(ep, allowed, where)
    assert isinstance(ep["port"], str) and ep["port"], f"{where}: port must name a port"
    assert ep.get("scheme", "http") in ("http", "https")
    assert ep.get("path", "/metrics").startswith("/")
    for key in ("interval", "scrapeTimeout"):
        if key in ep:
            assert DURATION.match(ep[key]), f"{where}.{key}: {ep[key]!r} is not a duration"
    assert isinstance(ep.get("honorLabels", False), bool)
    for relabel in ep.get("metricRelabelings", []):
        assert isinstance(relabel, dict)
    tls = ep.get("tlsConfig", {})
    _only(tls, TLS if allowed is ENDPOINT else SAFE_TLS, where + ".tlsConfig")
    for key in ("ca", "cert"):
        if key in tls:
            _only(tls[key], {"secret", "configMap"}, f"{where}.tlsConfig.{key}")
            for ref in tls[key].values():
                _only(ref, SECRET_KEY, f"{where}.tlsConfig.{key}")
    if "keySecret" in tls:
        _only(tls["keySecret"], SECRET_KEY, where + ".tlsConfig.keySecret")
    if "authorization" in ep:
        _only(ep["authorization"], {"type", "credentials"}, where + ".authorization")
        _only(ep["authorization"]["credentials"], SECRET_KEY, where + ".authorization")
    for part in ep.get("basicAuth", {}).values():
        _only(part, SECRET_KEY, where + ".basicAuth")
    assert ep.get("basicAuth", {}).keys() <= {"username", "password"}
    assert ("tlsConfig" in ep) == (ep.get("scheme") == "https"), f"{where}: https needs tlsConfig"


def check_monitor(doc: dict[str, Any]) -> None:
    kind, spec = doc["kind"], doc["spec"]
    where = f"{kind}/{doc['metadata']['name']}"
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    _only(doc["metadata"], META, where + ".metadata")
    _labels(doc["metadata"]["labels"], where)
    _only(
        spec,
        SERVICE_MONITOR_SPEC if kind == "ServiceMonitor" else POD_MONITOR_SPEC,
        where + ".spec",
    )
    _only(spec["selector"], SELECTOR, where + ".spec.selector")
    _labels(spec["selector"]["matchLabels"], where)
    _only(spec.get("namespaceSelector", {}), NAMESPACE_SELECTOR, where + ".spec.namespaceSelector")
    assert isinstance(spec.get("jobLabel", ""), str)
    key, allowed = (
        ("endpoints", ENDPOINT)
        if kind == "ServiceMonitor"
        else ("podMetricsEndpoints", POD_ENDPOINT)
    )
    assert spec[key], f"{where}: no {key}"
    for i, ep in enumerate(spec[key]):
        _check_endpoint(ep, allowed, f"{where}.spec.{key}[{i}]")


def check_prometheus_rule(doc: dict[str, Any]) -> None:
    where = f"PrometheusRule/{doc['metadata']['name']}"
    _only(doc["metadata"], META, where + ".metadata")
    _only(doc["spec"], {"groups"}, where + ".spec")
    names = [g["name"] for g in doc["spec"]["groups"]]
    assert len(names) == len(set(names)), "group names must be unique"
    for group in doc["spec"]["groups"]:
        _only(group, RULE_GROUP, f"{where}.{group['name']}")
        if "interval" in group:
            assert DURATION.match(group["interval"])
        for rule in group["rules"]:
            _only(rule, RULE, f"{where}.{group['name']}")
            assert ("record" in rule) != ("alert" in rule), rule
            assert isinstance(rule["expr"], str) and rule["expr"].strip()
            if "for" in rule:
                assert DURATION.match(rule["for"])
            _labels(rule.get("labels", {}), where)
            _labels(rule.get("annotations", {}), where)


@pytest.mark.parametrize("toggle", MONITOR_TOGGLES)
def test_operator_objects_match_their_crds(toggle: str) -> None:
    docs = documents(TOGGLES[toggle])
    checked = 0
    for doc in of_kind(docs, "ServiceMonitor") + of_kind(docs, "PodMonitor"):
        check_monitor(doc)
        checked += 1
    for doc in of_kind(docs, "PrometheusRule"):
        check_prometheus_rule(doc)
        checked += 1
    assert checked


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["spec"]["endpoints"][0].update(intervall="15s"), "fields not in the CRD"),
        (lambda d: d["spec"]["endpoints"][0].update(interval="15 s"), "is not a duration"),
        (lambda d: d["spec"]["endpoints"][0].update(port=9470), "must name a port"),
        (lambda d: d["spec"].update(selectors={}), "fields not in the CRD"),
        (lambda d: d["metadata"]["labels"].update(release=True), "is not a string"),
        (lambda d: d["spec"]["endpoints"][0].update(tlsConfig={"ca_file": "x"}), "not in the CRD"),
        (lambda d: d["spec"]["endpoints"][0].update(scheme="https"), "https needs tlsConfig"),
    ],
    ids=["typo", "duration", "port-number", "spec-typo", "label-type", "tls-typo", "no-tls"],
)
def test_checks_catch_broken_monitors(mutate: Any, message: str) -> None:
    (doc, _) = of_kind(documents(TOGGLES["service-monitor"]), "ServiceMonitor")
    mutate(doc)
    with pytest.raises(AssertionError, match=message):
        check_monitor(doc)


def test_rendered_rule_loads_in_promtool(tmp_path: Path) -> None:
    """The PrometheusRule's spec is a rules file Prometheus itself accepts."""
    promtool = need_binary("promtool")
    (rule,) = of_kind(documents(TOGGLES["prometheus-rule"]), "PrometheusRule")
    path = tmp_path / "rendered-rules.yaml"
    path.write_text(yaml.safe_dump(rule["spec"]))
    proc = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    count = sum(len(g["rules"]) for g in rule["spec"]["groups"])
    assert f"SUCCESS: {count} rules found" in proc.stdout
