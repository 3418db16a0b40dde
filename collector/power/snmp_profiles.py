"""SNMP PDU profiles: which table columns to walk and how to turn them into samples (pure).

OIDs and units were checked against the vendors' MIB texts; tests/fixtures/snmp/README.md cites
them. A row's target is its table index (components joined by "."), e.g. APC outlet "1",
Sentry4 cord "1.1"; device-level scalars are "device". A value of -1 (APC, Sentry4: "not
supported by this model") becomes an `unsupported` sample with NaN, never 0 W.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from collector.models import EnergyBasis, EnergySample, SampleKind
from collector.sources import PayloadError
from collector.sources.values import checked
from collector.units import (
    energy_unit_joules,
    joules_from_tenths_kwh,
    joules_from_wh,
    power_unit_watts,
    watts_from_hundredths_kw,
)

Oid = tuple[int, ...]
Table = Mapping[Oid, object]
"""Walked values keyed by full OID; numbers as int, strings as str."""

APC = (1, 3, 6, 1, 4, 1, 318, 1, 1)
RARITAN = (1, 3, 6, 1, 4, 1, 13742, 6)
SENTRY4 = (1, 3, 6, 1, 4, 1, 1718, 4, 1)
EATON = (1, 3, 6, 1, 4, 1, 534, 6, 6, 7)

RAR_UNIT_WATT = 3
RAR_UNIT_WATT_HOUR = 5
RAR_ACTIVE_POWER = 5
RAR_ACTIVE_ENERGY = 8


def parse_oid(text: str) -> Oid:
    return tuple(int(p) for p in text.strip(".").split("."))


@dataclass(frozen=True, slots=True)
class Column:
    """One walked column: its base OID, whether it is power or energy, and its unit size."""

    base: Oid
    kind: SampleKind
    unit_size: float  # watts per raw unit (gauge) or joules per raw unit (counter)
    resolution_joules: float | None = None
    width_raw: float | None = None  # counter width in raw units, when the type wraps
    minus_one_unsupported: bool = True
    device_level: bool = False  # rows are whole devices: targets "device", "device/2", ...


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


TENTH_KWH = float(joules_from_tenths_kwh(1))
WH = float(joules_from_wh(1))
HUNDREDTH_KW = float(watts_from_hundredths_kw(1))

PROFILES: dict[str, tuple[Column, ...]] = {
    # PowerNet-MIB rPDU2DeviceStatusPower (.5, 0.01 kW) and ...Energy (.9, 0.1 kWh)
    "apc_rpdu2_device": (
        Column((*APC, 26, 4, 3, 1, 5), "gauge", HUNDREDTH_KW, device_level=True),
        Column((*APC, 26, 4, 3, 1, 9), "counter", TENTH_KWH, TENTH_KWH, device_level=True),
    ),
    # rPDU2PhaseStatusPower (.7, 0.01 kW)
    "apc_rpdu2_phase": (Column((*APC, 26, 6, 3, 1, 7), "gauge", HUNDREDTH_KW),),
    # rPDU2OutletMeteredStatusPower (.7, W) and ...Energy (.11, 0.1 kWh)
    "apc_rpdu2_outlet": (
        Column((*APC, 26, 9, 4, 3, 1, 7), "gauge", 1.0),
        Column((*APC, 26, 9, 4, 3, 1, 11), "counter", TENTH_KWH, TENTH_KWH),
    ),
    # rPDUIdentDevicePowerWatts.0 (W)
    "apc_ident": (Column((*APC, 12, 1, 16), "gauge", 1.0),),
    # Sentry4-MIB st4InputCordActivePower (.3, W) and st4InputCordEnergy (.10, 0.1 kWh)
    "sentry4_cord": (
        Column((*SENTRY4, 3, 3, 1, 3), "gauge", 1.0),
        Column((*SENTRY4, 3, 3, 1, 10), "counter", TENTH_KWH, TENTH_KWH),
    ),
    # EATON-EPDU-MIB inputTotalWatts (.4, W), inputTotalWh (.5, Wh, Unsigned32)
    "eaton_input": (
        Column((*EATON, 3, 5, 1, 4), "gauge", 1.0, minus_one_unsupported=False),
        Column((*EATON, 3, 5, 1, 5), "counter", WH, WH, 2.0**32, minus_one_unsupported=False),
    ),
    # EATON-EPDU-MIB outletWatts (.3, W), outletWh (.4, Wh, Unsigned32)
    "eaton_outlet": (
        Column((*EATON, 6, 5, 1, 3), "gauge", 1.0, minus_one_unsupported=False),
        Column((*EATON, 6, 5, 1, 4), "counter", WH, WH, 2.0**32, minus_one_unsupported=False),
    ),
}

# PDU2-MIB: measurements{Inlet,Outlet}SensorValue, {inlet,outlet}SensorDecimalDigits and Units;
# rows are indexed <pduId>.<inlet|outlet>.<sensorType>.
RARITAN_TABLES: dict[str, tuple[Oid, Oid, Oid]] = {
    "raritan_inlet": (
        (*RARITAN, 5, 2, 3, 1, 4),
        (*RARITAN, 3, 3, 4, 1, 7),
        (*RARITAN, 3, 3, 4, 1, 6),
    ),
    "raritan_outlet": (
        (*RARITAN, 5, 4, 3, 1, 4),
        (*RARITAN, 3, 5, 4, 1, 7),
        (*RARITAN, 3, 5, 4, 1, 6),
    ),
}


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
