"""The checks every parser applies to what a device or provider sends: one number check, one
ISO 8601 reader. A negative or non-finite reading is a named error here, at the parser, not
only downstream where it would be dropped without saying which source sent it."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from collector.sources.base import PayloadError

INVALID_VALUE = "invalid_value"
MAX_GRAMS_PER_KWH = 2500.0
"""No grid emits more: lignite plants run at ~1.1-1.3 kg/kWh and marginal signals stay below
~1.1 kg/kWh. A larger intensity is a unit or parsing error of the provider, never data."""


def checked(value: float, what: str) -> float:
    """`value` if finite and >= 0 (energy, power, counts and intensities all are)."""
    if not math.isfinite(value) or value < 0:
        raise PayloadError(f"{what} = {value!r}: must be finite and >= 0", INVALID_VALUE)
    return value


def reading(value: Any, what: str) -> float:
    """A number from a JSON document or an SNMP table, checked; booleans are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"{what} is not a number: {value!r}")
    return checked(float(value), what)


def intensity(value: Any, what: str) -> float:
    """A grid intensity in g/kWh: a checked reading no larger than MAX_GRAMS_PER_KWH."""
    grams = reading(value, what)
    if grams > MAX_GRAMS_PER_KWH:
        raise PayloadError(
            f"{what} = {grams!r} g/kWh: above {MAX_GRAMS_PER_KWH:g}, not a grid intensity",
            INVALID_VALUE,
        )
    return grams


def iso_timestamp(text: Any) -> float:
    """ISO 8601 (with Z or an offset) -> unix seconds; the error names the bad value."""
    if not isinstance(text, str):
        raise PayloadError(f"timestamp is not a string: {text!r}")
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError, OSError) as exc:
        raise PayloadError(f"timestamp {text!r}: {exc}") from None
    return t
