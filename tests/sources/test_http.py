"""The runtime's HTTP client against real servers on the loopback: one pooled connection kept
across reads, secrets and the CA bundle re-read when they change, one error mapping."""

from __future__ import annotations

import asyncio
import shutil
import socket
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from collector.settings import ShellySource
from collector.sources import PayloadError, SourceFailure
from collector.sources.http import HttpClient
from tests.http_fixture import serve
from tests.tls_fixture import self_signed, server_context

SHELLY = b'{"apower": 3.5, "aenergy": {"total": 10.0}}'


class Recorder:
    """Answers every GET with `status` and `body`; notes each request's client port and
    Authorization header."""

    def __init__(self, status: int = 200, body: bytes = SHELLY, **headers: str) -> None:
        self.status, self.body, self.headers = status, body, headers
        self.ports: list[int] = []
        self.auth: list[str] = []

    def __call__(self, req: BaseHTTPRequestHandler) -> tuple[int, bytes, dict[str, str]]:
        self.ports.append(req.client_address[1])
        self.auth.append(req.headers.get("Authorization", ""))
        return self.status, self.body, {"Content-Type": "application/json", **self.headers}


def _reads(client: HttpClient, url: str, n: int) -> list[Any]:
    async def main() -> list[Any]:
        return [await client.get_json(url) for _ in range(n)]

    return asyncio.run(main())


def test_one_pooled_connection_across_reads(tmp_path: Path) -> None:
    rec = Recorder()
    with serve(rec) as base:
        client = HttpClient(5.0)
        docs = _reads(client, base, 5)
        again = _reads(client, base, 2)  # a new loop: a new pool (the old one closed with it)
    assert docs == [{"apower": 3.5, "aenergy": {"total": 10.0}}] * 5 and len(again) == 2
    assert len(set(rec.ports[:5])) == 1  # five requests, one TCP connection
    assert len(set(rec.ports)) == 2


def test_rotated_token_applies_without_a_restart(tmp_path: Path) -> None:
    rec = Recorder()
    token = tmp_path / "token"
    with serve(rec) as base:
        client = HttpClient(5.0, ShellySource(name="p", kind="shelly", url=base, token_file=token))

        async def main() -> None:
            token.write_text("first\n")
            await client.get_json(base)
            token.write_text("second\n")
            await client.get_json(base)

        asyncio.run(main())
    assert rec.auth == ["Bearer first", "Bearer second"]
    assert len(set(rec.ports)) == 1  # same pool, new secret


def test_renewed_ca_file_is_loaded(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cert_a, key_a = self_signed(tmp_path / "a")
    cert_b, _ = self_signed(tmp_path / "b")
    ca = tmp_path / "ca.pem"
    shutil.copy(cert_a, ca)
    with serve(Recorder(), tls=server_context(cert_a, key_a)) as base:
        client = HttpClient(5.0, ShellySource(name="p", kind="shelly", url=base, ca_file=ca))

        async def main() -> str:
            await client.get_json(base)  # trusted
            shutil.copy(cert_b, ca)  # the bundle renewed to a CA that did not sign the server
            try:
                await client.get_json(base)
            except SourceFailure as exc:
                return exc.kind
            return "trusted"

        assert asyncio.run(main()) == "tls"


@pytest.mark.parametrize(
    ("status", "body", "kind", "transient"),
    [
        (401, b"{}", "auth", False),
        (403, b"{}", "auth", False),
        (404, b"{}", "http", False),
        (503, b"{}", "http", True),
        (429, b"{}", "rate_limit", False),
        (200, b"{not json", "parse", False),
    ],
)
def test_status_and_body_kinds(status: int, body: bytes, kind: str, transient: bool) -> None:
    recorder = Recorder(status, body, **{"Retry-After": "90"})
    with serve(recorder) as base, pytest.raises(SourceFailure) as err:
        _reads(HttpClient(5.0), base, 1)
    assert err.value.kind == kind and err.value.transient == transient
    assert err.value.retry_after == (90.0 if status == 429 else None)
    assert isinstance(err.value, PayloadError) == (kind == "parse")


def test_refused_and_silent_servers() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    with pytest.raises(SourceFailure) as refused:
        _reads(HttpClient(5.0), f"http://127.0.0.1:{dead}/", 1)
    assert refused.value.kind == "connect" and refused.value.transient
    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(SourceFailure) as slow:
            _reads(HttpClient(0.2), f"http://127.0.0.1:{silent.getsockname()[1]}/", 1)
    assert slow.value.kind == "timeout" and slow.value.transient
