"""SNMP PDU profiles: walked rows of the columns in collector/snmp_tables.py into samples (pure).

A row's target is its table index (components joined by "."), e.g. APC outlet "1",
Sentry4 cord "1.1"; device-level scalars are "device". A value of -1 (APC, Sentry4: "not
supported by this model") becomes an `unsupported` sample with NaN, never 0 W.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from collector.models import EnergyBasis, EnergySample
from collector.snmp_tables import PROFILES, RARITAN_TABLES, Column, Oid, parse_oid
from collector.sources import PayloadError
from collector.sources.values import checked
from collector.units import energy_unit_joules, power_unit_watts

Table = Mapping[Oid, object]
"""Walked values keyed by full OID; numbers as int, strings as str."""

# PDU2-MIB enumerations: sensor units and the sensor types read
RAR_UNIT_WATT = 3
RAR_UNIT_WATT_HOUR = 5
RAR_ACTIVE_POWER = 5
RAR_ACTIVE_ENERGY = 8


def _rows(table: Table, base: Oid) -> dict[Oid, object]:
    n = len(base)
    return {oid[n:]: v for oid, v in table.items() if oid[:n] == base and len(oid) >= n}


def _what(base: Oid, index: Oid) -> str:
    """An OID as text, for the error naming a bad value."""
    return ".".join(str(p) for p in (*base, *index))


def row_target(index: Oid, device_level: bool = False) -> str:
    """A row's target string: its index ("1", "1.1"); scalars and first devices "device"."""
    if index in ((), (0,)) or (device_level and index == (1,)):
        return "device"
    joined = ".".join(str(i) for i in index)
    return f"device/{joined}" if device_level else joined


def column_samples(
    table: Table, col: Column, *, source: str, t: float, basis: EnergyBasis
) -> list[EnergySample]:
    out = []
    width = None if col.width_raw is None else col.width_raw * col.unit_size
    for index, raw in sorted(_rows(table, col.base).items()):
        if not isinstance(raw, int):
            raise PayloadError(
                f"{_what(col.base, index)} = {raw!r}: not a number (wrong SNMP type)", "wrong_type"
            )
        unsupported = raw == -1 and col.minus_one_unsupported
        target = row_target(index, col.device_level)
        out.append(
            EnergySample(
                source,
                target,
                t,
                col.kind,
                math.nan if unsupported else checked(raw * col.unit_size, _what(col.base, index)),
                energy_basis=basis,
                counter_width_joules=width if col.kind == "counter" else None,
                resolution_joules=col.resolution_joules,
                unsupported=unsupported,
            )
        )
    return out


def profile_columns(profile: str) -> list[Oid]:
    """The column OIDs a profile walks."""
    if profile in RARITAN_TABLES:
        return list(RARITAN_TABLES[profile])
    return [c.base for c in PROFILES[profile]]


def parse_raritan(
    table: Table, profile: str, *, source: str, t: float, basis: EnergyBasis
) -> list[EnergySample]:
    """activePower (W) and activeEnergy (Wh), each divided by 10^decimalDigits of its sensor.

    The units column must say watt / wattHour; a sensor reporting other units is skipped
    rather than misread.
    """
    values_base, digits_base, units_base = RARITAN_TABLES[profile]
    digits, units = _rows(table, digits_base), _rows(table, units_base)
    out = []
    for index, raw in sorted(_rows(table, values_base).items()):
        if len(index) != 3 or not isinstance(raw, int):
            continue
        sensor = index[2]
        if sensor not in (RAR_ACTIVE_POWER, RAR_ACTIVE_ENERGY):
            continue
        dd = digits.get(index, 0)
        scale = 10.0 ** -(dd if isinstance(dd, int) else 0)
        unit = units.get(index)
        target = f"{index[0]}.{index[1]}"
        if sensor == RAR_ACTIVE_POWER and unit in (None, RAR_UNIT_WATT):
            w = checked(raw * scale * power_unit_watts("W"), _what(values_base, index))
            out.append(EnergySample(source, target, t, "gauge", w, energy_basis=basis))
        elif sensor == RAR_ACTIVE_ENERGY and unit in (None, RAR_UNIT_WATT_HOUR):
            step = scale * energy_unit_joules("Wh")
            out.append(
                EnergySample(
                    source,
                    target,
                    t,
                    "counter",
                    checked(raw * step, _what(values_base, index)),
                    energy_basis=basis,
                    resolution_joules=step,
                    counter_width_joules=2.0**32 * step,
                )
            )
    return out


def parse_profile(
    table: Table, profile: str, *, source: str, t: float, basis: EnergyBasis = "measured"
) -> list[EnergySample]:
    """Pure: walked values of one profile -> samples."""
    if profile in RARITAN_TABLES:
        return parse_raritan(table, profile, source=source, t=t, basis=basis)
    out: list[EnergySample] = []
    for col in PROFILES[profile]:
        out.extend(column_samples(table, col, source=source, t=t, basis=basis))
    return out


def generic_column(oid: str, scale: float, unit: str, width: float | None) -> Column:
    """The generic profile: one OID, a scale, and a power or energy unit."""
    try:
        return Column(parse_oid(oid), "gauge", scale * power_unit_watts(unit))
    except ValueError:
        size = scale * energy_unit_joules(unit)
        return Column(parse_oid(oid), "counter", size, size, width)
