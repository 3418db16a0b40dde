from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector import units


def test_conversions_are_exact() -> None:
    assert units.to_joules(1, "kWh") == 3_600_000
    assert units.to_joules(2, "Wh") == 7200
    assert units.joules_from_tenths_kwh(1) == 360_000
    assert units.joules_from_millijoules(1500) == 1.5
    assert units.to_joules(2_000_000, "uJ") == 2.0
    assert units.watts_from_hundredths_kw(123) == 1230
    assert math.isclose(units.grams_per_kwh_from_lbs_per_mwh(1000), 453.592)


def test_unknown_unit_is_named() -> None:
    with pytest.raises(ValueError, match="'furlong'"):
        units.to_joules(1, "furlong")


def test_counter_first_normal_reset_wrap() -> None:
    assert units.counter_delta(None, 5).kind == "first"
    assert units.counter_delta(5, 8).delta == 3
    step = units.counter_delta(100, 7)
    assert (step.kind, step.delta) == ("reset", 7)
    step = units.counter_delta(250, 4, width=256)
    assert (step.kind, step.delta) == ("wrap", 10)
    # a decrease from the lower 90 % of the width is a reset, not a wrap
    step = units.counter_delta(100, 4, width=256)
    assert (step.kind, step.delta) == ("reset", 4)


@given(
    st.lists(st.floats(min_value=0, max_value=1e12, allow_nan=False), min_size=1, max_size=50),
    st.one_of(st.none(), st.floats(min_value=1, max_value=1e13)),
)
def test_counter_delta_never_negative(values: list[float], width: float | None) -> None:
    prev = None
    for v in values:
        assert units.counter_delta(prev, v, width).delta >= 0
        prev = v


# --- every conversion, with its size written out by hand ----------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "joules"),
    [
        (2.0, "J", 2.0),
        (1500.0, "mJ", 1.5),
        (2_000_000.0, "uJ", 2.0),
        (2_000_000.0, "µJ", 2.0),
        (3.0, "Wh", 10_800.0),
        (0.5, "kWh", 1_800_000.0),
        (0.5, "kW.h", 1_800_000.0),
        (3.0, "0.1kWh", 1_080_000.0),  # APC rPDU2: one step is 360 kJ
        (0.002, "MWh", 7_200_000.0),
    ],
)
def test_energy_units_in_joules(value: float, unit: str, joules: float) -> None:
    assert units.to_joules(value, unit) == pytest.approx(joules, rel=1e-15)


@pytest.mark.parametrize(
    ("value", "unit", "watts"),
    [
        (7.0, "W", 7.0),
        (2500.0, "mW", 2.5),
        (1.5, "kW", 1500.0),
        (123.0, "0.01kW", 1230.0),
        (456.0, "0.1W", 45.6),
    ],
)
def test_power_units_in_watts(value: float, unit: str, watts: float) -> None:
    assert units.to_watts(value, unit) == pytest.approx(watts, rel=1e-15)


def test_unknown_units_are_named_with_the_known_ones() -> None:
    energy = "0.1kWh, J, MWh, Wh, kW.h, kWh, mJ, uJ, µJ"
    with pytest.raises(ValueError) as exc:
        units.energy_unit_joules("furlong")
    assert str(exc.value) == f"unknown energy unit 'furlong' (known: {energy})"
    with pytest.raises(ValueError) as exc:
        units.to_watts(1, "hp")
    assert str(exc.value) == "unknown power unit 'hp' (known: 0.01kW, 0.1W, W, kW, mW)"


def test_kwh_and_wh_in_joules() -> None:
    assert units.joules_from_kwh(2.5) == 9_000_000.0
    assert units.joules_from_wh(0.25) == 900.0


# --- counter steps: the wrap/reset boundary and equal readings (DESIGN.md section 4) --------


def step(previous: float | None, current: float, width: float | None = None) -> tuple[float, str]:
    s = units.counter_delta(previous, current, width)
    return s.delta, s.kind


def test_first_reading_has_no_increase() -> None:
    assert step(None, 5.0) == (0.0, "first")
    assert step(None, 5.0, width=1000.0) == (0.0, "first")


def test_an_equal_reading_is_no_increase_not_a_reset() -> None:
    assert step(5.0, 5.0) == (0.0, "normal")
    assert step(995.0, 995.0, width=1000.0) == (0.0, "normal")
    assert step(5.0, 8.0) == (3.0, "normal")


@pytest.mark.parametrize(
    ("previous", "kind", "delta"),
    [
        (890.0, "reset", 10.0),  # 0.89 of the width: a reset, counting from zero
        (899.0, "reset", 10.0),
        (900.0, "wrap", 110.0),  # exactly the top 10 %: a wrap, (10 - 900) mod 1000
        (910.0, "wrap", 100.0),  # 0.91 of the width
        (600.0, "reset", 10.0),  # a PDU counter reset from 60 %: never a phantom 410 J wrap
        (999.0, "wrap", 11.0),
    ],
)
def test_wrap_only_from_the_top_tenth_of_the_width(
    previous: float, kind: str, delta: float
) -> None:
    assert step(previous, 10.0, width=1000.0) == (delta, kind)


def test_tiny_and_zero_widths() -> None:
    """A width of 1 (J) still wraps; a width of 0 declares nothing, so a decrease is a reset."""
    delta, kind = step(0.95, 0.05, width=1.0)
    assert kind == "wrap" and delta == pytest.approx(0.1)
    assert step(5.0, 3.0, width=0.0) == (3.0, "reset")
    assert step(5.0, 3.0, width=None) == (3.0, "reset")


def test_a_reset_counts_from_zero_and_never_below() -> None:
    assert step(100.0, 0.5) == (0.5, "reset")
    assert step(100.0, 0.0) == (0.0, "reset")
    assert step(100.0, -5.0) == (0.0, "reset")  # a negative reading adds nothing


# --- durations (`placement solve --period`): a number and an optional s/m/h/d -----------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("7d", 604_800.0),
        (" 2H ", 7200.0),  # case and surrounding blanks do not matter
        ("1.5m", 90.0),
        ("0.5", 0.5),
        ("2", 2.0),  # a bare number is seconds, not divided or doubled
    ],
)
def test_durations_in_seconds(text: str, seconds: float) -> None:
    assert units.seconds_from_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1w", "ten", "1 h m", "1hh"])
def test_what_is_not_a_duration_is_named(text: str) -> None:
    with pytest.raises(ValueError) as exc:
        units.seconds_from_duration(text)
    assert str(exc.value) == f"{text!r} is not a duration (e.g. 90s, 15m, 1h, 7d)"


@pytest.mark.parametrize("text", ["0", "0s", "-5m", "inf", "1e400", "nan", "-0"])
def test_a_duration_must_be_positive_and_finite(text: str) -> None:
    with pytest.raises(ValueError) as exc:
        units.seconds_from_duration(text)
    assert str(exc.value) == f"{text!r}: a duration must be positive and finite"


def test_the_smallest_durations_are_kept() -> None:
    assert units.seconds_from_duration("0.5s") == 0.5  # below 1 s, above 0
    assert units.seconds_from_duration("1e300d") == 1e300 * 86_400.0  # large but finite
