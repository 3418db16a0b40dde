"""The attribution topology (`nfs:`, `apps:`, `apps_kubernetes:`, `shares:`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from collector.models import IdlePolicy, Role, ShareKey
from collector.settings.base import Strict


def _number_as_text(v: Any) -> Any:
    """YAML reads `target: 7` (an outlet) as a number; targets are strings."""
    return str(v) if isinstance(v, int) else v


NumberAsText = BeforeValidator(_number_as_text)


class PowerRef(Strict):
    source: str
    target: Annotated[str | dict[str, str], NumberAsText] = ""


class TrafficTotalRef(Strict):
    source: str
    target: Annotated[str | None, NumberAsText] = None
    interfaces: list[str] = []
    link_header_bytes: int = Field(14, ge=0)


class RequestsRef(Strict):
    source: str


class IdleSettings(Strict):
    policy: IdlePolicy = "none"
    """How static (idle) power is found: calibrated `watts`, Kepler <=0.9's mode=idle part,
    the lowest window mean over `horizon_seconds`, or none (Kepler >=0.10 pods: active only)."""
    watts: float | None = Field(None, ge=0)
    """fixed policy: the calibrated idle power (W)."""
    horizon_seconds: float = Field(86_400.0, gt=0)
    """rolling_min policy: how far back the lowest per-window mean power is looked for (s)."""

    @model_validator(mode="after")
    def _fixed_needs_watts(self) -> IdleSettings:
        if self.policy == "fixed" and self.watts is None:
            raise ValueError("idle policy fixed needs `watts`")
        return self


class NfSettings(Strict):
    name: str
    """The NF's name: the `nf` label and the key of replay records."""
    role: Role
    """ru | du | cu | upf | inference: picks the share keys and is the `role` label."""
    node_id: int | None = Field(None, ge=0)
    """The IOAM NodeID this NF stamps; omit for NFs that stamp nothing (e.g. inference)."""
    zone: str | None = None
    """Carbon zone (a key of carbon.zones); without one the NF's CO2 is always missing."""
    power: PowerRef | None = None
    """Where its energy comes from: a source name and that source's target."""
    traffic_total: TrafficTotalRef | None = None
    """Ingress totals (untagged traffic); without it the NF's denominator is tagged_only."""
    requests: RequestsRef | None = None
    """A requests source counting this NF's requests per app (else the app-level ones)."""
    idle: IdleSettings = IdleSettings()
    embodied_grams_per_hour: float = Field(0.0, ge=0)
    """Embodied emissions (g CO2e per hour) for SCI, shared like static energy."""
    counter_resolution_joules: float | None = None
    """One step of the energy counter (J) when the source does not declare it (APC: 360000)."""
    gauge: PowerRef | None = None
    """Optional power gauge used instead of a coarse energy counter (coarse-counter rule)."""


class TraceRef(Strict):
    namespace_id: int = Field(ge=0, le=0xFFFF)
    """IOAM Namespace-ID of the trace."""
    trace_id: int = Field(ge=0)
    """TraceID within that namespace (as the agent's carrier reads it)."""


class AppSettings(Strict):
    name: str
    """The `app` label; unknown TraceIDs go to app `unknown`."""
    traces: list[TraceRef] = []
    """The (namespace_id, trace_id) pairs of this application."""


class AppsKubernetes(Strict):
    annotation: str = "e2e-energy.io/trace-id"
    """Pod annotation `<namespace_id>:<trace_id>` (or a bare trace id); app = the pod's `app`
    label, else its name. Re-listed every 30 s; settings `apps` win."""
    namespace: str | None = None
    """Only pods in this namespace (default: all)."""


class ShareSettings(Strict):
    static: ShareKey = "packets"
    """Key that splits static (idle) energy."""
    dynamic: ShareKey = "bytes"
    """Key that splits dynamic energy; its per-direction amounts split directions."""


def default_shares() -> dict[str, ShareSettings]:
    return {
        "default": ShareSettings(),
        "inference": ShareSettings(static="requests", dynamic="requests"),
    }
