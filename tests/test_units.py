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
