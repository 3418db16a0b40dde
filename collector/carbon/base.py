"""The seam for grid-intensity providers, and the small HTTP helper they share.

Providers raise ProviderError (with a bounded `kind` and, for 429, the server's Retry-After);
the service turns that into health, backoff and fallback. Nothing here caches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from collector.models import IntensitySample, Signal, SignalIndexSample


class ProviderError(Exception):
    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class ProviderReading:
    """What one fetch returned: intensity points (newest last) and relative indices."""

    intensity: tuple[IntensitySample, ...] = ()
    indices: tuple[SignalIndexSample, ...] = ()


class Provider(Protocol):
    kind: str
    signal: Signal

    async def fetch(self, zone: str, now: float) -> ProviderReading: ...


def iso_ts(text: Any) -> float:
    """ISO 8601 (with Z or an offset) -> unix seconds; ValueError names the bad value."""
    if not isinstance(text, str):
        raise ValueError(f"timestamp is not a string: {text!r}")
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return float(resp.headers.get("retry-after", ""))
    except ValueError:
        return None


async def get_json(client: httpx.AsyncClient, url: str, **kw: Any) -> Any:
    """GET and decode JSON, mapping every failure to a ProviderError kind."""
    try:
        resp = await client.get(url, **kw)
    except httpx.TimeoutException:
        raise ProviderError("timeout", f"{url}: no answer within the timeout") from None
    except httpx.HTTPError as exc:
        raise ProviderError("connect", f"{url}: {type(exc).__name__}: {exc}") from None
    if resp.status_code in (401, 403):
        raise ProviderError("auth", f"{url}: HTTP {resp.status_code} (check the token)")
    if resp.status_code == 429:
        raise ProviderError("rate_limit", f"{url}: HTTP 429", _retry_after(resp))
    if resp.status_code >= 400:
        raise ProviderError("http", f"{url}: HTTP {resp.status_code}")
    try:
        return json.loads(resp.content)
    except ValueError as exc:
        raise ProviderError("parse", f"{url}: response is not JSON ({exc})") from None


def number(doc: Any, what: str) -> float:
    if isinstance(doc, bool) or not isinstance(doc, int | float):
        raise ProviderError("parse", f"{what} is not a number: {doc!r}")
    return float(doc)
