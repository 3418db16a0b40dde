"""Rendering the chart with the real Helm engine (helm-python-sdk), shared by the chart tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

CHART = ROOT / "helm" / "e2e-energy"
RELEASE = "e2e"
NAMESPACE = "energy"

# Every toggle of the chart, each alone on top of the defaults (plus one with everything on).
TOGGLES: dict[str, dict[str, Any]] = {
    "default": {},
    "agent-off": {"agent": {"enabled": False}},
    "attributor-off": {"attributor": {"enabled": False}},
    "promiscuous": {"agent": {"promiscuous": True}},
    "engine-ebpf": {"agent": {"engine": "ebpf"}},
    "engine-afpacket": {"agent": {"engine": "afpacket"}},
    "engine-afpacket-promiscuous": {"agent": {"engine": "afpacket", "promiscuous": True}},
    "persistence-off": {"attributor": {"persistence": {"enabled": False}}},
    "existing-claim": {"attributor": {"persistence": {"existingClaim": "my-store"}}},
    "secret-create": {"secrets": {"create": True, "data": {"snmp-community": "c0mmunity"}}},
    "existing-secret": {"secrets": {"existingSecret": "site-credentials"}},
    "service-monitor": {"serviceMonitor": {"enabled": True, "labels": {"release": "kps"}}},
    "pod-monitor": {"podMonitor": {"enabled": True, "labels": {"release": "kps"}}},
    "prometheus-rule": {"prometheusRule": {"enabled": True, "labels": {"release": "kps"}}},
    "dashboards-off": {"dashboards": {"enabled": False}},
    "dashboards-elsewhere": {"dashboards": {"namespace": "monitoring", "folder": "Energy"}},
    "network-policy-off": {"networkPolicy": {"enabled": False}},
    "egress-restricted": {
        "networkPolicy": {
            "egress": {
                "enabled": True,
                "agentCidrs": ["10.0.0.0/16"],
                "extra": [
                    {
                        "to": [{"ipBlock": {"cidr": "192.0.2.10/32"}}],
                        "ports": [{"port": 161, "protocol": "UDP"}],
                    }
                ],
            }
        }
    },
    "ingress-from": {
        "networkPolicy": {
            "ingressFrom": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                    }
                }
            ]
        }
    },
    "rbac-off": {"rbac": {"create": False}},
    "apps-discovery-namespaced": {
        "config": {"apps_kubernetes": {"annotation": "e2e-energy.io/trace-id", "namespace": "ai"}}
    },
    "apps-discovery-cluster": {
        "config": {"apps_kubernetes": {"annotation": "e2e-energy.io/trace-id"}}
    },
    "service-accounts-given": {
        "agent": {"serviceAccount": {"create": False, "name": "edge-agent"}},
        "attributor": {"serviceAccount": {"create": False, "name": "attrib"}},
    },
    "image-digest": {
        "agent": {"image": {"digest": "sha256:" + "ab" * 32}},
        "image": {"tag": "1.2.3", "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "regcred"}],
    },
    "edge-scheduling": {
        "agent": {
            "nodeSelector": {"node-role.kubernetes.io/edge": ""},
            "tolerations": [{"key": "ran", "operator": "Exists", "effect": "NoSchedule"}],
            "priorityClassName": "system-node-critical",
            "interfaces": [
                {"name": "n3", "direction": "uplink"},
                {"name": "n6", "direction": "downlink"},
            ],
            "workers": 4,
            "sample": 10,
        }
    },
    "api-token": {
        "secrets": {"existingSecret": "api"},
        "config": {"api": {"token_file": "/etc/e2e-energy/secrets/api-token"}},
    },
    "fullname-override": {"fullnameOverride": "energy", "commonLabels": {"team": "ran"}},
    "web-tls": {
        "web": {"tls": {"enabled": True, "existingSecret": "e2e-tls"}},
        "serviceMonitor": {"enabled": True},
    },
    "web-mtls-auth": {
        "web": {
            "tls": {"enabled": True, "existingSecret": "e2e-tls", "clientCAKey": "ca.crt"},
            "auth": {
                "existingSecret": "scrape",
                "bearerTokenKey": "token",
                "basicAuthUsername": "prometheus",
            },
            "monitor": {
                "tlsConfig": {
                    "cert": {"secret": {"name": "prom-client", "key": "tls.crt"}},
                    "keySecret": {"name": "prom-client", "key": "tls.key"},
                }
            },
        },
        "podMonitor": {"enabled": True},
    },
    "web-basic-auth": {
        "web": {"auth": {"existingSecret": "scrape", "basicAuthUsername": "prometheus"}},
        "serviceMonitor": {"enabled": True},
    },
}
TOGGLES["everything-on"] = {
    "agent": {"promiscuous": True},
    "secrets": {"create": True, "data": {"api-token": "t0ken"}},
    "serviceMonitor": {"enabled": True, "labels": {"release": "kps"}},
    "podMonitor": {"enabled": True, "labels": {"release": "kps"}},
    "prometheusRule": {"enabled": True, "labels": {"release": "kps"}},
    "networkPolicy": {"egress": {"enabled": True}},
    "config": {"apps_kubernetes": {"annotation": "e2e-energy.io/trace-id"}},
    "web": {
        "tls": {
            "enabled": True,
            "existingSecret": "e2e-tls",
            "clientCAKey": "ca.crt",
            "clientAuth": "verify_if_given",
        },
        "auth": {"existingSecret": "scrape", "bearerTokenKey": "token"},
    },
}

CRD_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


def render(values: dict[str, Any] | None = None, **kw: Any) -> dict[str, str]:
    """{template path: YAML} exactly as `helm template` would produce it."""
    import helm_python as helm

    with helm.Chart.load(CHART) as chart:
        out: dict[str, str] = chart.render(
            copy.deepcopy(values or {}),
            name=kw.get("name", RELEASE),
            namespace=kw.get("namespace", NAMESPACE),
        )
    return out


def documents(values: dict[str, Any] | None = None, **kw: Any) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders (NOTES.txt and empty documents left out)."""
    docs: list[dict[str, Any]] = []
    for path, text in sorted(render(values, **kw).items()):
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, component: str | None = None) -> dict[str, Any]:
    found = [
        d
        for d in of_kind(docs, kind)
        if component is None
        or d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
    ]
    assert len(found) == 1, f"expected one {kind} {component or ''}, got {len(found)}"
    return found[0]


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def settings_of(docs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """A settings file the chart put in its ConfigMap (agent.yaml or attributor.yaml)."""
    cms = [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-settings")]
    assert len(cms) == 1
    data: dict[str, Any] = yaml.safe_load(cms[0]["data"][key])
    return data


def chart_path() -> Path:
    return CHART
