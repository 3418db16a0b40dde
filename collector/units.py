"""Units and counters: the one place where kWh, Wh, tenths of kWh, mJ and µJ become joules.

Everything that crosses a stage carries base units (joules, watts, seconds, grams, bytes).
Counter deltas handle resets and wraps here, once, so no caller ever sees negative energy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

Joules = NewType("Joules", float)
Watts = NewType("Watts", float)

JOULES_PER_WH = 3600.0
JOULES_PER_KWH = 3_600_000.0

# Energy units a source may report, with their size in joules.
_ENERGY_UNIT_JOULES: dict[str, float] = {
    "J": 1.0,
    "mJ": 1e-3,
    "uJ": 1e-6,
    "µJ": 1e-6,
    "Wh": JOULES_PER_WH,
    "kWh": JOULES_PER_KWH,
    "kW.h": JOULES_PER_KWH,
    "0.1kWh": JOULES_PER_KWH / 10.0,
    "MWh": JOULES_PER_KWH * 1000.0,
}

_POWER_UNIT_WATTS: dict[str, float] = {
    "W": 1.0,
    "mW": 1e-3,
    "kW": 1000.0,
    "0.01kW": 10.0,
    "0.1W": 0.1,
}


def _unit_size(table: dict[str, float], unit: str, what: str) -> float:
    try:
        return table[unit]
    except KeyError:
        known = ", ".join(sorted(table))
        raise ValueError(f"unknown {what} unit {unit!r} (known: {known})") from None


def energy_unit_joules(unit: str) -> float:
    """Size of one `unit` of energy in joules; raises ValueError naming the unit when unknown."""
    return _unit_size(_ENERGY_UNIT_JOULES, unit, "energy")


def power_unit_watts(unit: str) -> float:
    """Size of one `unit` of power in watts; raises ValueError naming the unit when unknown."""
    return _unit_size(_POWER_UNIT_WATTS, unit, "power")


def to_joules(value: float, unit: str) -> Joules:
    """Convert an energy reading in `unit` to joules."""
    return Joules(value * energy_unit_joules(unit))


def to_watts(value: float, unit: str) -> Watts:
    """Convert a power reading in `unit` to watts."""
    return Watts(value * power_unit_watts(unit))


def joules_from_kwh(kwh: float) -> Joules:
    return Joules(kwh * JOULES_PER_KWH)


def joules_from_wh(wh: float) -> Joules:
    return Joules(wh * JOULES_PER_WH)


def joules_from_tenths_kwh(tenths: float) -> Joules:
    """APC rPDU2 energy columns count tenths of a kWh (one step = 360 kJ)."""
    return Joules(tenths * JOULES_PER_KWH / 10.0)


def joules_from_millijoules(mj: float) -> Joules:
    """DCGM's total energy counter is in millijoules."""
    return Joules(mj * 1e-3)


def watts_from_hundredths_kw(hkw: float) -> Watts:
    """APC rPDU2 device and phase power columns are in hundredths of a kW."""
    return Watts(hkw * 10.0)


SECONDS_PER = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}


def seconds_from_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `1h`, `7d` (a number and an optional unit) in seconds; > 0."""
    t = text.strip().lower()
    scale = SECONDS_PER.get(t[-1:])
    number = t[:-1] if scale is not None else t
    try:
        value = float(number) * (scale or 1.0)
    except ValueError:
        raise ValueError(f"{text!r} is not a duration (e.g. 90s, 15m, 1h, 7d)") from None
    if not (value > 0 and value < float("inf")):
        raise ValueError(f"{text!r}: a duration must be positive and finite")
    return value


LBS_PER_MWH_TO_G_PER_KWH = 0.453592
"""WattTime reports pounds CO2 per MWh: 1 lb/MWh = 453.592 g / 1000 kWh."""


def grams_per_kwh_from_lbs_per_mwh(lbs_per_mwh: float) -> float:
    return lbs_per_mwh * LBS_PER_MWH_TO_G_PER_KWH


WRAP_TOP_FRACTION = 0.10
"""A decrease is a wrap only when the previous value was in the top 10 % of the declared width."""


@dataclass(frozen=True, slots=True)
class CounterStep:
    """The increase between two readings of a monotonic counter, and why it looks as it does."""

    delta: float
    kind: str  # "normal" | "wrap" | "reset" | "first"


def counter_delta(
    previous: float | None, current: float, width: float | None = None
) -> CounterStep:
    """Increase from `previous` to `current`, never negative (docs/explanation/attribution.md).

    A decrease is a wrap when a width is declared and `previous` was in the top 10 % of it: the
    delta is taken modulo the width. Otherwise it is a reset and the counter restarts from zero,
    so the new reading itself is the increase since the reset.
    """
    if previous is None:
        return CounterStep(0.0, "first")
    if current >= previous:
        return CounterStep(current - previous, "normal")
    if width is not None and width > 0 and previous >= width * (1.0 - WRAP_TOP_FRACTION):
        return CounterStep((current - previous) % width, "wrap")
    return CounterStep(max(current, 0.0), "reset")
