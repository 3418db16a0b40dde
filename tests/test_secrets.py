"""Credentials never leave the request that needs them: a real run of the attributor and of
`sources probe`, with a known value in every secret setting (inline and through `*_file` keys),
against real servers that see the credentials and turn them down, so every source fails and
says why. The logs, the probe's report, every API response and /metrics, the settings' repr,
str and JSON dump and the settings errors are then searched for each value."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.settings import REVEAL_SECRETS, SettingsError, load_settings, read_secret
from tests.conftest import ROOT
from tests.http_fixture import request, serve
from tests.snmp_agents import snmpd

pytestmark = pytest.mark.slow
SECRETS = {  # setting -> a value that appears nowhere else
    "http-password": "s3cret-http-password-7f3a",
    "http-token-file": "s3cret-http-token-file-91c2",
    "kepler-token": "s3cret-kepler-token-0b4d",
    "community": "s3cret-community-55e1",
    "auth-key": "s3cret-auth-key-c0ffee",
    "priv-key-file": "s3cret-priv-key-file-d00d",
    "em-token": "s3cret-em-token-a1b2",
    "watttime-password": "s3cret-watttime-password-e5f6",
    "api-token-file": "s3cret-api-token-file-3c3c",
    "web-password": "s3cret-web-password-4e4e",
    "web-token": "s3cret-web-token-5f5f",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_doc(tmp: Path, http: str, snmp_port: int, api_port: int) -> dict[str, Any]:
    files = {}
    for key in ("http-token-file", "priv-key-file", "api-token-file"):
        files[key] = tmp / key
        files[key].write_text(SECRETS[key] + "\n")
    fast = {"interval_seconds": 1, "timeout_seconds": 1}
    return {
        "window_seconds": 2,
        "agents": {"urls": []},
        "sources": [
            {"name": "meter", "kind": "http_json", "url": f"{http}/meter", "power_path": "w",
             "username": "e2e", "password": SECRETS["http-password"], **fast},
            {"name": "bearer", "kind": "http_json", "url": f"{http}/bearer", "power_path": "w",
             "token_file": str(files["http-token-file"]), **fast},
            {"name": "kepler", "kind": "kepler", "url": f"{http}/kepler",
             "token": SECRETS["kepler-token"], **fast},
            {"name": "pdu-v2c", "kind": "snmp", "address": f"127.0.0.1:{snmp_port}",
             "community": SECRETS["community"], "profile": "apc_rpdu2_outlet",
             "retries": 0, **fast},
            {"name": "pdu-v3", "kind": "snmp", "address": f"127.0.0.1:{snmp_port}",
             "version": "3", "user": "u", "auth_key": SECRETS["auth-key"],
             "priv_key_file": str(files["priv-key-file"]), "profile": "apc_rpdu2_outlet",
             "retries": 0, **fast},
        ],
        "carbon": {
            "zones": {
                "z1": {"providers": [
                    {"kind": "electricitymaps", "zone": "DE", "url": f"{http}/em",
                     "token": SECRETS["em-token"], "timeout_seconds": 5, "ttl_seconds": 1},
                    {"kind": "static", "grams_per_kwh": 300},
                ]},
                "z2": {"providers": [
                    {"kind": "watttime", "region": "CAISO_NORTH", "url": f"{http}/wt",
                     "username": "e2e", "password": SECRETS["watttime-password"],
                     "timeout_seconds": 5, "ttl_seconds": 1},
                ]},
            }
        },
        "nfs": [{"name": "ru1", "role": "ru", "node_id": 1, "zone": "z1",
                 "power": {"source": "meter", "target": "0"}}],
        "apps": [{"name": "a", "traces": [{"namespace_id": 1, "trace_id": 1}]}],
        "store": {"path": str(tmp / "store.sqlite")},
        "api": {"listen": f"127.0.0.1:{api_port}", "token_file": str(files["api-token-file"])},
    }  # fmt: skip


def leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


def get(url: str, token: str | None = None) -> tuple[int, str]:
    status, body = request(url, headers={"Authorization": f"Bearer {token}"} if token else None,
                           timeout=10)  # fmt: skip
    return status, body.decode()


def test_no_secret_in_logs_reports_api_or_errors(tmp_path: Path) -> None:
    seen: list[str] = []  # what the servers were sent: proves the credentials were used

    def refuse(req: BaseHTTPRequestHandler) -> tuple[int, bytes, dict[str, str]]:
        seen.append(
            f"{req.path} {req.headers.get('Authorization', '')} {req.headers.get('auth-token', '')}"
        )
        return 401, b'{"error": "unauthorized"}', {"Content-Type": "application/json"}

    values = tmp_path / "values.json"
    values.write_text("{}")
    api_port = free_port()
    with serve(refuse) as http, snmpd(tmp_path, values) as snmp_port:
        doc = settings_doc(tmp_path, http, snmp_port, api_port)
        config = tmp_path / "settings.yaml"
        config.write_text(yaml.safe_dump(doc))
        py = [sys.executable, "-m", "collector"]
        probe = subprocess.run(
            [*py, "sources", "probe", "--config", str(config)],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        proc = subprocess.Popen(
            [*py, "attributor", "--config", str(config), "--settle-seconds", "1"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        responses = []
        try:
            base = f"http://127.0.0.1:{api_port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    get(f"{base}/healthz")
                    break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline
                    time.sleep(0.2)
            basic = base64.b64encode(f"e2e:{SECRETS['http-password']}".encode()).decode()
            wanted = (basic, *(SECRETS[k] for k in ("http-token-file", "kepler-token", "em-token")))
            while not all(any(w in s for s in seen) for w in wanted):  # every credential sent
                assert time.monotonic() < deadline + 60, sorted(set(seen))
                time.sleep(0.5)
            token = SECRETS["api-token-file"]
            down = (
                'e2e_energy_source_up{source="meter"} 0',
                'e2e_energy_source_up{source="pdu-v3"} 0',
            )
            # health is published with each window's snapshot: wait for one after the failures
            while not all(d in get(f"{base}/metrics", token)[1] for d in down):
                assert time.monotonic() < deadline + 90, "no window published the sources' health"
                time.sleep(0.5)
            for path in ("/healthz", "/readyz", "/metrics", "/v1/apps", "/v1/nfs", "/v1/sources",
                         "/openapi.json", "/v1/apps/a/totals"):  # fmt: skip
                responses.append(get(base + path, token))
            unauthorised = get(f"{base}/v1/apps", "wrong-token")
        finally:
            proc.terminate()
            log, _ = proc.communicate(timeout=30)
    assert unauthorised[0] == 401 and responses[2][0] == 200
    metrics = responses[2][1]
    assert 'e2e_energy_source_up{source="meter"} 0' in metrics  # every source did fail
    assert 'e2e_energy_source_up{source="pdu-v3"} 0' in metrics

    assert probe.returncode == 1  # every source down
    assert "meter" in probe.stdout + probe.stderr
    everything = {
        "attributor log": log,
        "probe stdout": probe.stdout,
        "probe stderr": probe.stderr,
        "api": json.dumps([*responses, unauthorised]),
    }
    for where, text in everything.items():
        assert not leaks(text), f"{where} shows {leaks(text)}"


def test_settings_never_show_their_secrets(tmp_path: Path) -> None:
    doc = settings_doc(tmp_path, "http://127.0.0.1:1", 1, 1)
    doc["web"] = {"bearer_token": SECRETS["web-token"],
                  "basic_auth": {"username": "p", "password": SECRETS["web-password"]}}  # fmt: skip
    config = tmp_path / "settings.yaml"
    config.write_text(yaml.safe_dump(doc))
    settings = load_settings(config)
    for text in (
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.model_dump()),
    ):
        assert not leaks(text), leaks(text)
    # an explicit opt-in hands them to a child process (the testbed does so)
    revealed = json.dumps(settings.model_dump(mode="json", context={REVEAL_SECRETS: True}))
    assert set(leaks(revealed)) == {k for k in SECRETS if not k.endswith("-file")}
    # the value is there for the request that needs it
    meter = settings.sources[0]
    assert read_secret(meter.password, meter.password_file, "x") == SECRETS["http-password"]  # type: ignore[union-attr]
    # a broken file next to a secret: the error names keys and files, not values
    doc["sources"][0]["timeout_seconds"] = "soon"
    doc["api"]["token"] = SECRETS["api-token-file"]
    config.write_text(yaml.safe_dump(doc))
    with pytest.raises(SettingsError) as err:
        load_settings(config)
    assert "sources.0" in str(err.value) and not leaks(str(err.value))
    missing = tmp_path / "absent"
    with pytest.raises(SettingsError) as err2:
        read_secret(None, missing, "api.token_file")
    assert str(missing) in str(err2.value)
