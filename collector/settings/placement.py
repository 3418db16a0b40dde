"""The live placement advice (`placement:`): which measured apps to advise on, as which workload
class and from which origin of the placement dataset, how often, and when to refuse.

docs/explanation/placement.md ("Live advice") says where each input comes from and why each
threshold's default is what it is.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field

from collector.models import Signal
from collector.settings.base import Strict


class PlacementAppSettings(Strict):
    """One measured app: the dataset's class it belongs to and the origin its users are at."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True
    )

    workload_class: str = Field(alias="class")
    """A class of the placement dataset: its latency budget, processing time and state
    locality apply; energy, payload and demand are measured."""
    origin: str
    """An origin of the placement dataset (where the app's users are); its home region is
    where the app is served today."""
    inference_nfs: list[str] = []
    """NFs whose energy is the model's besides those with role `inference`."""


class PlacementTransportSettings(Strict):
    """A wide-area segment whose NFs' energy per byte and km replaces the dataset's figure."""

    nfs: list[str] = Field(min_length=1)
    path_km: float = Field(gt=0)
    """Length of the segment the NFs carry traffic over (km)."""


class PlacementSettings(Strict):
    config: Path | None = None
    """Placement dataset YAML (regions, origins, classes, frictions); the bundled one if unset."""
    interval_seconds: float = Field(900.0, gt=0)
    """How often the advice is recomputed (s); the solve runs beside the window loop."""
    period_seconds: float = Field(3600.0, gt=0)
    """How much measured history one advice uses (s), ending at the newest window."""
    apps: dict[str, PlacementAppSettings] = {}
    """App name -> its class and origin; only these apps are advised on."""
    transport: PlacementTransportSettings | None = None
    signal: Signal | None = None
    """The intensity signal the advice decides on; the dataset's `objective.signal` when unset.
    Live intensities apply only to regions whose zone gives this signal."""
    carbon_zones: dict[str, str] = {}
    """Region of the dataset -> carbon zone of these settings, for live intensities (overrides
    the dataset's `carbon_zone`)."""
    min_requests: float = Field(100.0, ge=1)
    """Fewer requests in the covered windows: refused (`too_few_requests`; 0: `no_requests`)."""
    max_unattributed_ratio: float = Field(0.5, ge=0, le=1)
    """More unattributed energy at the app's NFs than this share of their measured energy:
    refused (`mostly_unattributed`)."""
    min_coverage_ratio: float = Field(0.8, gt=0, le=1)
    """Less of the period covered by windows in which all of the app's NFs were measured:
    refused (`period_not_covered`)."""
