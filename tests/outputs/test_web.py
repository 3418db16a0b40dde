"""The `web:` block on real servers: the attributor process (API and /metrics under uvicorn) and
the agent process (/metrics) over TLS with client certificates and basic or bearer auth, with
certificates made in the test. New in issue 14: every case here failed before it (plain HTTP
only, /metrics open, the API's token only on /v1)."""

from __future__ import annotations

import base64
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography import x509

from collector.settings import SettingsError, parse_settings
from tests.attribution.test_attributor_cli import _start, _stop
from tests.conftest import ROOT, need_root
from tests.pki import Issued, Pki

PASSWORD = "s3cret-pw"
TOKEN = "tok-" + "x" * 40


def client(pki: Pki, cert: Issued | None = None) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert.cert), str(cert.key))
    return httpx.Client(verify=ctx, timeout=10)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def served_serial(url: str, pki: Pki, cert: Issued) -> int:
    """The serial of the certificate the server presents in a new handshake."""
    host, port = url.removeprefix("https://").split("/")[0].rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    ctx.load_cert_chain(str(cert.cert), str(cert.key))
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)

    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def replace_atomically(src: Issued, dst: Issued) -> None:
    for a, b in ((src.key, dst.key), (src.cert, dst.cert)):
        tmp = b.with_suffix(".new")
        shutil.copyfile(a, tmp)
        tmp.rename(b)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, Pki, Issued, Issued, Path, Path]]:
    """The attributor serving HTTPS with required client certificates, basic and bearer auth."""
    pki = Pki(tmp_path)
    server = pki.issue("attributor", out=tmp_path / "tls")
    prometheus = pki.issue("prometheus", server=False)
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "window_seconds": 1,
                "max_gap_seconds": 3,
                "nfs": [{"name": "ru1", "role": "ru", "node_id": 1}],
                "web": {
                    "tls": {
                        "cert_file": str(server.cert),
                        "key_file": str(server.key),
                        "client_ca_file": str(pki.ca),
                    },
                    "basic_auth": {"username": "prometheus", "password_file": str(password_file)},
                    "bearer_token_file": str(token_file),
                },
            }
        )
    )
    args = ["--config", str(config), "--store", str(tmp_path / "s.sqlite"),
            "--listen", "127.0.0.1:0", "--settle-seconds", "0.2"]  # fmt: skip
    proc, url = _start(args, tmp_path / "attributor.log")
    try:
        yield url, pki, server, prometheus, password_file, token_file
    finally:
        _stop(proc)


def test_attributor_tls_mtls_and_auth(stack: tuple[str, Pki, Issued, Issued, Path, Path]) -> None:
    url, pki, _server, prometheus, _pw, _tok = stack
    assert url.startswith("https://")
    with client(pki, prometheus) as c:
        for path in ("/metrics", "/v1/nfs", "/openapi.json"):
            assert c.get(url + path, headers=basic("prometheus", PASSWORD)).status_code == 200
            assert c.get(url + path, headers=bearer(TOKEN)).status_code == 200
        assert "e2e_energy_build_info" in c.get(url + "/metrics", headers=bearer(TOKEN)).text
        for headers in (
            {},
            basic("prometheus", "wrong"),
            basic("someone", PASSWORD),
            bearer(TOKEN[:-1]),
            {"Authorization": "Bearer"},
            {"Authorization": "Basic not-base64!"},
            {"Authorization": f"Token {TOKEN}"},
        ):
            resp = c.get(url + "/metrics", headers=headers)
            assert resp.status_code == 401, headers
            assert "Basic" in resp.headers["www-authenticate"]
            assert "Bearer" in resp.headers["www-authenticate"]
        assert c.get(url + "/healthz").status_code == 200  # probes: public, still over TLS


def test_attributor_refuses_handshakes_without_a_trusted_client_certificate(
    stack: tuple[str, Pki, Issued, Issued, Path, Path], tmp_path: Path
) -> None:
    url, pki, _server, _prometheus, _pw, _tok = stack
    with client(pki) as c, pytest.raises(httpx.TransportError):
        c.get(url + "/healthz")
    stranger_ca = Pki(tmp_path, "stranger")
    stranger = stranger_ca.issue("mallory", server=False)
    with client(pki, stranger) as c, pytest.raises(httpx.TransportError):
        c.get(url + "/healthz")
    with pytest.raises(httpx.TransportError):
        httpx.get(url.replace("https://", "http://") + "/healthz", timeout=10)


def test_attributor_reloads_a_renewed_certificate_and_rotated_secrets(
    stack: tuple[str, Pki, Issued, Issued, Path, Path], tmp_path: Path
) -> None:
    url, pki, server, prometheus, password_file, token_file = stack
    assert served_serial(url, pki, prometheus) == server.serial
    renewed = pki.issue("attributor-renewed", out=tmp_path / "renewed")
    replace_atomically(renewed, server)
    deadline = time.monotonic() + 30
    while served_serial(url, pki, prometheus) != renewed.serial:
        assert time.monotonic() < deadline, "the renewed certificate was never served"
        time.sleep(0.3)
    password_file.write_text("rotated-pw")
    token_file.write_text("rotated-token")
    with client(pki, prometheus) as c:
        assert c.get(url + "/metrics", headers=basic("prometheus", "rotated-pw")).status_code == 200
        assert c.get(url + "/metrics", headers=basic("prometheus", PASSWORD)).status_code == 401
        assert c.get(url + "/metrics", headers=bearer("rotated-token")).status_code == 200
        token_file.unlink()  # a secret that vanished refuses; it never serves open
        assert c.get(url + "/metrics", headers=bearer("rotated-token")).status_code == 401


