"""Typed inputs of the placement advisor: workload classes, origins, regions, frictions, masks.

Read from one YAML file, optionally extended by CSV tables named in it (regions, origins,
demand). Every unknown key or column is rejected naming the key and the file, like the settings.

Units: latency in ms, energy in J per request, payload in bytes per request, demand in requests
per second, prices in the dataset's currency per kWh, intensities in gCO2e/kWh, capacity in kW of
IT power, transport energy in J per byte and km.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from collector.models import Signal
from collector.settings import format_validation_errors, read_yaml


class PlacementInputError(ValueError):
    """A placement input could not be used; the message names the file and the key."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class WorkloadClass(Strict):
    """One latency class of inference requests and what one request costs where it runs."""

    name: str
    latency_budget_ms: float = Field(gt=0)
    """End-to-end budget: network round trip plus processing must fit inside it."""
    processing_ms: float = Field(0.0, ge=0)
    energy_per_request_joules: float = Field(ge=0)
    """IT energy of the model per request at the inference server (before PUE)."""
    access_joules_per_request: float = Field(0.0, ge=0)
    """Access-network energy per request (RU/DU/CU/UPF): stays with the user wherever it runs."""
    payload_bytes: float = Field(0.0, ge=0)
    """Bytes per request crossing the wide area (request plus response)."""
    state_local: bool = False
    """True when the request's state lives in the home region only: it cannot move."""
    demand: dict[str, float] = {}
    """Origin name -> requests per second."""


class Origin(Strict):
    """Where requests come from (a metro area or a RAN site)."""

    name: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    home: str | None = None
    """The region serving it today; the nearest region when omitted."""
    tags: list[str] = []


class Region(Strict):
    """A compute region: its grid, its facility and how much IT power it can host."""

    name: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    price_per_kwh: float = Field(ge=0)
    grams_per_kwh_average: float = Field(ge=0)
    grams_per_kwh_marginal: float = Field(ge=0)
    pue: float = Field(1.0, ge=1.0)
    capacity_kw: float | None = Field(None, gt=0)
    """IT power available to these workloads (kW); unbounded when omitted."""
    carbon_zone: str | None = None
    """Zone name in the settings' carbon section, for live intensities."""
    tags: list[str] = []


class Frictions(Strict):
    """What moving a request away from its home region costs beyond the meter."""

    egress_per_gb: float = Field(0.0, ge=0)
    """Currency per GB of payload leaving towards a non-home region."""
    migration_per_request: float = Field(0.0, ge=0)
    """Currency per relocated request for state transfer / warm-up."""
    transport_joules_per_byte_km: float = Field(0.0, ge=0)
    """Wide-area transport energy per byte and km of great-circle distance."""
    regional_km: float = Field(1000.0, gt=0)
    """Relocations within this distance count as the regional layer, farther as energy-oriented."""


class MaskRule(Strict):
    """A legal or system rule forbidding (class, origin, region) triples; empty lists match all."""

    reason: str
    classes: list[str] = []
    origins: list[str] = []
    origin_tags: list[str] = []
    regions: list[str] = []
    region_tags: list[str] = []
    region_not_tags: list[str] = []


class RttOverride(Strict):
    """A measured round-trip time replacing the distance model for one origin and region."""

    origin: str
    region: str
    rtt_ms: float = Field(ge=0)


class Objective(Strict):
    kind: Literal["blend", "cost", "energy", "carbon"] = "blend"
    """blend: cost + λ·carbon; cost: λ = 0; energy: kWh; carbon: grams."""
    carbon_price_per_tonne: float = Field(100.0, ge=0)
    """λ in currency per tonne CO2e."""
    signal: Signal = "marginal"
    """Which intensity prices a relocation decision (marginal is the decision signal)."""


class MeasuredClass(Strict):
    app: str
    inference_nfs: list[str] = []
    """NFs whose energy is the model's; the rest of the app's NFs are access network."""


class MeasuredTransport(Strict):
    app: str
    nfs: list[str]
    path_km: float = Field(gt=0)


class MeasuredRef(Strict):
    """Measured inputs from `e2e-energy replay --format json` output (issue 5 shape)."""

    replay: Path
    classes: dict[str, MeasuredClass] = {}
    transport: MeasuredTransport | None = None


class CsvRefs(Strict):
    regions: Path | None = None
    origins: Path | None = None
    demand: Path | None = None


class PlacementConfig(Strict):
    """The whole placement problem."""

    currency: str = "USD"
    classes: list[WorkloadClass] = Field(min_length=1)
    origins: list[Origin] = []
    regions: list[Region] = []
    frictions: Frictions = Frictions()
    masks: list[MaskRule] = []
    rtt_ms: list[RttOverride] = []
    objective: Objective = Objective()
    measured: MeasuredRef | None = None
    csv: CsvRefs | None = None

    @model_validator(mode="after")
    def _references(self) -> PlacementConfig:
        _check_references(self)
        return self


def _unique(kind: str, names: list[str]) -> set[str]:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ValueError(f"{kind}: duplicate name {n!r}")
        seen.add(n)
    return seen


