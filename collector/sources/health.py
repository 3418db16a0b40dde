"""The one health record of a source (power, requests, carbon provider, agent): what feeds
e2e_energy_source_up, _scrape_duration_seconds and _errors_total{source,kind}."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from collector.models import ReadResult


def _no_errors() -> Mapping[str, int]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Health:
    """A source's state after its latest read; immutable, so a snapshot can carry it as is."""

    source: str
    up: bool = False
    duration_seconds: float = 0.0
    errors_total: Mapping[str, int] = field(default_factory=_no_errors)
    """Failed reads since start, by kind (a counter: never reset)."""
    last_error: str = ""
    last_success: float | None = None
    """When the last good read was received (the runtime's clock)."""

    def after(self, result: ReadResult, received_at: float) -> Health:
        """The health once `result` is in: every error of the read counted under its kind."""
        errors = dict(self.errors_total)
        for e in result.errors:
            errors[e.kind] = errors.get(e.kind, 0) + 1
        return Health(
            self.source,
            result.up,
            result.duration_seconds,
            MappingProxyType(errors),
            result.errors[0].message if result.errors else "",
            received_at if result.up else self.last_success,
        )
