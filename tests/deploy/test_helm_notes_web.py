"""The chart's NOTES.txt with `web.tls`/`web.auth` set (issue 14): the commands it prints reach
the attributor over HTTPS with the credentials. Rendered by the real Helm engine; the commands run
in bash with real curl against the real attributor, started with the `web:` block the chart
rendered. No Kubernetes API server runs here: `kubectl get secret` is stood in for by a shell
function that prints a key of the Secret from a directory laid out as the kubelet mounts it, and
`kubectl port-forward` by the attributor listening on the loopback."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.attribution.test_attributor_cli import _start, _stop
from tests.conftest import need_binary, need_module
from tests.helmchart import TOGGLES, documents, render, settings_of
from tests.pki import Pki

helm = need_module("helm_python")
NOTES = "e2e-energy/templates/NOTES.txt"
COMMANDS = ("kubectl ", "curl ", "TOKEN=", "PASSWORD=")
"""How the lines to type begin (the others are comments and prose)."""
KUBECTL = r"""
kubectl() {  # get secret NAME -o jsonpath='{.data.KEY}': that key, base64, as the API serves it
  local name="" jp=""
  while [ $# -gt 0 ]; do
    case "$1" in secret) name="$2"; shift ;; -o) jp="$2"; shift ;; esac; shift
  done
  [ -n "$name" ] || return 0  # port-forward: the attributor listens on the loopback already
  jp="${jp#jsonpath=}"; local key="${jp#\{.data.}"; key="${key%\}}"; key="${key//\\./.}"
  base64 -w0 "$SECRETS/$name/$key"
}
"""


def _attributor_block(notes: str) -> list[str]:
    lines = notes.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("The attributor serves"))
    block = []
    for line in lines[first + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line.strip())
    return block


def test_plain_notes_print_http_without_credentials() -> None:
    block = _attributor_block(render({})[NOTES])
    assert any(line.startswith("curl http://127.0.0.1:8080/metrics") for line in block)
    assert not any("Authorization" in line or "secret" in line for line in block)


@pytest.mark.parametrize("variant", ["mtls-bearer", "tls-basic"])
def test_the_notes_commands_reach_the_attributor_with_tls_and_auth(
    tmp_path: Path, variant: str
) -> None:
    need_binary("curl")
    need_binary("base64")
    pki = Pki(tmp_path)
    release, namespace = "e2e", "energy"
    service = f"{release}-e2e-energy-attributor.{namespace}.svc"
    server = pki.issue("attributor", out=tmp_path / "issued", names=(service,))
    client = pki.issue("prometheus", server=False)
    secrets = tmp_path / "secrets"
    tls_dir, auth_dir = secrets / "e2e-tls", secrets / "scrape"
    tls_dir.mkdir(parents=True)
    auth_dir.mkdir()
    (tls_dir / "tls.crt").write_bytes(server.cert.read_bytes())
    (tls_dir / "tls.key").write_bytes(server.key.read_bytes())
    (tls_dir / "ca.crt").write_bytes(pki.ca.read_bytes())
    (auth_dir / "token").write_text("scrape-" + "t" * 32)
    (auth_dir / "password").write_text("s3cret-" + "p" * 20)
    tls: dict[str, Any] = {"enabled": True, "existingSecret": "e2e-tls",
                           "mountPath": str(tls_dir)}  # fmt: skip
    auth: dict[str, Any] = {"existingSecret": "scrape", "mountPath": str(auth_dir)}
    if variant == "mtls-bearer":
        tls |= {"clientCAKey": "ca.crt", "clientAuth": "require"}
        auth |= {"bearerTokenKey": "token"}
    else:
        auth |= {"basicAuthUsername": "prometheus"}
    values = {"web": {"tls": tls, "auth": auth}}
    web = settings_of(documents(values), "attributor.yaml")["web"]
    config = tmp_path / "attributor.yaml"
    config.write_text(yaml.safe_dump({"window_seconds": 1, "max_gap_seconds": 3, "web": web,
                                      "nfs": [{"name": "ru1", "role": "ru", "node_id": 1}]}))  # fmt: skip
    args = ["--config", str(config), "--store", str(tmp_path / "s.sqlite"),
            "--listen", "127.0.0.1:0", "--settle-seconds", "0.2"]  # fmt: skip
    proc, url = _start(args, tmp_path / "attributor.log")
    try:
        port = int(url.rsplit(":", 1)[1])
        notes = render({**values, "attributor": {"port": port}}, name=release,
                       namespace=namespace)[NOTES]  # fmt: skip
        block = _attributor_block(notes)
        (curl,) = [line for line in block if line.startswith("curl ")]
        assert f"https://{service}:{port}/metrics" in curl
        if variant == "mtls-bearer":
            assert "--cert client.crt --key client.key" in curl and "Bearer $TOKEN" in curl
        else:
            assert '-u "prometheus:$PASSWORD"' in curl and "--cert" not in curl
        work = tmp_path / "work"
        work.mkdir()
        (work / "client.crt").write_bytes(client.cert.read_bytes())
        (work / "client.key").write_bytes(client.key.read_bytes())
        script = "\n".join(["set -euo pipefail", KUBECTL,
                            'curl() { command curl -fsS "$@"; }',  # an HTTP error fails
                            *(line for line in block if line.startswith(COMMANDS))])  # fmt: skip
        script = script.replace("| grep e2e_energy_app_joules_total", "| grep e2e_energy_build")
        done = subprocess.run(["bash", "-c", script], cwd=work, capture_output=True, text=True,
                              env={"SECRETS": str(secrets), "PATH": "/usr/bin:/bin"})  # fmt: skip
        assert done.returncode == 0, (script, done.stderr)
        assert "e2e_energy_build_info" in done.stdout
        # the credentials are what let it in: without them the same command is refused
        bare = script.replace("Bearer $TOKEN", "Bearer wrong").replace(":$PASSWORD", ":wrong")
        refused = subprocess.run(["bash", "-c", bare], cwd=work, capture_output=True, text=True,
                                 env={"SECRETS": str(secrets), "PATH": "/usr/bin:/bin"})  # fmt: skip
        assert refused.returncode != 0 and "401" in refused.stderr
    finally:
        _stop(proc)


def test_the_agents_are_said_to_serve_https_too() -> None:
    notes = render(TOGGLES["web-mtls-auth"])[NOTES]
    assert "agents serve their /metrics over HTTPS too, with the same credentials" in notes
