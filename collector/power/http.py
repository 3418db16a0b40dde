"""The shared HTTP client for sources and providers: auth, TLS and error mapping in one place.

Secrets come from `*_file` keys through `read_secret` (inline values are for tests). TLS is
verified by default, with a CA file when given; skipping verification needs `insecure: true`.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from collector.power.base import SourceFailure
from collector.settings import HttpAuth, read_secret


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """Resolved auth and TLS for one endpoint."""

    username: str | None = None
    password: str | None = None
    token: str | None = None
    verify: bool | str = True
    timeout_seconds: float = 5.0

    @classmethod
    def from_settings(cls, s: HttpAuth, timeout_seconds: float) -> HttpOptions:
        password = read_secret(s.password, s.password_file, "password")
        token = read_secret(s.token, s.token_file, "token")
        verify: bool | str = True
        if s.insecure:
            verify = False
        elif s.ca_file is not None:
            verify = str(s.ca_file)
        return cls(s.username, password, token, verify, timeout_seconds)

    def client(self, **extra: Any) -> httpx.AsyncClient:
        auth = None
        if self.username is not None:
            auth = httpx.BasicAuth(self.username, self.password or "")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(extra.pop("headers", {}))
        verify: bool | ssl.SSLContext = (
            ssl.create_default_context(cafile=self.verify)
            if isinstance(self.verify, str)
            else self.verify
        )
        return httpx.AsyncClient(
            auth=auth,
            headers=headers,
            verify=verify,
            timeout=httpx.Timeout(self.timeout_seconds),
            **extra,
        )


def _check_status(resp: httpx.Response, url: str) -> None:
    if resp.status_code in (401, 403):
        raise SourceFailure("auth", f"{url}: HTTP {resp.status_code} (check credentials)")
    if resp.status_code == 429:
        raise SourceFailure("rate_limit", f"{url}: HTTP 429 too many requests")
    if resp.status_code >= 400:
        raise SourceFailure("http", f"{url}: HTTP {resp.status_code}")


async def get_response(client: httpx.AsyncClient, url: str, **kw: Any) -> httpx.Response:
    """GET `url`, mapping transport errors and bad statuses to SourceFailure kinds."""
    try:
        resp = await client.get(url, **kw)
    except httpx.TimeoutException:
        raise SourceFailure("timeout", f"{url}: no answer within the timeout") from None
    except httpx.ConnectError as exc:
        if "CERTIFICATE" in str(exc).upper() or "SSL" in str(exc).upper():
            raise SourceFailure("tls", f"{url}: TLS verification failed ({exc})") from None
        raise SourceFailure("connect", f"{url}: cannot connect ({exc})") from None
    except httpx.HTTPError as exc:
        raise SourceFailure("http", f"{url}: {type(exc).__name__}: {exc}") from None
    _check_status(resp, url)
    return resp


async def get_text(client: httpx.AsyncClient, url: str, **kw: Any) -> str:
    return (await get_response(client, url, **kw)).text


async def get_json(client: httpx.AsyncClient, url: str, **kw: Any) -> Any:
    """GET and decode JSON; a body that is not JSON is a `parse` failure naming the URL."""
    resp = await get_response(client, url, **kw)
    try:
        return json.loads(resp.content)
    except ValueError as exc:
        raise SourceFailure("parse", f"{url}: response is not JSON ({exc})") from None


async def fetch_text(opts: HttpOptions, url: str) -> str:
    """One GET with a client of its own (sources read rarely; no pool to keep warm)."""
    async with opts.client() as client:
        return await get_text(client, url)


async def fetch_json(opts: HttpOptions, url: str) -> Any:
    async with opts.client() as client:
        return await get_json(client, url)
