"""How the project's own endpoints are served (`web:`): the agent's /metrics and the attributor's
/metrics and API, with optional TLS (mTLS with a client CA) and basic or bearer auth, in the
manner of Prometheus' exporter-toolkit web config."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import model_validator

from collector.settings.base import Secret, Strict


class TlsServerSettings(Strict):
    cert_file: Path
    """PEM certificate (chain) the server presents; re-read when the file changes (rotation)."""
    key_file: Path
    """PEM private key of `cert_file`; re-read with it."""
    client_ca_file: Path | None = None
    """PEM CAs whose client certificates are accepted (mTLS); unset = no client certificates."""
    client_auth: Literal["require", "verify_if_given"] = "require"
    """With `client_ca_file`: `require` refuses a handshake without a valid client certificate;
    `verify_if_given` verifies one when presented and leaves the rest to basic/bearer auth."""
    min_version: Literal["TLS1.2", "TLS1.3"] = "TLS1.2"
    """Oldest protocol version accepted."""


class BasicAuthSettings(Strict):
    username: str
    """The one user name accepted."""
    password: Secret | None = None
    """Inline password: tests only; use `password_file`."""
    password_file: Path | None = None
    """File holding the password (a mounted Secret), read at each request so rotation applies."""

    @model_validator(mode="after")
    def _one_password(self) -> BasicAuthSettings:
        if (self.password is None) == (self.password_file is None):
            raise ValueError("give exactly one of password and password_file")
        return self


class WebSettings(Strict):
    """Unset parts are off: no `tls` serves plain HTTP, no credentials serve without auth."""

    tls: TlsServerSettings | None = None
    """Serve HTTPS instead of HTTP."""
    basic_auth: BasicAuthSettings | None = None
    """Require HTTP Basic credentials (or the bearer token, when both are set)."""
    bearer_token: Secret | None = None
    """Inline bearer token: tests only; use `bearer_token_file`."""
    bearer_token_file: Path | None = None
    """File holding the bearer token (a mounted Secret), read at each request."""
    public_paths: list[str] = ["/healthz", "/readyz"]
    """Paths served without credentials (kubelet probes carry none); TLS still applies."""

    @model_validator(mode="after")
    def _one_token(self) -> WebSettings:
        if self.bearer_token is not None and self.bearer_token_file is not None:
            raise ValueError("give at most one of bearer_token and bearer_token_file")
        return self

    @property
    def auth_required(self) -> bool:
        return (
            self.basic_auth is not None
            or self.bearer_token is not None
            or (self.bearer_token_file is not None)
        )
