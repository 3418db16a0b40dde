"""The shared HTTP helper over real TLS: CA file, explicit insecure, basic auth, bearer token."""

from __future__ import annotations

import ssl
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from collector.power.pdu_http import HttpPlugReader
from collector.settings import ShellySource
from tests.http_fixture import serve
from tests.runtime import read_once
from tests.tls_fixture import self_signed

SHELLY = b'{"apower": 3.5, "aenergy": {"total": 10.0}}'


def test_tls_and_auth(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
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
