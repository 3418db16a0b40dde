"""The shared HTTP helper over real TLS: CA file, explicit insecure, basic auth, bearer token."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from collector.power.pdu_http import HttpPlugReader
from collector.settings import ShellySource
from tests.http_fixture import serve
from tests.runtime import read_once

SHELLY = b'{"apower": 3.5, "aenergy": {"total": 10.0}}'


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_and_auth(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    seen: list[str] = []

    def handler(req: BaseHTTPRequestHandler) -> tuple[int, bytes, dict[str, str]]:
        auth = req.headers.get("Authorization", "")
        seen.append(auth)
        if auth not in ("Bearer s3cret", "Basic dTpw"):
            return 401, b"{}", {}
        return 200, SHELLY, {"Content-Type": "application/json"}

    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    with serve(handler, tls=ctx) as base:
        assert base.startswith("https://")

        def read(**kw: object) -> object:
            s = ShellySource(name="p", kind="shelly", url=base, timeout_seconds=3, **kw)
            return read_once(HttpPlugReader(s))

        ok_ca = read(ca_file=cert, token_file=token_file)
        ok_insecure = read(insecure=True, username="u", password="p")
        untrusted = read(token_file=token_file)
        wrong_auth = read(ca_file=cert, token="nope")
        missing_secret = read(ca_file=cert, token_file=tmp_path / "absent")
    assert ok_ca.up and ok_insecure.up  # type: ignore[attr-defined]
    assert untrusted.errors[0].kind == "tls"  # type: ignore[attr-defined]
    assert wrong_auth.errors[0].kind == "auth"  # type: ignore[attr-defined]
    assert missing_secret.errors[0].kind == "config"  # type: ignore[attr-defined]
    assert "absent" in missing_secret.errors[0].message  # type: ignore[attr-defined]
    assert "Bearer s3cret" in seen and "Basic dTpw" in seen