def test_agent_metrics_over_tls_with_bearer_auth(tmp_path: Path) -> None:
    """The real agent process, AF_PACKET on the loopback (root), /metrics over HTTPS with a
    client CA that verifies certificates when given, and a bearer token."""
    need_root()
    pki = Pki(tmp_path)
    server = pki.issue("agent", out=tmp_path / "tls")
    scraper = pki.issue("attributor", server=False)
    (tmp_path / "token").write_text(TOKEN)
    config = tmp_path / "agent.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "web": {
                    "tls": {"cert_file": str(server.cert), "key_file": str(server.key),
                            "client_ca_file": str(pki.ca), "client_auth": "verify_if_given"},
                    "bearer_token_file": str(tmp_path / "token"),
                }
            }
        )
    )  # fmt: skip
    cmd = [sys.executable, "-m", "collector", "agent", "--config", str(config),
           "--interface", "lo", "--engine", "afpacket", "--listen", "127.0.0.1:0"]  # fmt: skip
    log = tmp_path / "agent.log"
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, stderr=err, stdout=subprocess.DEVNULL)
    try:
        url = ""
        deadline = time.monotonic() + 30
        while not url and time.monotonic() < deadline:
            for line in log.read_text().splitlines():
                if "listening on " in line:
                    url = line.split("listening on ", 1)[1].split(",")[0]
            time.sleep(0.1)
        assert url.startswith("https://"), log.read_text()
        with client(pki, scraper) as c:
            resp = c.get(url, headers=bearer(TOKEN))
            assert resp.status_code == 200 and "e2e_energy_agent_packets_total" in resp.text
            assert c.get(url, headers=bearer("wrong")).status_code == 401
            assert c.get(url).status_code == 401
        with client(pki) as c:  # verify_if_given: no client certificate, the token decides
            assert c.get(url, headers=bearer(TOKEN)).status_code == 200
        with client(Pki(tmp_path, "other")) as c, pytest.raises(httpx.TransportError):
            c.get(url, headers=bearer(TOKEN))  # the scraper does not trust this server
    finally:
        _stop(proc)  # type: ignore[arg-type]


def test_web_settings_keep_secrets_out_of_reprs_and_errors(tmp_path: Path) -> None:
    web = {"bearer_token": TOKEN, "basic_auth": {"username": "u", "password": PASSWORD}}
    s = parse_settings({"web": web})
    assert TOKEN not in repr(s) and PASSWORD not in repr(s) and PASSWORD not in str(s.web)
    with pytest.raises(SettingsError) as err:
        parse_settings({"web": {"basic_auth": {"username": "u", "password": PASSWORD,
                                               "password_file": "/x"}}})  # fmt: skip
    assert "exactly one of password and password_file" in str(err.value)
    assert PASSWORD not in str(err.value)
    with pytest.raises(SettingsError, match=r"web\.tls\.key_file"):
        parse_settings({"web": {"tls": {"cert_file": "/x"}}})


def test_an_unreadable_certificate_is_a_named_error_at_start(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "nfs: [{name: ru1, role: ru, node_id: 1}]\n"
        f"web: {{tls: {{cert_file: {tmp_path}/none.crt, key_file: {tmp_path}/none.key}}}}\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "collector", "attributor", "--config", str(config), "--store",
         str(tmp_path / "s.sqlite"), "--listen", "127.0.0.1:0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode != 0
    assert "web.tls: cannot load the certificate or key" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_half_renewed_pair_keeps_the_served_certificate_working(tmp_path: Path) -> None:
    """A new certificate next to the old key (the key not yet renewed) is refused by the reload,
    and the context keeps serving the previous pair: handshakes still succeed with it. (Loading
    a mismatched pair into the live context dropped its key: every later handshake failed.)"""
    from collector.outputs.web import ServerTls
    from collector.settings import TlsServerSettings
    from tests.http_fixture import serve

    pki = Pki(tmp_path)
    first = pki.issue("first", out=tmp_path / "first")
    second = pki.issue("second", out=tmp_path / "second")
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    shutil.copy(first.cert, cert)
    shutil.copy(first.key, key)
    tls = ServerTls(TlsServerSettings(cert_file=cert, key_file=key))
    trust = ssl.create_default_context(cafile=str(pki.ca))

    def handshake_serial(url: str) -> int:
        host, port = url.removeprefix("https://").split(":")
        with (
            socket.create_connection((host, int(port)), timeout=10) as raw,
            trust.wrap_socket(raw, server_hostname=host) as conn,
        ):
            der = conn.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der).serial_number

    with serve(lambda _req: (200, b"ok", {}), tls=tls.context) as url:
        assert handshake_serial(url) == first.serial
        shutil.copy(second.cert, cert)  # the key file is still the first pair's
        assert tls.maybe_reload() is False
        assert handshake_serial(url) == first.serial
        shutil.copy(second.key, key)  # the pair is whole again
        assert tls.maybe_reload() is True
        assert handshake_serial(url) == second.serial
