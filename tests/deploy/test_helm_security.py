"""Security properties of every rendering: capabilities, users, RBAC and credentials."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.conftest import need_module
from tests.helmchart import TOGGLES, containers, documents, of_kind, one, render, settings_of

helm = need_module("helm_python")

WORKLOADS = ("DaemonSet", "Deployment")
SECRET_KEYS = ("token", "password", "community", "auth_key", "priv_key")


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: documents(values) for name, values in TOGGLES.items()}


def _component(doc: dict[str, Any]) -> str:
    return str(doc["metadata"]["labels"]["app.kubernetes.io/component"])


@pytest.mark.parametrize("toggle", sorted(TOGGLES))
def test_containers_are_locked_down(toggle: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered[toggle]
    agent = TOGGLES[toggle].get("agent", {})
    engine, promiscuous = agent.get("engine", "auto"), agent.get("promiscuous", False)
    ebpf = {"BPF", "PERFMON", "NET_ADMIN"} if engine != "afpacket" else set()
    afpacket = {"NET_RAW"} | ({"NET_ADMIN"} if promiscuous else set())
    for doc in (d for d in docs if d["kind"] in WORKLOADS):
        pod = doc["spec"]["template"]["spec"]
        assert not pod.get("hostPID") and not pod.get("hostIPC")
        assert all("hostPath" not in v for v in pod.get("volumes", []))
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in containers(doc):
            sc = c["securityContext"]
            assert sc.get("privileged", False) is False
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"]["drop"] == ["ALL"]
            added = set(sc["capabilities"].get("add", []))
            if _component(doc) == "agent":
                assert added == ebpf | (afpacket if engine != "ebpf" else set()), toggle
                assert len(added) == len(sc["capabilities"]["add"])  # no capability twice
            else:
                assert added == set()


@pytest.mark.parametrize("toggle", sorted(TOGGLES))
def test_only_the_agent_touches_the_host(
    toggle: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    for doc in (d for d in rendered[toggle] if d["kind"] in WORKLOADS):
        pod = doc["spec"]["template"]["spec"]
        if _component(doc) == "agent":
            assert pod["hostNetwork"] is True
            # Root only for the added capability; said explicitly rather than by omission.
            assert containers(doc)[0]["securityContext"]["runAsUser"] == 0
        else:
            assert not pod.get("hostNetwork")
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["runAsUser"] != 0
            assert all(c["securityContext"]["runAsNonRoot"] is True for c in containers(doc))


def _rules(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (d["kind"], r) for d in docs if d["kind"] in ("Role", "ClusterRole") for r in d["rules"]
    ]


@pytest.mark.parametrize("toggle", sorted(TOGGLES))
def test_rbac_is_read_only_discovery(
    toggle: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    allowed = {("discovery.k8s.io", "endpointslices"), ("", "pods")}
    for _, rule in _rules(rendered[toggle]):
        assert set(rule["verbs"]) <= {"get", "list", "watch"}, rule
        assert "resourceNames" not in rule
        for group in rule["apiGroups"]:
            for res in rule["resources"]:
                assert (group, res) in allowed, (group, res)


def test_agents_are_found_through_endpointslices_only(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """collector/kube.py reads discovery.k8s.io/v1 EndpointSlices; v1 Endpoints is deprecated."""
    grants = {
        (group, res)
        for _, rule in _rules(rendered["default"])
        for group in rule["apiGroups"]
        for res in rule["resources"]
    }
    assert grants == {("discovery.k8s.io", "endpointslices")}


def test_pod_access_only_where_apps_are_discovered(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    def pod_grants(docs: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
        return [
            (d["kind"], d["metadata"].get("namespace"))
            for d in docs
            if d["kind"] in ("Role", "ClusterRole")
            and any("pods" in r["resources"] for r in d["rules"])
        ]

    assert pod_grants(rendered["default"]) == []
    assert pod_grants(rendered["apps-discovery-namespaced"]) == [("Role", "ai")]
    assert pod_grants(rendered["apps-discovery-cluster"]) == [("ClusterRole", None)]
    binding_places = sorted(
        (b["kind"], b["metadata"].get("namespace", ""))
        for d in ("apps-discovery-namespaced", "apps-discovery-cluster")
        for b in rendered[d]
        if "Binding" in b["kind"] and "pods" in b["roleRef"]["name"]
    )
    assert binding_places == [("ClusterRoleBinding", ""), ("RoleBinding", "ai")]
    assert not of_kind(rendered["default"], "ClusterRole")


def test_agent_has_no_api_token(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["default"]
    assert (
        one(docs, "DaemonSet")["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    )
    assert one(docs, "ServiceAccount", "agent")["automountServiceAccountToken"] is False
    sa_names = {b["subjects"][0]["name"] for b in of_kind(docs, "RoleBinding")}
    assert sa_names == {one(docs, "ServiceAccount", "attributor")["metadata"]["name"]}


@pytest.mark.parametrize("toggle", ["secret-create", "everything-on", "api-token"])
def test_no_secret_in_config_maps(toggle: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    secret_values = set(TOGGLES[toggle].get("secrets", {}).get("data", {}).values())
    for cm in of_kind(rendered[toggle], "ConfigMap"):
        text = yaml.safe_dump(cm)
        assert not any(v in text for v in secret_values), cm["metadata"]["name"]
        for key in SECRET_KEYS:
            assert f"\n{key}:" not in "\n" + text.replace(" ", ""), (cm["metadata"]["name"], key)
    for secret in of_kind(rendered[toggle], "Secret"):
        assert set(secret["stringData"].values()) == secret_values


def test_credentials_go_by_file_reference() -> None:
    values = {
        "secrets": {"existingSecret": "pdu"},
        "config": {
            "sources": [
                {
                    "name": "ran-pdu",
                    "kind": "snmp",
                    "address": "192.0.2.5:161",
                    "community_file": "/etc/e2e-energy/secrets/snmp-community",
                }
            ]
        },
    }
    settings = settings_of(documents(values), "attributor.yaml")
    assert settings["sources"][0]["community_file"] == "/etc/e2e-energy/secrets/snmp-community"


@pytest.mark.parametrize(
    "values",
    [
        {
            "config": {
                "sources": [{"name": "p", "kind": "snmp", "address": "x", "community": "public"}]
            }
        },
        {
            "config": {
                "carbon": {
                    "zones": {
                        "de": {
                            "providers": [{"kind": "electricitymaps", "zone": "DE", "token": "abc"}]
                        }
                    }
                }
            }
        },
        {
            "config": {
                "sources": [{"name": "k", "kind": "kepler", "url": "http://k", "password": "pw"}]
            }
        },
    ],
    ids=["snmp-community", "em-token", "kepler-password"],
)
def test_schema_rejects_inline_credentials(values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmValuesError, match="'not' failed"):
        render(values)


def test_template_refuses_inline_credentials_the_schema_cannot_see() -> None:
    """The render-time guard covers settings the schema leaves open (here an NF entry)."""
    values = {"config": {"nfs": [{"name": "ru1", "role": "ru", "auth_key": "k3y"}]}}
    with pytest.raises(helm.HelmRenderError, match="inline credential"):
        render(values)


def test_attributor_meets_the_restricted_pod_security_standard(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """The fields the `restricted` profile checks (kubernetes.io/docs Pod Security Standards)."""
    for toggle, docs in rendered.items():
        for dep in of_kind(docs, "Deployment"):
            pod = dep["spec"]["template"]["spec"]
            for key in ("hostNetwork", "hostPID", "hostIPC"):
                assert not pod.get(key), (toggle, key)
            assert pod["securityContext"]["seccompProfile"]["type"] in (
                "RuntimeDefault",
                "Localhost",
            )
            for v in pod["volumes"]:
                assert set(v) - {"name"} <= {
                    "configMap",
                    "secret",
                    "emptyDir",
                    "persistentVolumeClaim",
                }
            for c in containers(dep):
                sc = c["securityContext"]
                assert sc["runAsNonRoot"] is True and sc["allowPrivilegeEscalation"] is False
                assert sc["capabilities"] == {"drop": ["ALL"]}
                assert not c.get("ports") or all("hostPort" not in p for p in c["ports"])
