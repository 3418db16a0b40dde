"""What every settings module shares: the strict base model, the error type, secrets, YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
    ValidationError,
)


class SettingsError(ValueError):
    """A settings file could not be used; the message names the file and the key."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


REVEAL_SECRETS = "reveal_secrets"
"""Serialisation context key: `model_dump(mode="json", context={REVEAL_SECRETS: True})` writes
the values of Secret fields (to hand a settings file to a child process); nothing else does."""


def _masked(value: SecretStr, info: SerializationInfo) -> str:
    if info.context and info.context.get(REVEAL_SECRETS):
        return value.get_secret_value()
    return str(value)


Secret = Annotated[SecretStr, PlainSerializer(_masked, return_type=str, when_used="json")]
"""A credential given inline (tests only; production uses the matching `*_file` key). Its value
never shows in a repr, str(), a validation error, a log line or a JSON dump: only
`read_secret` (for the request that needs it) and REVEAL_SECRETS give it out."""


def read_secret(inline: SecretStr | str | None, file: Path | None, what: str) -> str | None:
    """Resolve a secret given inline (tests only) or through a `*_file` key (production), as the
    plain string a request needs; errors name the key and the file, never the value."""
    if isinstance(inline, SecretStr):
        inline = inline.get_secret_value()
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{what}: cannot read {file}: {exc.strerror}") from exc
    return inline


def read_yaml(path: Path, what: str, error: type[ValueError]) -> Any:
    """The parsed YAML of a file (settings, placement); `error` names the file when it cannot
    be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None


def format_validation_errors(exc: ValidationError, origin: str) -> str:
    """One line per error: `origin: dotted.key: message` (`unknown key` for extra keys)."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{origin}: {key}: {msg}")
    return "\n".join(lines)
