"""The chart renders, lints and validates with the real Helm engine for every toggle."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.conftest import need_module
from tests.helmchart import (
    CRD_KINDS,
    NAMESPACE,
    TOGGLES,
    chart_path,
    containers,
    documents,
    of_kind,
    one,
    settings_of,
)

helm = need_module("helm_python")
kubernetes_validate = need_module("kubernetes_validate")

KUBE_VERSIONS = ["1.28.0", "1.29.0", "1.30.0", "1.31.0", "1.32.0", "1.33.0"]
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: documents(values) for name, values in TOGGLES.items()}


@pytest.mark.parametrize("toggle", sorted(TOGGLES))
def test_every_object_is_named_and_labelled(
    toggle: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    docs = rendered[toggle]
    assert docs, "nothing rendered"
    for doc in docs:
        meta = doc["metadata"]
        assert DNS_LABEL.match(meta["name"]) and len(meta["name"]) <= 63, meta["name"]
        assert meta["labels"]["app.kubernetes.io/instance"] == "e2e"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    keys = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys)), "two objects share a kind and name"


@pytest.mark.parametrize("toggle", sorted(TOGGLES))
def test_lint_strict_has_no_errors_or_warnings(toggle: str) -> None:
    report = helm.lint(chart_path(), TOGGLES[toggle], strict=True, kube_version="v1.30.0")
    bad = [m for m in report["messages"] if m["severity"] >= 2]
    assert not bad and not report["errors"], bad or report["errors"]


@pytest.fixture(scope="module")
def distinct_objects(
    rendered: dict[str, list[dict[str, Any]]],
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each distinct non-CRD object once (toggles share most objects), keyed by its YAML."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for toggle, docs in rendered.items():
        for doc in docs:
            if doc["kind"] not in CRD_KINDS:  # no schema here: tests/deploy/test_helm_crds.py checks them
                out.setdefault(yaml.safe_dump(doc, sort_keys=True), (toggle, doc))
    return out


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_manifests_validate_strictly(
    version: str, distinct_objects: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    for toggle, doc in distinct_objects.values():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{toggle}: {doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    assert len(distinct_objects) > 40


def test_validator_catches_a_broken_manifest(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Guards the test above: an unknown field must fail strict validation."""
    ds = one(rendered["default"], "DaemonSet")
    ds["spec"]["template"]["spec"]["containers"][0]["privilegedd"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(ds, "1.30.0", strict=True)


def test_client_dry_run_install_matches_render() -> None:
    cfg = helm.Config(namespace=NAMESPACE, storage_driver="memory")
    manifest = cfg.install(chart_path(), "e2e", {}, dry_run="client")["manifest"]
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(manifest) if d)
    assert kinds == sorted(d["kind"] for d in documents({}))


def test_default_objects(rendered: dict[str, list[dict[str, Any]]]) -> None:
    kinds = sorted({d["kind"] for d in rendered["default"]})
    assert kinds == [
        "ConfigMap",
        "DaemonSet",
        "Deployment",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
    ]
    assert not of_kind(rendered["default"], "Secret")
    dashboards = [
        d
        for d in of_kind(rendered["default"], "ConfigMap")
        if "grafana_dashboard" in d["metadata"]["labels"]
    ]
    assert len(dashboards) == 3