def _check_references(cfg: PlacementConfig) -> None:
    if not cfg.regions:
        raise ValueError("regions: at least one region is needed")
    if not cfg.origins:
        raise ValueError("origins: at least one origin is needed")
    regions = _unique("regions", [r.name for r in cfg.regions])
    origins = _unique("origins", [o.name for o in cfg.origins])
    classes = _unique("classes", [c.name for c in cfg.classes])
    for o in cfg.origins:
        if o.home is not None and o.home not in regions:
            raise ValueError(f"origins[{o.name}].home: no region named {o.home!r}")
    for c in cfg.classes:
        for origin, rps in c.demand.items():
            if origin not in origins:
                raise ValueError(f"classes[{c.name}].demand: no origin named {origin!r}")
            if rps < 0:
                raise ValueError(f"classes[{c.name}].demand.{origin}: must be >= 0")
    for i, m in enumerate(cfg.masks):
        for key, known, names in (
            ("classes", classes, m.classes),
            ("origins", origins, m.origins),
            ("regions", regions, m.regions),
        ):
            for n in names:
                if n not in known:
                    raise ValueError(f"masks[{i}].{key}: unknown name {n!r}")
    for i, r in enumerate(cfg.rtt_ms):
        if r.origin not in origins or r.region not in regions:
            raise ValueError(f"rtt_ms[{i}]: unknown origin or region ({r.origin}, {r.region})")
    if cfg.measured is not None:
        for name in cfg.measured.classes:
            if name not in classes:
                raise ValueError(f"measured.classes: no class named {name!r}")


# --- loading -----------------------------------------------------------------------------


def parse_config(data: dict[str, Any], origin: str = "<placement>") -> PlacementConfig:
    """Validate a parsed mapping; errors name `origin` (the file) and each dotted key."""
    try:
        return PlacementConfig(**data)
    except ValidationError as exc:
        raise PlacementInputError(format_validation_errors(exc, origin)) from None
    except ValueError as exc:
        raise PlacementInputError(f"{origin}: {exc}") from None


def _read_csv(
    path: Path, fields: set[str], what: str, model: type[BaseModel] | None = None
) -> list[dict[str, Any]]:
    """Rows of a CSV table; an unknown column or a bad value is rejected naming the file."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(row for row in fh if not row.lstrip().startswith("#"))
            header = reader.fieldnames or []
            for col in header:
                if col not in fields:
                    raise PlacementInputError(f"{path}: column {col!r}: unknown key for {what}")
            rows = [_csv_row(row) for row in reader]
    except OSError as exc:
        raise PlacementInputError(f"{path}: cannot read {what} table: {exc.strerror}") from None
    if model is not None:
        for i, row in enumerate(rows, start=1):
            try:
                model(**row)
            except ValidationError as exc:
                message = format_validation_errors(exc, f"{path}: row {i}")
                raise PlacementInputError(message) from None
    return rows


def _csv_row(row: dict[str, str | None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if v is None or v == "":
            continue
        out[k] = v.split(";") if k in ("tags",) else v
    return out


def _merge_csv(data: dict[str, Any], base: Path) -> None:
    refs = data.get("csv")
    if not isinstance(refs, dict):
        return
    if refs.get("regions"):
        path = base / str(refs["regions"])
        data["regions"] = list(data.get("regions", [])) + _read_csv(
            path, set(Region.model_fields), "regions", Region
        )
    if refs.get("origins"):
        path = base / str(refs["origins"])
        data["origins"] = list(data.get("origins", [])) + _read_csv(
            path, set(Origin.model_fields), "origins", Origin
        )
    if refs.get("demand"):
        _merge_demand(data, base / str(refs["demand"]))


def _merge_demand(data: dict[str, Any], path: Path) -> None:
    rows = _read_csv(path, {"class", "origin", "requests_per_second"}, "demand")
    by_name = {c.get("name"): c for c in data.get("classes", []) if isinstance(c, dict)}
    for i, row in enumerate(rows, start=2):
        cls = by_name.get(row.get("class"))
        if cls is None:
            raise PlacementInputError(
                f"{path}: line {i}: class: no class named {row.get('class')!r}"
            )
        try:
            rps = float(row["requests_per_second"])
        except (KeyError, ValueError):
            raise PlacementInputError(
                f"{path}: line {i}: requests_per_second: not a number"
            ) from None
        cls.setdefault("demand", {})
        cls["demand"] = {**cls["demand"], str(row.get("origin")): rps}


def load_config(path: str | Path) -> PlacementConfig:
    """Read a placement YAML file (and the CSV tables it names, relative to it)."""
    p = Path(path)
    data = read_yaml(p, "placement file", PlacementInputError)
    if not isinstance(data, dict):
        raise PlacementInputError(f"{p}: the top level must be a mapping")
    _merge_csv(data, p.parent)
    measured = data.get("measured")
    if isinstance(measured, dict) and measured.get("replay"):
        measured["replay"] = str(p.parent / str(measured["replay"]))
    return parse_config(data, str(p))


DEFAULT_DATASET = Path(__file__).resolve().parent / "data" / "default.yaml"


def load_default() -> PlacementConfig:
    """The bundled dataset of representative global regions (sources in data/README.md)."""
    return load_config(DEFAULT_DATASET)
