"""The input records of replay (JSON Lines), also what the live attributor records.

One record per line; `nf` is the NF's configured name. Fields beyond the documented ones are
optional refinements (`series` keeps two counters that map to the same key apart, `mode: idle`
marks Kepler's idle part, `resolution_joules` feeds the coarse-counter rule).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal, TextIO, get_args

from collector.models import DIRECTIONS, ENERGY_BASES, Direction, EnergyBasis

EnergyMode = Literal["total", "idle", "gpu"]
"""Which part of an NF's energy a counter is: all of it, Kepler's idle part, or GPU energy."""
ENERGY_MODES: tuple[EnergyMode, ...] = get_args(EnergyMode)


class RecordError(ValueError):
    """A record could not be read; the message starts with its line number."""


@dataclass(frozen=True, slots=True)
class EnergyRecord:
    t: float
    nf: str
    joules_total: float | None = None
    watts: float | None = None
    mode: EnergyMode = "total"
    resolution_joules: float | None = None
    counter_width_joules: float | None = None
    energy_basis: EnergyBasis | None = None


@dataclass(frozen=True, slots=True)
class TrafficRecord:
    t: float
    nf: str
    app: str
    direction: Direction
    packets_total: float
    bytes_total: float
    series: str = ""


@dataclass(frozen=True, slots=True)
class TrafficTotalRecord:
    """Ingress totals of an NF; `link_header_bytes` per packet is subtracted (0: already IPv6)."""

    t: float
    nf: str
    packets_total: float
    bytes_total: float
    link_header_bytes: int = 0
    series: str = ""
    counter_width: float | None = None


@dataclass(frozen=True, slots=True)
class RequestsRecord:
    t: float
    app: str
    requests_total: float
    nf: str | None = None
    series: str = ""


@dataclass(frozen=True, slots=True)
class IntensityRecord:
    t: float
    zone: str
    grams_per_kwh: float
    provider: str = ""
    signal: str = "average"


@dataclass(frozen=True, slots=True)
class RestartMarker:
    """`kind: restart`, written to its recording by an attributor that starts on a store with
    windows: `next_window` is the first window it computes, `state` the engine state it took
    from the store (None when it took none and began without readings). The readings the killed
    process took after that state are in the recording but died with it: replay computes the
    windows before `next_window` from the records before the marker, then continues from
    `state` with the records after it, as the live engine did."""

    t: float
    next_window: float
    state: dict[str, Any] | None = None


Record = EnergyRecord | TrafficRecord | TrafficTotalRecord | RequestsRecord | IntensityRecord
Entry = Record | RestartMarker
"""A line of a recording: a reading, or where a restarted attributor took over."""
_KINDS: dict[str, type[Record]] = {
    "energy": EnergyRecord,
    "traffic": TrafficRecord,
    "traffic_total": TrafficTotalRecord,
    "requests": RequestsRecord,
    "intensity": IntensityRecord,
}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}
_STR_FIELDS = {
    "nf",
    "app",
    "zone",
    "series",
    "provider",
    "signal",
    "mode",
    "energy_basis",
    "direction",
}
_NON_NEGATIVE = {
    "joules_total",
    "watts",
    "resolution_joules",
    "counter_width_joules",
    "packets_total",
    "bytes_total",
    "link_header_bytes",
    "counter_width",
    "requests_total",
}
"""Amounts that cannot be negative: a negative power or count is garbage, not a reset."""


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"`{key}` must be a finite number, got {value!r}")
    return float(value)


def record_from_dict(data: Any) -> Entry:
    """Validate one decoded JSON object into a record; ValueError says which field is wrong."""
    if not isinstance(data, dict):
        raise ValueError("a record must be a JSON object")
    kind = data.get("kind")
    if kind == "restart":
        return _marker(data)
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown kind {kind!r} (known: {', '.join(_KINDS)}, restart)")
    fields = set(cls.__dataclass_fields__)
    unknown = set(data) - fields - {"kind"}
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)} for kind {kind}")
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "kind" or value is None:
            continue
        if key in _STR_FIELDS:
            if not isinstance(value, str):
                raise ValueError(f"`{key}` must be a string")
            values[key] = value
        else:
            values[key] = _number(value, key)
            if key in _NON_NEGATIVE and values[key] < 0:
                raise ValueError(f"`{key}` must not be negative, got {value!r}")
    return _checked(cls, values)


def _marker(data: dict[str, Any]) -> RestartMarker:
    unknown = set(data) - {"kind", "t", "next_window", "state"}
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)} for kind restart")
    state = data.get("state")
    if state is not None and not isinstance(state, dict):
        raise ValueError("`state` must be an object or null")
    for key in ("t", "next_window"):
        if key not in data:
            raise ValueError(f"missing field(s) '{key}'")
    return RestartMarker(_number(data["t"], "t"), _number(data["next_window"], "next_window"),
                         state)  # fmt: skip


def restart_marker_json(t: float, next_window: float, state: str | None) -> str:
    """The marker's JSON line (without newline); `state` is the engine state's JSON as stored."""
    head = json.dumps({"t": t, "kind": "restart", "next_window": next_window},
                      separators=(",", ":"))  # fmt: skip
    return f'{head[:-1]},"state":{state or "null"}}}'


def _checked(cls: type[Record], values: dict[str, Any]) -> Record:
    try:
        record = cls(**values)
    except TypeError as exc:
        missing = str(exc).split("argument", 1)[-1].strip(": ")
        raise ValueError(f"missing field(s) {missing}") from None
    if isinstance(record, EnergyRecord):
        if (record.joules_total is None) == (record.watts is None):
            raise ValueError("an energy record needs exactly one of `joules_total` or `watts`")
        if record.mode not in ENERGY_MODES:
            raise ValueError("`mode` must be total, idle or gpu")
        if record.watts is not None and record.mode != "total":
            raise ValueError("`mode` idle or gpu applies to `joules_total` counters, not `watts`")
        if record.energy_basis is not None and record.energy_basis not in ENERGY_BASES:
            raise ValueError("`energy_basis` must be measured or modelled")
    if isinstance(record, TrafficRecord) and record.direction not in DIRECTIONS:
        raise ValueError(f"`direction` must be one of {', '.join(DIRECTIONS)}")
    if isinstance(record, IntensityRecord) and record.grams_per_kwh < 0:
        raise ValueError("`grams_per_kwh` must not be negative")
    if isinstance(record, TrafficTotalRecord):
        fixed = {**asdict(record), "link_header_bytes": int(record.link_header_bytes)}
        record = TrafficTotalRecord(**fixed)
    return record


def read_records(stream: TextIO) -> Iterator[tuple[int, Entry]]:
    """Yield (line number, record) from JSON Lines; blank lines are skipped, errors name the
    line number. Open files with errors="surrogateescape" so that bytes which are not UTF-8
    reach this check with their line instead of failing inside the decoder."""
    for lineno, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            raise RecordError(f"line {lineno}: not valid UTF-8") from None
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecordError(f"line {lineno}: not valid JSON: {exc.msg}") from None
        try:
            yield lineno, record_from_dict(data)
        except ValueError as exc:
            raise RecordError(f"line {lineno}: {exc}") from None


def record_to_json(record: Record) -> str:
    """One JSON line (without newline) in the replay format; unset optional fields are left out."""
    data: dict[str, Any] = {"t": record.t, "kind": _KIND_OF[type(record)]}
    for key, value in asdict(record).items():
        if key == "t" or value is None or value == "":
            continue
        if key == "mode" and value == "total":
            continue
        data[key] = value
    return json.dumps(data, separators=(",", ":"))
