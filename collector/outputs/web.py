"""Serving the project's own endpoints from the `web:` settings: TLS with certificate reload,
optional client certificates (mTLS), basic or bearer auth compared in constant time.

Used by the attributor (ASGI, under uvicorn) and the agent (WSGI, a threaded server). Nothing here
imports FastAPI, so the agent can use it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import socket
import ssl
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from collector.settings import SettingsError, TlsServerSettings, WebSettings, read_secret

_VERSIONS = {"TLS1.2": ssl.TLSVersion.TLSv1_2, "TLS1.3": ssl.TLSVersion.TLSv1_3}


class ServerTls:
    """An SSLContext built from `web.tls`. `maybe_reload()` loads a renewed certificate and key
    (and added client CAs) into the same context, so new handshakes use them without a restart;
    a half-written pair (the key not yet renewed) keeps the old one until the next try. The files
    are tried on a scratch context first: a mismatched pair loaded into the serving one would
    replace its certificate and drop its key, failing every later handshake."""

    def __init__(self, settings: TlsServerSettings) -> None:
        self.settings = settings
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = _VERSIONS[settings.min_version]
        if settings.client_ca_file is not None:
            self.context.verify_mode = (
                ssl.CERT_REQUIRED if settings.client_auth == "require" else ssl.CERT_OPTIONAL
            )
        self._stamp = self._files_stamp()
        try:
            self._load(self.context)
        except (OSError, ssl.SSLError) as exc:
            raise SettingsError(f"web.tls: cannot load the certificate or key: {exc}") from None
        self._lock = threading.Lock()

    def _files(self) -> list[Path]:
        s = self.settings
        return [s.cert_file, s.key_file, *([s.client_ca_file] if s.client_ca_file else [])]

    def _files_stamp(self) -> tuple[int, ...]:
        out = []
        for f in self._files():
            try:
                st = os.stat(f)
                out += [st.st_mtime_ns, st.st_ino, st.st_size]
            except OSError:
                out += [-1, -1, -1]
        return tuple(out)

    def _load(self, context: ssl.SSLContext) -> None:
        s = self.settings
        context.load_cert_chain(str(s.cert_file), str(s.key_file))
        if s.client_ca_file is not None:
            context.load_verify_locations(cafile=str(s.client_ca_file))

    def maybe_reload(self) -> bool:
        """Reload when any file changed since the last load; True when it reloaded."""
        stamp = self._files_stamp()
        if stamp == self._stamp:
            return False
        with self._lock:
            try:
                self._load(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
                self._load(self.context)
            except (OSError, ssl.SSLError):
                return False  # keep serving the previous pair; retried at the next check
            self._stamp = stamp
        return True


def _digest(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(raw).digest()


class Authenticator:
    """Checks an Authorization header against `web.basic_auth` / `web.bearer_token*`. Secrets
    are read from their files at each check (a rotated Secret applies at once) and compared as
    SHA-256 digests with hmac.compare_digest: the time taken does not depend on the secret."""

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self.public = frozenset(settings.public_paths)

    @property
    def enabled(self) -> bool:
        return self.settings.auth_required

    def challenge(self) -> str:
        schemes = []
        if self.settings.basic_auth is not None:
            schemes.append('Basic realm="e2e-energy"')
        if self.settings.bearer_token is not None or self.settings.bearer_token_file is not None:
            schemes.append('Bearer realm="e2e-energy"')
        return ", ".join(schemes)

    def allows(self, path: str, authorization: str | None) -> bool:
        if not self.enabled or path in self.public:
            return True
        if not authorization:
            return False
        scheme, _, credentials = authorization.partition(" ")
        scheme = scheme.lower()
        try:
            if scheme == "basic" and self.settings.basic_auth is not None:
                return self._basic(credentials.strip())
            if scheme == "bearer":
                return self._bearer(credentials.strip())
        except SettingsError:  # the secret file is gone: refuse, never serve open
            return False
        return False

    def _basic(self, credentials: str) -> bool:
        b = self.settings.basic_auth
        assert b is not None
        try:
            user, sep, password = base64.b64decode(credentials, validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return False
        expected = read_secret(b.password, b.password_file, "web.basic_auth.password_file")
        if not sep or expected is None:
            return False
        user_ok = hmac.compare_digest(_digest(user), _digest(b.username))
        password_ok = hmac.compare_digest(_digest(password), _digest(expected))
        return user_ok & password_ok  # both compared, whichever fails

    def _bearer(self, token: str) -> bool:
        s = self.settings
        expected = read_secret(s.bearer_token, s.bearer_token_file, "web.bearer_token_file")
        if expected is None or not token:
            return False
        return hmac.compare_digest(_digest(token), _digest(expected))


ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class AuthMiddleware:
    """ASGI middleware: a request without valid credentials gets 401 before reaching the app."""

    def __init__(self, app: ASGIApp, auth: Authenticator) -> None:
        self.app = app
        self.auth = auth

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] == "http" and self.auth.enabled:
            header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
            given = header.decode("latin-1") if header is not None else None
            if not self.auth.allows(scope["path"], given):
                await _send_401(send, self.auth.challenge())
                return
        await self.app(scope, receive, send)


UNAUTHORIZED_BODY = b'{"detail":"missing or wrong credentials"}'


async def _send_401(send: Callable[[Any], Awaitable[None]], challenge: str) -> None:
    body = UNAUTHORIZED_BODY
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", challenge.encode()),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wsgi_auth(app: WSGIApp, auth: Authenticator) -> WSGIApp:
    """The WSGI form of AuthMiddleware (the agent's /metrics)."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if auth.allows(environ.get("PATH_INFO", ""), environ.get("HTTP_AUTHORIZATION")):
            return app(environ, start_response)
        start_response(
            "401 Unauthorized",
            [("Content-Type", "application/json"), ("WWW-Authenticate", auth.challenge())],
        )
        return [UNAUTHORIZED_BODY]

    return guarded


class _Server(ThreadingMixIn, WSGIServer):
    """One thread per connection; with TLS the handshake runs in that thread, never in accept."""

    daemon_threads = True
    tls: ServerTls | None = None

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        if self.tls is None:
            return sock, addr
        self.tls.maybe_reload()
        return self.tls.context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, OSError)):
            return  # a failed handshake or a client gone: its connection only
        super().handle_error(request, client_address)


class _Handler(WSGIRequestHandler):
    timeout = 30  # seconds a client may take to send its request (and, with TLS, to shake hands)

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_wsgi(
    app: WSGIApp, host: str, port: int, web: WebSettings
) -> tuple[WSGIServer, threading.Thread]:
    """Serve `app` from a daemon thread with the web settings' TLS and auth; OSError when the
    address cannot be bound, SettingsError when the certificate cannot be loaded."""
    family = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)[0][0]

    class Server(_Server):
        address_family = family

    Server.tls = ServerTls(web.tls) if web.tls is not None else None
    server = Server((host, port), _Handler)
    server.set_app(wsgi_auth(app, Authenticator(web)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