def test_agent_daemonset(rendered: dict[str, list[dict[str, Any]]]) -> None:
    ds = one(rendered["default"], "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert pod["automountServiceAccountToken"] is False
    (agent,) = containers(ds)
    assert agent["args"] == ["agent", "--config", "/etc/e2e-energy/agent.yaml"]
    env = {e["name"]: e for e in agent["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert agent["resources"]["limits"] and agent["resources"]["requests"]
    assert agent["ports"][0]["containerPort"] == 9470
    svc = one(rendered["default"], "Service", "agent")
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"] == ds["spec"]["selector"]["matchLabels"]


def test_edge_scheduling_and_interfaces(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["edge-scheduling"]
    pod = one(docs, "DaemonSet")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"node-role.kubernetes.io/edge": "", "kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "ran"
    assert pod["priorityClassName"] == "system-node-critical"
    agent = settings_of(docs, "agent.yaml")["agent"]
    assert agent["interfaces"] == [
        {"name": "n3", "direction": "uplink"},
        {"name": "n6", "direction": "downlink"},
    ]
    assert (agent["workers"], agent["sample"]) == (4, 10)


def test_attributor_deployment(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["default"]
    dep = one(docs, "Deployment")
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    (c,) = containers(dep)
    assert c["args"] == ["attributor", "--config", "/etc/e2e-energy/attributor.yaml"]
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    pvc = one(docs, "PersistentVolumeClaim")
    assert vols["store"]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    svc = one(docs, "Service", "attributor")
    assert svc["spec"]["ports"][0]["port"] == 8080
    settings = settings_of(docs, "attributor.yaml")
    assert settings["agents"] == {
        "kubernetes": {
            "namespace": NAMESPACE,
            "service": one(docs, "Service", "agent")["metadata"]["name"],
            "port": 9470,
        }
    }
    assert settings["store"]["path"].startswith("/var/lib/e2e-energy/")


def test_persistence_toggles(rendered: dict[str, list[dict[str, Any]]]) -> None:
    off = rendered["persistence-off"]
    assert not of_kind(off, "PersistentVolumeClaim")
    vols = {v["name"]: v for v in one(off, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in vols["store"]
    existing = rendered["existing-claim"]
    assert not of_kind(existing, "PersistentVolumeClaim")
    vols = {
        v["name"]: v for v in one(existing, "Deployment")["spec"]["template"]["spec"]["volumes"]
    }
    assert vols["store"]["persistentVolumeClaim"]["claimName"] == "my-store"


@pytest.mark.parametrize(
    ("toggle", "secret_name"),
    [("secret-create", "e2e-e2e-energy-credentials"), ("existing-secret", "site-credentials")],
)
def test_credentials_are_mounted_from_secrets(
    toggle: str, secret_name: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    docs = rendered[toggle]
    created = of_kind(docs, "Secret")
    assert [s["metadata"]["name"] for s in created] == (
        [secret_name] if toggle == "secret-create" else []
    )
    dep = one(docs, "Deployment")
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert vols["credentials"]["secret"]["secretName"] == secret_name
    mounts = {m["name"]: m for m in containers(dep)[0]["volumeMounts"]}
    assert mounts["credentials"] == {
        "name": "credentials",
        "mountPath": "/etc/e2e-energy/secrets",
        "readOnly": True,
    }
    assert "credentials" not in str(one(docs, "DaemonSet")), "the agent needs no credentials"


def test_monitors_carry_the_release_label(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for toggle, kind in (
        ("service-monitor", "ServiceMonitor"),
        ("pod-monitor", "PodMonitor"),
        ("prometheus-rule", "PrometheusRule"),
    ):
        found = of_kind(rendered[toggle], kind)
        assert found, kind
        assert all(d["metadata"]["labels"]["release"] == "kps" for d in found)
    assert not any(of_kind(rendered["default"], k) for k in CRD_KINDS)


def test_monitors_select_the_component_services(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["service-monitor"]
    for component, port in (("agent", "metrics"), ("attributor", "http")):
        sm = one(docs, "ServiceMonitor", component)
        svc = one(docs, "Service", component)
        assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
        assert sm["spec"]["endpoints"][0]["port"] == port == svc["spec"]["ports"][0]["name"]
    docs = rendered["pod-monitor"]
    for component, port in (("agent", "metrics"), ("attributor", "http")):
        pm = one(docs, "PodMonitor", component)
        workload = one(docs, "DaemonSet" if component == "agent" else "Deployment")
        assert pm["spec"]["selector"]["matchLabels"] == workload["spec"]["selector"]["matchLabels"]
        assert (
            pm["spec"]["podMetricsEndpoints"][0]["port"]
            == containers(workload)[0]["ports"][0]["name"]
            == port
        )


def test_prometheus_rule_is_the_deploy_rules_file(
    rendered: dict[str, list[dict[str, Any]]], repo_root: Any
) -> None:
    rule = one(rendered["prometheus-rule"], "PrometheusRule")
    source = yaml.safe_load((repo_root / "deploy" / "prometheus" / "rules.yaml").read_text())
    assert rule["spec"] == source


def test_dashboards_for_the_grafana_sidecar(rendered: dict[str, list[dict[str, Any]]]) -> None:
    assert not [
        d
        for d in of_kind(rendered["dashboards-off"], "ConfigMap")
        if "grafana_dashboard" in d["metadata"]["labels"]
    ]
    cms = [
        d
        for d in of_kind(rendered["dashboards-elsewhere"], "ConfigMap")
        if d["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    assert len(cms) == 3
    for cm in cms:
        assert cm["metadata"]["namespace"] == "monitoring"
        assert cm["metadata"]["annotations"] == {"grafana_folder": "Energy"}
        (name,) = cm["data"]
        assert name.endswith(".json") and '"uid": "e2e-energy-' in cm["data"][name]


def test_network_policy(rendered: dict[str, list[dict[str, Any]]]) -> None:
    assert not of_kind(rendered["network-policy-off"], "NetworkPolicy")
    np = one(rendered["default"], "NetworkPolicy")
    dep = one(rendered["default"], "Deployment")
    assert np["spec"]["podSelector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    assert np["spec"]["policyTypes"] == ["Ingress"]
    assert np["spec"]["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
    np = one(rendered["egress-restricted"], "NetworkPolicy")
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
    cidrs = [p["ipBlock"]["cidr"] for r in np["spec"]["egress"] for p in r.get("to", [])]
    assert "10.0.0.0/16" in cidrs and "192.0.2.10/32" in cidrs
    np = one(rendered["ingress-from"], "NetworkPolicy")
    assert np["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }


def test_given_service_accounts_are_used(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["service-accounts-given"]
    assert not of_kind(docs, "ServiceAccount")
    assert one(docs, "DaemonSet")["spec"]["template"]["spec"]["serviceAccountName"] == "edge-agent"
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "attrib"
    assert one(docs, "RoleBinding")["subjects"][0]["name"] == "attrib"


def test_each_component_runs_its_own_image(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The agent and attributor images (the Dockerfile's two targets), by tag or digest."""
    ds, dep = (one(rendered["default"], k) for k in ("DaemonSet", "Deployment"))
    assert containers(ds)[0]["image"] == "ghcr.io/e2e-energy/e2e-energy-agent:0.1.0"
    assert containers(dep)[0]["image"] == "ghcr.io/e2e-energy/e2e-energy-attributor:0.1.0"
    ds, dep = (one(rendered["image-digest"], k) for k in ("DaemonSet", "Deployment"))
    assert containers(ds)[0]["image"] == "ghcr.io/e2e-energy/e2e-energy-agent@sha256:" + "ab" * 32
    assert containers(dep)[0]["image"] == "ghcr.io/e2e-energy/e2e-energy-attributor:1.2.3"
    for doc in (ds, dep):
        assert containers(doc)[0]["imagePullPolicy"] == "Always"
        assert doc["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    own = documents({"image": {"tag": "9"}, "attributor": {"image": {"tag": "8", "repository": "r/a"}}})
    assert containers(one(own, "Deployment"))[0]["image"] == "r/a:8"
    assert containers(one(own, "DaemonSet"))[0]["image"].endswith("e2e-energy-agent:9")


def test_disabled_components_render_nothing_of_theirs(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    assert not of_kind(rendered["agent-off"], "DaemonSet")
    assert [s["metadata"]["name"] for s in of_kind(rendered["agent-off"], "Service")] == [
        "e2e-e2e-energy-attributor"
    ]
    off = rendered["attributor-off"]
    for kind in ("Deployment", "PersistentVolumeClaim", "Role", "RoleBinding", "NetworkPolicy"):
        assert not of_kind(off, kind), kind
    assert not of_kind(rendered["rbac-off"], "Role")


def test_fullname_override_and_common_labels(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for doc in rendered["fullname-override"]:
        assert doc["metadata"]["name"].startswith("energy"), doc["metadata"]["name"]
        assert doc["metadata"]["labels"]["team"] == "ran"


def test_notes_warn_about_risky_choices() -> None:
    from tests.helmchart import render

    default = render({})["e2e-energy/templates/NOTES.txt"]
    assert "config.nfs is empty" in default
    assert "up0" not in default and "eth0 (uplink)" in default
    risky = render(
        {
            "serviceMonitor": {"enabled": True},
            "podMonitor": {"enabled": True},
            "attributor": {"persistence": {"enabled": False}},
        }
    )["e2e-energy/templates/NOTES.txt"]
    assert "scraped twice" in risky and "lost on restart" in risky
