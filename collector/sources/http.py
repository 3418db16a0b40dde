"""HTTP for every source: one pooled client per source, auth per request, one error mapping.

The client (and its TLS context: loading a CA bundle costs ~46 ms of CPU) is built once and kept
across reads; it is rebuilt only under another event loop or when the `ca_file` changes on disk.
Secrets from `*_file` keys are read at every request, so a rotated Secret applies without a
restart and a missing one is a `config` error of that source only. Every answer passes through
`get`, the one place a body-size cap belongs.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import zlib
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx

from collector.settings import HttpAuth, SourceBase, read_secret
from collector.sources.base import LoopBound, PayloadError, ReadPolicy, SourceFailure

S = TypeVar("S", bound=SourceBase)
MAX_REDIRECTS = 5
"""Redirects followed per request (a Redfish service may send /redfish/v1 to /redfish/v1/)."""
_DROP_HEADERS = ("content-encoding", "content-length", "transfer-encoding")
ACCEPT_ENCODING = "gzip, deflate"
"""What the client asks for: the codings `_bounded_body` inflates within the size limit."""
KEEPALIVE_SECONDS = 300.0
"""How long an idle connection is kept for the next read. httpx's default (5 s) is the poll
interval itself: each read of a source polled every 5 s (or of an agent, in a tick longer
than 5 s) found its connection expired and paid a new TCP (and TLS) handshake. A server that
closes earlier is noticed by the pool, which then connects anew."""


async def _aclose(client: httpx.AsyncClient) -> None:
    await client.aclose()


class HttpClient:
    """A source's HTTP session: `get`, `get_text` and `get_json` with failures as kinds."""

    def __init__(
        self,
        timeout_seconds: float,
        auth: HttpAuth | None = None,
        *,
        max_connections: int = 20,
        max_response_bytes: int = 16 << 20,
    ) -> None:
        self._auth = auth
        self._timeout = timeout_seconds
        self.max_response_bytes = max_response_bytes
        self._limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=KEEPALIVE_SECONDS,
        )
        self._pool = LoopBound(self._build, _aclose)
        self._ca_stamp = self._ca_file_stamp()
        self._cancelled = False
        """A read was cancelled mid-exchange (its deadline): httpcore can keep the connection of a
        cancelled request in its pool for good, its socket never closed (CLOSE-WAIT once the
        peer hangs up); the soak saw one leak every few dozen reads, up to the pool's limit. So
        the next read closes that pool, every connection in it, and opens a new one."""

    def _ca_file_stamp(self) -> int:
        ca = None if self._auth is None else self._auth.ca_file
        try:
            return Path(ca).stat().st_mtime_ns if ca is not None else 0
        except OSError:
            return -1

    def _verify(self) -> bool | ssl.SSLContext:
        if self._auth is None or not (self._auth.insecure or self._auth.ca_file):
            return True
        if self._auth.insecure:
            return False
        try:
            return ssl.create_default_context(cafile=str(self._auth.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise SourceFailure("config", f"ca_file {self._auth.ca_file}: {exc}") from None

    def _build(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            verify=self._verify(),
            timeout=httpx.Timeout(self._timeout),
            limits=self._limits,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
        )

    async def _client(self) -> httpx.AsyncClient:
        stamp = self._ca_file_stamp()
        if stamp != self._ca_stamp or self._cancelled:  # a renewed CA bundle, or see _cancelled
            self._ca_stamp, self._cancelled = stamp, False
            await self._pool.aclose()
        return await self._pool.get()

    def _credentials(self) -> tuple[httpx.Auth | None, dict[str, str]]:
        """Basic auth and bearer token, the secret files read now."""
        s = self._auth
        if s is None:
            return None, {}
        password = read_secret(s.password, s.password_file, "password")
        token = read_secret(s.token, s.token_file, "token")
        basic = httpx.BasicAuth(s.username, password or "") if s.username is not None else None
        return basic, ({"Authorization": f"Bearer {token}"} if token else {})

    async def get(
        self,
        url: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        basic: tuple[str, str] | None = None,
    ) -> httpx.Response:
        """GET `url` (with `basic` user and password instead of the settings' credentials);
        transport errors and bad statuses raise SourceFailure with their kind."""
        auth, sent = self._credentials()
        sent["Accept-Encoding"] = ACCEPT_ENCODING
        sent.update(headers or {})
        if basic is not None:
            auth = httpx.BasicAuth(*basic)
        client = await self._client()
        try:
            async with client.stream("GET", url, params=params, headers=sent, auth=auth) as resp:
                check_status(resp, url)
                body = await self._bounded_body(resp, url)
        except httpx.HTTPError as exc:
            raise transport_failure(url, exc) from None
        except asyncio.CancelledError:
            self._cancelled = True
            raise
        kept = [(k, v) for k, v in resp.headers.multi_items() if k.lower() not in _DROP_HEADERS]
        return httpx.Response(resp.status_code, headers=kept, content=body, request=resp.request)

    async def _bounded_body(self, resp: httpx.Response, url: str) -> bytes:
        """The decoded body, refused as `too_large` past max_response_bytes: announced by
        Content-Length, or counted as it streams in (an endless chunked body). Decompression
        is ours, never more than the room left per step, so a small gzip bomb cannot expand
        past the limit either (httpx inflates each network chunk whole: ~1000x)."""
        limit = self.max_response_bytes
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise SourceFailure("too_large", f"{url}: answer of {declared} bytes, limit {limit}")
        inflate = _inflater(resp.headers.get("content-encoding", ""), url)
        body = bytearray()
        async for chunk in resp.aiter_raw():
            room = limit - len(body)
            try:
                body += chunk if inflate is None else inflate.decompress(chunk, room + 1)
            except zlib.error as exc:
                raise PayloadError(f"{url}: compressed answer is corrupt ({exc})") from None
            if len(body) > limit:  # an inflater stops at room + 1: its rest is over the limit
                raise SourceFailure("too_large", f"{url}: answer over the limit of {limit} bytes")
        if inflate is not None and not inflate.eof:
            raise PayloadError(f"{url}: compressed answer ends early")
        return bytes(body)

    async def get_text(self, url: str, **kw: Any) -> str:
        return (await self.get(url, **kw)).text

    async def get_json(self, url: str, **kw: Any) -> Any:
        """GET and decode JSON; a body that is not JSON is a `parse` failure naming the URL."""
        resp = await self.get(url, **kw)
        try:
            return json.loads(resp.content)
        except ValueError as exc:
            raise PayloadError(f"{url}: response is not JSON ({exc})") from None

    async def aclose(self) -> None:
        """Close the pool (inside the loop that read); the next read opens a new one."""
        await self._pool.aclose()


def transport_failure(url: str, exc: httpx.HTTPError) -> SourceFailure:
    """The kind of a failed exchange: timeout, tls, connect (all but tls transient) or http."""
    if isinstance(exc, httpx.TimeoutException):
        return SourceFailure("timeout", f"{url}: no answer within the timeout", transient=True)
    if isinstance(exc, httpx.TooManyRedirects):
        return SourceFailure("redirect", f"{url}: more than {MAX_REDIRECTS} redirects (a loop?)")
    text = f"{type(exc).__name__}: {exc}"
    tls = any(w in text.upper() for w in ("CERTIFICATE", "SSL"))
    if isinstance(exc, httpx.ConnectError) and tls:
        return SourceFailure("tls", f"{url}: TLS verification failed ({text})")
    if isinstance(exc, httpx.TransportError):
        return SourceFailure("connect", f"{url}: cannot connect ({text})", transient=True)
    return SourceFailure("http", f"{url}: {text}")


def _inflater(encoding: str, url: str) -> Any:
    """A zlib decompressor for the answer's Content-Encoding (None for identity). Only gzip
    and deflate are asked for (ACCEPT_ENCODING); anything else is named, not guessed."""
    coding = encoding.strip().lower()
    if coding in ("", "identity"):
        return None
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return zlib.decompressobj()
    raise PayloadError(f"{url}: Content-Encoding {encoding!r} was not asked for")


def check_status(resp: httpx.Response, url: str) -> None:
    """401/403 auth, 429 rate_limit (with Retry-After), other 4xx http, 5xx http (transient)."""
    code = resp.status_code
    if code in (401, 403):
        raise SourceFailure("auth", f"{url}: HTTP {code} (check the credentials)")
    if code == 429:
        raise SourceFailure(
            "rate_limit", f"{url}: HTTP 429 too many requests", retry_after=_retry_after(resp)
        )
    if code >= 400:
        raise SourceFailure("http", f"{url}: HTTP {code}", transient=code >= 500)


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return float(resp.headers.get("retry-after", ""))
    except ValueError:
        return None


class HttpSource(Generic[S]):
    """What every source read over HTTP holds: its settings, name, policy and one pooled client
    with the settings' auth and TLS. Subclasses add `fetch` and `parse`."""

    def __init__(
        self,
        settings: S,
        url: str,
        *,
        parse_in_thread: bool = False,
        max_connections: int = 20,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.url = url
        self.policy = ReadPolicy.of(settings, parse_in_thread=parse_in_thread)
        auth = settings if isinstance(settings, HttpAuth) else None
        self.http = HttpClient(
            settings.timeout_seconds,
            auth,
            max_connections=max_connections,
            max_response_bytes=settings.max_response_bytes,
        )

    async def aclose(self) -> None:
        await self.http.aclose()


class TextSource(HttpSource[S]):
    """A source that is one GET of text at its `url` (a Prometheus exposition)."""

    async def fetch(self) -> str:
        return await self.http.get_text(self.url)
