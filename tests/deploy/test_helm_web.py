"""The chart's `web` values (issue 14): TLS and auth for the agent's /metrics and the attributor's
API and /metrics from Secrets, rendered with the real Helm engine. TLS off renders as before; TLS
on mounts the Secrets read-only, points the settings' `web:` block at the mounted files, and
switches the probes and the Prometheus Operator monitors to HTTPS (with the scrape credentials
when auth is on). The last test starts the real attributor with the `web:` block the chart
rendered, its mount paths pointed at files made in the test."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from collector.settings import parse_settings
from tests.attribution.test_attributor_cli import _start, _stop
from tests.conftest import need_module
from tests.helmchart import TOGGLES, containers, documents, of_kind, one, settings_of
from tests.pki import Pki

helm = need_module("helm_python")

WORKLOADS = (("DaemonSet", "agent", "metrics"), ("Deployment", "attributor", "http"))


def _container(docs: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    (c,) = containers(one(docs, kind, component))
    return c


def _volumes(docs: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    spec = one(docs, kind, component)["spec"]["template"]["spec"]
    return {v["name"]: v for v in spec["volumes"]}


def _monitor_endpoints(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """component -> its one ServiceMonitor or PodMonitor endpoint."""
    out = {}
    for doc in of_kind(docs, "ServiceMonitor") + of_kind(docs, "PodMonitor"):
        key = "endpoints" if doc["kind"] == "ServiceMonitor" else "podMetricsEndpoints"
        (ep,) = doc["spec"][key]
        out[doc["metadata"]["labels"]["app.kubernetes.io/component"]] = ep
    assert set(out) == {"agent", "attributor"}
    return out


def _service_dns(docs: list[dict[str, Any]], component: str) -> str:
    svc = one(docs, "Service", component)["metadata"]
    return f"{svc['name']}.{svc['namespace']}.svc"


@pytest.mark.parametrize("toggle", ["default", "service-monitor", "pod-monitor"])
def test_tls_off_renders_plain_http_without_web_settings(toggle: str) -> None:
    docs = documents(TOGGLES[toggle])
    for key in ("agent.yaml", "attributor.yaml"):
        assert "web" not in settings_of(docs, key)
    for kind, component, _port in WORKLOADS:
        c = _container(docs, kind, component)
        for probe in ("readinessProbe", "livenessProbe"):
            assert "scheme" not in c[probe]["httpGet"]
        assert not {"web-tls", "web-auth"} & {m["name"] for m in c["volumeMounts"]}
        assert not {"web-tls", "web-auth"} & set(_volumes(docs, kind, component))
    if toggle != "default":
        for ep in _monitor_endpoints(docs).values():
            assert ep["scheme"] == "http"
            assert not {"tlsConfig", "authorization", "basicAuth"} & set(ep)
    assert _container(docs, "DaemonSet", "agent")["livenessProbe"]["httpGet"]["path"] == "/metrics"


def test_tls_on_mounts_the_secret_and_serves_https() -> None:
    values = TOGGLES["web-tls"]
    docs = documents(values)
    mount = "/etc/e2e-energy/tls"  # the default web.tls.mountPath
    for kind, component, port in WORKLOADS:
        c = _container(docs, kind, component)
        (m,) = [m for m in c["volumeMounts"] if m["name"] == "web-tls"]
        assert m == {"name": "web-tls", "mountPath": mount, "readOnly": True}  # no subPath: rotates
        vol = _volumes(docs, kind, component)["web-tls"]
        assert vol["secret"]["secretName"] == "e2e-tls"
        assert "web-auth" not in _volumes(docs, kind, component)
        for probe in ("readinessProbe", "livenessProbe"):
            assert c[probe]["httpGet"]["scheme"] == "HTTPS"
            assert c[probe]["httpGet"]["port"] == port
    for key in ("agent.yaml", "attributor.yaml"):
        web = parse_settings(settings_of(docs, key), origin=key).web
        assert web.tls is not None
        assert str(web.tls.cert_file) == f"{mount}/tls.crt"
        assert str(web.tls.key_file) == f"{mount}/tls.key"
        assert web.tls.client_ca_file is None
        assert not web.auth_required
    for component, ep in _monitor_endpoints(docs).items():
        assert ep["scheme"] == "https"
        assert ep["tlsConfig"] == {
            "ca": {"secret": {"name": "e2e-tls", "key": "ca.crt"}},
            "serverName": _service_dns(docs, component),
        }
        assert not {"authorization", "basicAuth"} & set(ep)


def test_mtls_and_auth_mount_both_secrets_and_monitors_carry_credentials() -> None:
    docs = documents(TOGGLES["web-mtls-auth"])
    for kind, component, port in WORKLOADS:
        c = _container(docs, kind, component)
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        assert mounts["web-auth"] == {
            "name": "web-auth", "mountPath": "/etc/e2e-energy/web-auth", "readOnly": True,
        }  # fmt: skip
        assert _volumes(docs, kind, component)["web-auth"]["secret"]["secretName"] == "scrape"
        for probe in ("readinessProbe", "livenessProbe"):
            # required client certificates: the kubelet has none, so only a TCP connection
            assert c[probe] | {"tcpSocket": {"port": port}} == c[probe]
            assert "httpGet" not in c[probe]
    for key in ("agent.yaml", "attributor.yaml"):
        web = parse_settings(settings_of(docs, key), origin=key).web
        assert web.tls is not None and str(web.tls.client_ca_file) == "/etc/e2e-energy/tls/ca.crt"
        assert web.tls.client_auth == "require"
        assert str(web.bearer_token_file) == "/etc/e2e-energy/web-auth/token"
        assert web.basic_auth is not None and web.basic_auth.username == "prometheus"
        assert str(web.basic_auth.password_file) == "/etc/e2e-energy/web-auth/password"
    for component, ep in _monitor_endpoints(docs).items():
        assert ep["scheme"] == "https"
        tls = ep["tlsConfig"]
        assert tls["serverName"] == _service_dns(docs, component)
        assert tls["ca"] == {"secret": {"name": "e2e-tls", "key": "ca.crt"}}
        assert tls["cert"] == {"secret": {"name": "prom-client", "key": "tls.crt"}}  # merged in
        assert tls["keySecret"] == {"name": "prom-client", "key": "tls.key"}
        assert ep["authorization"] == {
            "type": "Bearer", "credentials": {"name": "scrape", "key": "token"},
        }  # fmt: skip
        assert "basicAuth" not in ep


def test_basic_auth_alone_keeps_http_probes_on_public_paths() -> None:
    docs = documents(TOGGLES["web-basic-auth"])
    agent = _container(docs, "DaemonSet", "agent")
    for probe in ("readinessProbe", "livenessProbe"):
        assert agent[probe]["httpGet"]["path"] == "/healthz"  # /metrics would answer 401
        assert "scheme" not in agent[probe]["httpGet"]
    public = parse_settings(settings_of(docs, "agent.yaml"), origin="agent").web.public_paths
    assert "/healthz" in public
    attributor = _container(docs, "Deployment", "attributor")
    assert attributor["readinessProbe"]["httpGet"]["path"] in public
    for ep in _monitor_endpoints(docs).values():
        assert ep["scheme"] == "http"
        assert ep["basicAuth"] == {
            "username": {"name": "scrape", "key": "username"},
            "password": {"name": "scrape", "key": "password"},
        }


def test_verify_if_given_keeps_https_probes() -> None:
    docs = documents(TOGGLES["everything-on"])
    for kind, component, _port in WORKLOADS:
        c = _container(docs, kind, component)
        assert c["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"web": {"tls": {"enabled": True}}}, "web.tls.enabled needs web.tls.existingSecret"),
        ({"web": {"auth": {"existingSecret": "s"}}}, "needs web.auth.bearerTokenKey"),
        ({"web": {"auth": {"bearerTokenKey": "token"}}}, "need web.auth.existingSecret"),
        ({"web": {"tls": {"clientAuth": "optional"}}}, "/web/tls/clientAuth"),
        ({"web": {"tls": {"mountPath": "tls"}}}, "/web/tls/mountPath"),
        ({"web": {"tls": {"enable": True}}}, "enable"),
        ({"config": {"web": {"bearer_token_file": "/t"}}}, "'web' not allowed"),  # chart's own
    ],
    ids=["tls-without-secret", "auth-without-keys", "auth-keys-without-secret", "client-auth",
         "relative-mount", "typo", "config-web"],
)  # fmt: skip
def test_incomplete_web_values_fail_the_render(values: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        documents(values)


def test_the_rendered_web_block_starts_the_attributor_with_tls(tmp_path: Path) -> None:
    """The chart's `web:` block, with its mount paths pointed at directories laid out as the
    kubelet lays out a Secret (one file per key), serves the real attributor over HTTPS with
    client certificates and the bearer token, and the probe path without credentials."""
    pki = Pki(tmp_path)
    tls_dir, auth_dir = tmp_path / "tls", tmp_path / "web-auth"
    server = pki.issue("attributor", out=tmp_path / "issued")
    scraper = pki.issue("prometheus", server=False)
    tls_dir.mkdir()
    auth_dir.mkdir()
    (tls_dir / "tls.crt").write_bytes(server.cert.read_bytes())
    (tls_dir / "tls.key").write_bytes(server.key.read_bytes())
    (tls_dir / "ca.crt").write_bytes(pki.ca.read_bytes())
    token = "scrape-" + "t" * 32
    (auth_dir / "token").write_text(token)
    values = {
        "web": {
            "tls": {"enabled": True, "existingSecret": "e2e-tls", "clientCAKey": "ca.crt",
                    "clientAuth": "verify_if_given", "mountPath": str(tls_dir)},
            "auth": {"existingSecret": "scrape", "bearerTokenKey": "token",
                     "mountPath": str(auth_dir)},
        }
    }  # fmt: skip
    web = settings_of(documents(values), "attributor.yaml")["web"]
    config = tmp_path / "attributor.yaml"
    config.write_text(
        yaml.safe_dump(
            {"window_seconds": 1, "max_gap_seconds": 3, "web": web,
             "nfs": [{"name": "ru1", "role": "ru", "node_id": 1}]}
        )
    )  # fmt: skip
    args = ["--config", str(config), "--store", str(tmp_path / "s.sqlite"),
            "--listen", "127.0.0.1:0", "--settle-seconds", "0.2"]  # fmt: skip
    proc, url = _start(args, tmp_path / "attributor.log")
    try:
        assert url.startswith("https://")
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        with httpx.Client(verify=ctx, timeout=10) as c:  # as the kubelet: no certificate, no token
            assert c.get(url + "/healthz").status_code == 200
            assert c.get(url + "/metrics").status_code == 401
        ctx.load_cert_chain(str(scraper.cert), str(scraper.key))
        with httpx.Client(verify=ctx, timeout=10) as c:  # as the ServiceMonitor
            resp = c.get(url + "/metrics", headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 200 and "e2e_energy_build_info" in resp.text
    finally:
        _stop(proc)
