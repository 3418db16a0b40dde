"""Grid intensity over a window (DESIGN.md section 4): the time-weighted mean of the latest known
value, each value held until the next and for at most max_age; worked examples by hand."""

from __future__ import annotations

import pytest

from collector.attribution.intensity import IntensitySeries
from collector.attribution.records import IntensityRecord


def series(max_age: float, *points: tuple[float, float]) -> IntensitySeries:
    s = IntensitySeries(max_age)
    for t, v in points:
        s.add(IntensityRecord(t=t, zone="z", grams_per_kwh=v))
    return s


def test_a_value_from_before_the_window_holds_into_it() -> None:
    s = series(3600.0, (-100.0, 100.0), (5.0, 400.0))
    # [0, 5) at 100, [5, 15) at 400: (500 + 4000) / 15
    assert s.mean(0.0, 15.0) == pytest.approx(300.0)
    assert s.mean(5.0, 15.0) == pytest.approx(400.0)  # a value exactly at the start
    assert s.mean(-100.0, -50.0) == pytest.approx(100.0)


def test_values_inside_the_window_are_weighted_by_how_long_they_hold() -> None:
    s = series(3600.0, (0.0, 100.0), (3.0, 200.0), (9.0, 600.0), (15.0, 9999.0))
    # 3 s at 100, 6 s at 200, 6 s at 600: (300 + 1200 + 3600) / 15 = 340; the value at the end
    # of the window (15 s) does not count
    assert s.mean(0.0, 15.0) == pytest.approx(340.0)


def test_max_age_limits_how_long_a_value_holds() -> None:
    s = series(20.0, (0.0, 360.0))
    assert s.mean(0.0, 15.0) == pytest.approx(360.0)
    assert s.mean(15.0, 30.0) == pytest.approx(360.0)  # covered until 20 s: mean of that part
    assert s.mean(20.0, 35.0) is None  # exactly at the age limit: nothing covers it
    assert s.mean(30.0, 45.0) is None
    # a newer value resumes the coverage
    s.add(IntensityRecord(t=40.0, zone="z", grams_per_kwh=100.0))
    assert s.mean(30.0, 45.0) == pytest.approx(100.0)  # only [40, 45) is covered


def test_partly_covered_window_averages_its_covered_part() -> None:
    s = series(5.0, (0.0, 300.0), (10.0, 600.0))
    # [0, 5) at 300, [5, 10) uncovered, [10, 15) at 600
    assert s.mean(0.0, 15.0) == pytest.approx(450.0)


def test_nothing_before_the_first_value() -> None:
    s = series(3600.0, (10.0, 200.0))
    assert s.mean(0.0, 10.0) is None
    assert s.mean(0.0, 15.0) == pytest.approx(200.0)  # only [10, 15) is covered
    assert IntensitySeries(3600.0).mean(0.0, 15.0) is None


def test_a_value_for_the_same_time_replaces_the_first() -> None:
    s = series(3600.0, (0.0, 100.0), (0.0, 300.0))
    assert s.mean(0.0, 15.0) == pytest.approx(300.0)


def test_values_may_arrive_out_of_order() -> None:
    s = series(3600.0, (9.0, 600.0), (0.0, 100.0), (3.0, 200.0))
    assert s.mean(0.0, 15.0) == pytest.approx(340.0)  # as when they came in order


def test_latest_is_the_newest_value_not_the_last_received() -> None:
    s = series(3600.0, (10.0, 200.0), (5.0, 100.0))
    assert s.latest is not None and (s.latest.t, s.latest.grams_per_kwh) == (10.0, 200.0)
    s.add(IntensityRecord(t=10.0, zone="z", grams_per_kwh=250.0))
    assert s.latest.grams_per_kwh == 250.0  # the same time again: the newer reading wins
    s.add(IntensityRecord(t=12.0, zone="z", grams_per_kwh=50.0))
    assert (s.latest.t, s.latest.grams_per_kwh) == (12.0, 50.0)


def test_prune_keeps_the_value_that_still_holds() -> None:
    s = series(3600.0, (0.0, 100.0), (10.0, 200.0), (20.0, 300.0), (30.0, 400.0))
    s.prune(15.0)  # drops the value from 0 s only: the one from 10 s still holds at 15 s
    assert s.mean(0.0, 10.0) is None
    assert s.mean(15.0, 20.0) == pytest.approx(200.0)
    s.prune(25.0)
    assert s.mean(25.0, 30.0) == pytest.approx(300.0)
    assert s.mean(25.0, 35.0) == pytest.approx(350.0)
    assert s.mean(10.0, 20.0) is None  # older values are gone
    s.prune(0.0)  # nothing at or before 0 s any more: nothing to drop
    assert s.mean(25.0, 30.0) == pytest.approx(300.0)


def test_a_late_value_replaces_the_right_one() -> None:
    """A new reading for 0 s replaces the 0 s value, not the 10 s one: [0, 10) at 300, [10, 20)
    at 200 -> 250."""
    s = series(3600.0, (0.0, 100.0), (10.0, 200.0))
    s.add(IntensityRecord(t=0.0, zone="z", grams_per_kwh=300.0))
    assert s.mean(0.0, 20.0) == pytest.approx(250.0)


def test_a_value_holds_only_until_the_window_end() -> None:
    """100 from 0 s, 200 from 10 s, 999 from 20 s: [0, 15) is 10 s at 100 and 5 s at 200."""
    s = series(3600.0, (0.0, 100.0), (10.0, 200.0), (20.0, 999.0))
    assert s.mean(0.0, 15.0) == pytest.approx((1000.0 + 1000.0) / 15)


def test_a_window_covered_for_half_a_second_has_that_value() -> None:
    s = series(3600.0, (14.5, 320.0))
    assert s.mean(0.0, 15.0) == pytest.approx(320.0)
    assert series(0.5, (0.0, 80.0)).mean(0.0, 15.0) == pytest.approx(80.0)


def test_a_series_restored_from_its_state_gives_the_same_means_by_hand() -> None:
    """Values 100 (t=0), 200 (t=10), 400 (t=20), state from t=12: it keeps the last value at or
    before 12 (200 at t=10) and the newer one, and the latest record whole; the restored series
    averages [12, 30) as (8 s x 200 + 10 s x 400) / 18 s, computed here by hand."""
    import json

    s = IntensitySeries(max_age_seconds=60.0)
    for t, v in ((0.0, 100.0), (10.0, 200.0), (20.0, 400.0)):
        s.add(IntensityRecord(t=t, zone="z", grams_per_kwh=v, provider="uk", signal="marginal"))
    state = json.loads(json.dumps(s.state(12.0)))
    assert state == {"t": [10.0, 20.0], "v": [200.0, 400.0],
                     "latest": [20.0, "z", 400.0, "uk", "marginal"]}  # fmt: skip
    back = IntensitySeries(max_age_seconds=60.0)
    back.restore(state)
    assert back.latest == IntensityRecord(20.0, "z", 400.0, "uk", "marginal")
    assert back.mean(12.0, 30.0) == pytest.approx((8 * 200.0 + 10 * 400.0) / 18)
    assert back.mean(0.0, 10.0) is None  # the t=0 value was not kept
    assert s.state(-5.0)["t"] == [0.0, 10.0, 20.0]  # `since` before every value: all of them
    empty = IntensitySeries(max_age_seconds=60.0)
    empty.restore(json.loads(json.dumps(IntensitySeries(60.0).state(0.0))))
    assert empty.latest is None and empty.mean(0.0, 10.0) is None
