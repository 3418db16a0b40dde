"""Signals over time (DESIGN.md section 4) on worked examples: a piecewise-linear line through the
samples, held for at most max_gap past one, resets and wraps of counters, and the vectorised bank
of counters the engine uses for traffic, totals and requests. Numbers by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.attribution.signals import CounterBank, Line


def counter(points: list[tuple[float, float]], width: float | None = None) -> Line:
    line = Line(width)
    for t, v in points:
        line.add_counter(t, v)
    return line


def gauge(points: list[tuple[float, float]]) -> Line:
    line = Line()
    for t, w in points:
        line.add_gauge(t, w)
    return line


# --- Line ----------------------------------------------------------------------------------


def test_line_interpolates_between_samples_and_holds_after_the_last() -> None:
    """A counter's line counts from its first reading: 100 J at 10 s is 0, 200 J at 20 s 100."""
    line = counter([(10.0, 100.0), (20.0, 200.0)])
    assert line.at(9.9, 45.0) is None  # before the first sample
    assert line.at(10.0, 45.0) == 0.0
    assert line.at(12.5, 45.0) == pytest.approx(25.0)
    assert line.at(20.0, 45.0) == 100.0
    assert line.at(1000.0, 45.0) == 100.0  # held (freshness is fresh()'s business)
    assert len(line) == 2
    g = gauge([(10.0, 100.0), (20.0, 200.0)])  # a gauge's line is its readings
    assert [g.at(t, 45.0) for t in (10.0, 12.5, 20.0)] == [100.0, 125.0, 200.0]


def test_a_gap_longer_than_max_gap_breaks_the_line() -> None:
    """Samples 0 s and 50 s: with max_gap 45 s the value is held at 0 s's until 50 s; with
    max_gap 50 s (a gap of exactly max_gap) it is still interpolated."""
    line = counter([(0.0, 0.0), (50.0, 100.0)])
    assert line.at(25.0, 45.0) == 0.0
    assert line.at(25.0, 50.0) == pytest.approx(50.0)
    assert line.at(50.0, 45.0) == 100.0


def test_counter_readings_are_reset_adjusted() -> None:
    """1000 -> 1100 (+100), -> 50 (a reset: +50), -> 150 (+100): 0, 100, 150, 250."""
    line = counter([(0.0, 1000.0), (10.0, 1100.0), (20.0, 50.0), (30.0, 150.0)])
    assert [line.at(t, 45.0) for t in (0.0, 10.0, 20.0, 30.0)] == [0.0, 100.0, 150.0, 250.0]
    assert line.resets == 1


def test_counter_wraps_modulo_its_width() -> None:
    """Width 1000: 950 -> 980 (+30), -> 10 (a wrap from the top 10 %: +30), -> 15 (+5)."""
    line = counter([(0.0, 950.0), (15.0, 980.0), (30.0, 10.0), (45.0, 15.0)], width=1000.0)
    assert [line.at(t, 45.0) for t in (0.0, 15.0, 30.0, 45.0)] == [0.0, 30.0, 60.0, 65.0]
    assert line.resets == 1
    again = counter([(0.0, 5.0), (10.0, 5.0), (20.0, 7.0)])  # equal readings: no reset
    assert again.resets == 0 and again.at(20.0, 45.0) == 2.0


def test_samples_not_newer_than_the_last_are_ignored() -> None:
    line = counter([(10.0, 100.0), (10.0, 500.0), (5.0, 0.0), (20.0, 200.0)])
    assert [line.at(t, 45.0) for t in (10.0, 15.0, 20.0)] == [0.0, 50.0, 100.0]
    assert line.resets == 0 and len(line) == 2
    g = gauge([(0.0, 10.0), (0.0, 99.0), (10.0, 20.0)])
    assert [g.at(t, 45.0) for t in (0.0, 5.0, 10.0)] == [10.0, 15.0, 20.0]


def test_fresh_means_every_point_within_max_gap_after_a_sample() -> None:
    line = counter([(0.0, 0.0), (50.0, 50.0)])
    assert not line.fresh(-15.0, 0.0, 45.0)  # before the first sample
    assert line.fresh(0.0, 15.0, 45.0)
    assert line.fresh(30.0, 45.0, 45.0)  # 45 s after 0 s: still within max_gap
    assert not line.fresh(31.0, 46.0, 45.0)
    assert not line.fresh(45.0, 60.0, 45.0)  # [45, 50) lies beyond 45 s after 0 s
    assert line.fresh(50.0, 65.0, 45.0)
    assert line.fresh(80.0, 95.0, 45.0)
    assert not line.fresh(81.0, 96.0, 45.0)
    assert line.fresh(45.0, 60.0, 50.0)


def test_gauge_integral_is_the_trapezoid_sum() -> None:
    """10 W at 0 s, 20 W at 10 s, 20 W at 20 s, 5 W at 30 s; max_gap 45 s.
    [0, 15): 150 J (0..10) + 100 J (10..15) = 250 J. [5, 25), by pieces: (15 + 20) / 2 x 5
    = 87.5 J, then 200 J, then (20 + 12.5) / 2 x 5 = 81.25 J: 368.75 J."""
    g = gauge([(0.0, 10.0), (10.0, 20.0), (20.0, 20.0), (30.0, 5.0)])
    assert g.integral(0.0, 15.0, 45.0) == pytest.approx(250.0)
    assert g.integral(5.0, 25.0, 45.0) == pytest.approx(368.75)
    assert g.integral(30.0, 45.0, 45.0) == pytest.approx(75.0)  # held at 5 W


def test_gauge_integral_across_a_long_gap_holds_the_value_before_it() -> None:
    g = gauge([(0.0, 2.0), (100.0, 10.0)])
    assert g.integral(0.0, 15.0, 45.0) == pytest.approx(30.0)
    assert g.integral(0.0, 15.0, 200.0) == pytest.approx(2.0 * 15 + 0.08 * 15**2 / 2)


def test_prune_keeps_the_sample_that_still_defines_the_line() -> None:
    line = counter([(0.0, 0.0), (10.0, 10.0), (20.0, 20.0), (30.0, 30.0)])
    line.prune(15.0)
    assert len(line) == 3 and line.at(15.0, 45.0) == pytest.approx(15.0)
    assert line.at(5.0, 45.0) is None
    line.prune(20.0)  # a sample exactly at `before` is the one kept
    assert len(line) == 2 and line.at(20.0, 45.0) == 20.0
    line.prune(0.0)
    assert len(line) == 2


# --- CounterBank ---------------------------------------------------------------------------


def add(bank: CounterBank, rows: list[tuple[int, float, list[float]]]) -> None:
    bank.add(
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=float),
        np.array([r[2] for r in rows], dtype=float),
    )


def test_bank_increase_between_calls_interpolated_at_the_edges() -> None:
    """Series a: packets 0, 10, 30 and bytes 0, 1000, 3000 at 0, 10, 20 s. Edges 15 and 30."""
    bank = CounterBank(2, 45.0)
    a = bank.series_id(("du", "a"))
    add(bank, [(a, 0.0, [0.0, 0.0]), (a, 10.0, [10.0, 1000.0]), (a, 20.0, [30.0, 3000.0])])
    assert bank.increase(15.0).tolist() == [[20.0, 2000.0]]
    assert bank.increase(30.0).tolist() == [[10.0, 1000.0]]
    assert bank.increase(45.0).tolist() == [[0.0, 0.0]]


def test_bank_series_ids_are_stable_and_grow_past_the_first_allocation() -> None:
    bank = CounterBank(1, 45.0)
    ids = [bank.series_id(("nf", str(i))) for i in range(40)]
    assert ids == list(range(40)) and bank.series_id(("nf", "7")) == 7
    add(bank, [(i, t, [float(i) * t]) for i in ids for t in (0.0, 15.0)])
    assert bank.increase(15.0)[:, 0].tolist() == [15.0 * i for i in ids]
    assert bank.keys[39] == ("nf", "39")


def test_bank_resets_count_from_zero_and_wraps_use_the_width() -> None:
    """Without width: 100 -> 20 is a reset (+20). Width 256: 250 -> 4 wraps (+10); 100 -> 4
    is a reset (+4). Equal readings add nothing."""
    bank = CounterBank(1, 45.0)
    plain = bank.series_id(("plain",))
    wide = bank.series_id(("w",), width=256.0)
    low = bank.series_id(("low",), width=256.0)
    add(
        bank,
        [
            (plain, 0.0, [90.0]),
            (plain, 5.0, [100.0]),
            (plain, 10.0, [20.0]),
            (plain, 15.0, [20.0]),
            (wide, 0.0, [240.0]),
            (wide, 5.0, [250.0]),
            (wide, 10.0, [4.0]),
            (wide, 15.0, [4.0]),
            (low, 0.0, [90.0]),
            (low, 5.0, [100.0]),
            (low, 10.0, [4.0]),
            (low, 15.0, [6.0]),
        ],
    )
    assert bank.increase(15.0)[:, 0].tolist() == [30.0, 20.0, 16.0]
    assert bank.resets == 3


def test_bank_reset_across_two_calls_of_add() -> None:
    """The previous raw value is remembered between batches: 100, then 20 later is a reset."""
    bank = CounterBank(1, 45.0)
    s = bank.series_id(("s",))
    add(bank, [(s, 0.0, [50.0]), (s, 5.0, [100.0])])
    add(bank, [(s, 10.0, [20.0]), (s, 15.0, [30.0])])
    assert bank.increase(15.0)[:, 0].tolist() == [80.0]  # 50 + 20 + 10
    assert bank.resets == 1


def test_bank_ignores_samples_not_newer_and_sorts_what_it_gets() -> None:
    bank = CounterBank(1, 45.0)
    s = bank.series_id(("s",))
    add(bank, [(s, 10.0, [10.0]), (s, 0.0, [0.0]), (s, 10.0, [999.0])])  # unsorted, a repeat
    add(bank, [(s, 5.0, [777.0]), (s, 20.0, [20.0])])  # 5 s is older than what it has
    assert bank.values_at(10.0).tolist() == [[10.0]]
    assert bank.values_at(15.0).tolist() == [[15.0]]
    assert bank.resets == 0


batches = st.lists(
    st.one_of(
        st.lists(st.tuples(st.integers(0, 4), st.integers(0, 30)), max_size=12),
        st.integers(0, 30),  # a prune before this time
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(steps=batches)
def test_bank_history_stays_in_series_then_time_order(
    steps: list[list[tuple[int, int]] | int],
) -> None:
    """Batches in any order, prunes and reads in between: the history the bank evaluates is
    every accepted sample (newer than its series' last), in (series, time) order, as a plain
    sort of a model kept here says."""
    bank = CounterBank(1, 45.0)
    for i in range(5):
        bank.series_id((str(i),))
    model: dict[int, list[float]] = {i: [] for i in range(5)}
    first: dict[int, float] = {}
    for step in steps:
        if isinstance(step, int):
            bank.prune(float(step))
            for ts in model.values():
                at = [k for k, x in enumerate(ts) if x <= step]
                del ts[: at[-1] if at else 0]
        elif step:
            for sid, t in sorted(step):
                if not model[sid] or t > model[sid][-1]:
                    model[sid].append(float(t))
                    first.setdefault(sid, float(t))
            add(bank, [(sid, float(t), [float(t)]) for sid, t in step])
        bank.values_at(10.0)  # reads consolidate what the adds appended
        want = sorted((sid, t) for sid, ts in model.items() for t in ts)
        if bank._sid:
            sid, t, cum = bank._consolidate()
            assert list(zip(sid.tolist(), t.tolist(), strict=True)) == want
            assert cum[:, 0].tolist() == [t - first[sid] for sid, t in want]  # raw readings = t
        else:
            assert want == []


def test_bank_values_are_nan_before_a_series_starts_and_held_across_long_gaps() -> None:
    bank = CounterBank(1, 45.0)
    early = bank.series_id(("early",))
    late = bank.series_id(("late",))
    add(bank, [(early, 0.0, [0.0]), (early, 100.0, [100.0]), (late, 50.0, [7.0])])
    v = bank.values_at(20.0)
    assert v[0, 0] == 0.0 and math.isnan(v[1, 0])  # gap of 100 s > 45 s: held at 0
    assert bank.values_at(100.0).tolist() == [[100.0], [0.0]]
    assert bank.last_time_at(20.0).tolist() == [0.0, -math.inf]
    assert bank.last_time_at(60.0).tolist() == [0.0, 50.0]
    short = CounterBank(1, 100.0)
    e = short.series_id(("early",))
    add(short, [(e, 0.0, [0.0]), (e, 100.0, [100.0])])
    assert short.values_at(20.0).tolist() == [[20.0]]  # a gap of exactly max_gap: interpolated


def test_bank_increase_of_a_series_that_starts_later_counts_from_its_first_sample() -> None:
    bank = CounterBank(1, 45.0)
    a = bank.series_id(("a",))
    b = bank.series_id(("b",))
    add(bank, [(a, 0.0, [0.0]), (a, 15.0, [15.0])])
    assert bank.increase(15.0).tolist() == [[15.0], [0.0]]
    add(bank, [(a, 30.0, [30.0]), (b, 20.0, [1000.0]), (b, 30.0, [1010.0])])
    assert bank.increase(30.0).tolist() == [[15.0], [10.0]]


def test_bank_empty_and_prune() -> None:
    bank = CounterBank(1, 45.0)
    assert bank.values_at(0.0).shape == (0, 1) and bank.last_time_at(0.0).shape == (0,)
    bank.prune(0.0)
    s = bank.series_id(("s",))
    add(bank, [(s, 0.0, [0.0])])
    add(bank, [(s, 10.0, [10.0])])
    add(bank, [(s, 20.0, [20.0])])
    add(bank, [(s, 30.0, [30.0])])
    bank.prune(15.0)  # keeps the sample at 10 s, which still defines the value at 15 s
    assert bank.values_at(15.0).tolist() == [[15.0]]
    assert math.isnan(bank.values_at(5.0)[0, 0])
    bank.prune(20.0)
    assert bank.values_at(20.0).tolist() == [[20.0]] and math.isnan(bank.values_at(15.0)[0, 0])
    assert bank.values_at(100.0).tolist() == [[30.0]]


def test_a_gauge_reading_of_zero_watts_integrates_to_zero() -> None:
    g = gauge([(0.0, 0.0), (10.0, 0.0), (20.0, 4.0)])
    assert g.integral(0.0, 10.0, 45.0) == 0.0
    assert g.integral(0.0, 20.0, 45.0) == pytest.approx(20.0)  # 0 to 4 W over 10 s


def test_bank_rejects_a_later_sample_at_the_same_time_as_the_last() -> None:
    bank = CounterBank(1, 45.0)
    s = bank.series_id(("s",))
    add(bank, [(s, 0.0, [0.0]), (s, 10.0, [10.0])])
    add(bank, [(s, 10.0, [999.0]), (s, 20.0, [20.0])])
    assert bank.values_at(10.0).tolist() == [[10.0]]
    assert bank.values_at(20.0).tolist() == [[20.0]] and bank.resets == 0


def test_bank_batches_with_several_series_keep_each_series_own_state() -> None:
    """One batch with two series, each with a repeated time; then a second batch for each with
    a sample older than its last one (ignored) and a newer one."""
    bank = CounterBank(1, 45.0)
    a = bank.series_id(("a",))
    b = bank.series_id(("b",))
    add(
        bank,
        [
            (a, 0.0, [0.0]),
            (a, 10.0, [10.0]),
            (b, 0.0, [100.0]),
            (b, 10.0, [110.0]),
            (b, 10.0, [555.0]),  # the same time again within the batch: ignored
        ],
    )
    add(bank, [(a, 5.0, [777.0]), (a, 20.0, [12.0]), (b, 5.0, [1.0]), (b, 20.0, [130.0])])
    assert bank.values_at(10.0).tolist() == [[10.0], [10.0]]
    assert bank.values_at(20.0).tolist() == [[12.0], [30.0]]
    assert bank.values_at(15.0).tolist() == [[11.0], [20.0]]
    assert bank.resets == 0


def test_every_reset_and_wrap_is_counted() -> None:
    line = counter([(0.0, 100.0), (5.0, 10.0), (10.0, 20.0), (15.0, 5.0), (20.0, 6.0)])
    assert line.resets == 2 and line.at(20.0, 45.0) == 10.0 + 10.0 + 5.0 + 1.0


def test_bank_interpolates_late_in_time_too() -> None:
    """Samples at 1000 s and 1010 s (10 s apart): the value at 1005 s is interpolated."""
    bank = CounterBank(1, 45.0)
    s = bank.series_id(("s",))
    add(bank, [(s, 1000.0, [0.0]), (s, 1010.0, [10.0])])
    assert bank.values_at(1005.0).tolist() == [[5.0]]


def _through_json(state: dict[str, object]) -> dict[str, object]:
    """As the store keeps it: JSON text, read back by another process."""
    import json

    out: dict[str, object] = json.loads(json.dumps(state))
    return out


def test_a_counter_line_restored_from_its_state_continues_by_hand() -> None:
    """A 1000-wide counter read at 990 (t=0) and 995 (t=5): its state from t=5 keeps the t=5
    sample, the raw 995, the width and the reset count; the restored line takes 5 at t=10 as a
    wrap of 1000 - 995 + 5 = 10, not a reset (which would book 5)."""
    line = Line(width=1000.0)
    line.add_counter(0.0, 990.0)
    line.add_counter(5.0, 995.0)
    state = _through_json(line.state(5.0))
    assert state == {"t": [5.0], "y": [5.0], "raw": 995.0, "width": 1000.0, "resets": 0}
    back = Line.from_state(state)
    assert back.width == 1000.0 and back.resets == 0 and len(back) == 1
    back.add_counter(4.0, 1.0)  # older than the restored sample: ignored
    back.add_counter(10.0, 5.0)
    assert back.resets == 1
    assert back.at(10.0, 10.0) == 15.0
    assert back.at(7.5, 10.0) == 10.0  # halfway from 5 (t=5) to 15 (t=10)
    assert back.at(4.0, 10.0) is None
    wide = Line.from_state(_through_json(Line(width=None).state(0.0)))
    assert wide.width is None and len(wide) == 0
    wide.add_counter(0.0, 7.0)
    wide.add_counter(1.0, 3.0)  # no width: a decrease is a reset, 3 J since it
    assert wide.at(1.0, 5.0) == 3.0 and wide.resets == 1
    early = Line(width=None)
    early.add_gauge(2.0, 4.0)
    early.add_gauge(3.0, 6.0)
    assert _through_json(early.state(0.0))["t"] == [2.0, 3.0]  # `since` before every sample


def test_a_counter_bank_restored_from_its_state_continues_by_hand() -> None:
    """Three (packets, bytes) counters: `a` 100 wide, `b` without width, `c` dropped on restore
    (its NF left the settings), `d` first read after the last increase (no carry yet). Each
    series' increase after the restore is counted here by hand."""
    bank = CounterBank(2, max_gap=10.0)
    a = bank.series_id(("a",), 100.0)
    b = bank.series_id(("b", "x"))
    c = bank.series_id(("c",))
    ids = np.array([a, b, c, a, b], dtype=np.int64)
    ts = np.array([0.0, 0.0, 0.0, 5.0, 5.0])
    raw = np.array([[90.0, 5.0], [10.0, 10.0], [1.0, 1.0], [95.0, 7.0], [20.0, 30.0]])
    bank.add(ids, ts, raw)
    assert bank.increase(5.0).tolist() == [[5.0, 2.0], [10.0, 20.0], [0.0, 0.0]]
    d = bank.series_id(("d",))
    bank.add(np.array([d]), np.array([6.0]), np.array([[1.0, 1.0]]))

    state = _through_json(bank.state(5.0))
    assert state["keys"] == [["a"], ["b", "x"], ["c"], ["d"]]  # JSON arrays, in series order
    back = CounterBank(2, max_gap=10.0)
    back.restore(state, keep=lambda key: key != ("c",))
    assert back.keys == [("a",), ("b", "x"), ("d",)]
    assert back.index_of(("c",)) is None and back.index_of(("d",)) == 2
    assert back.index_of(("b", "x")) == 1
    # the value at 7.5 interpolates the restored t=5 sample of `a` (cumulative 5 packets, 2
    # bytes) and the new t=10 one: 95 -> 5 on a 100-wide counter is a wrap of 10, so 15 packets;
    # 7 -> 9 bytes is 2 more, so 4: halfway, (10, 3)
    ids = np.array([0, 1, 2, 0], dtype=np.int64)
    ts = np.array([10.0, 10.0, 10.0, 5.0])  # the last: not newer than the restored t=5, ignored
    raw = np.array([[5.0, 9.0], [3.0, 31.0], [4.0, 4.0], [0.0, 0.0]])
    back.add(ids, ts, raw)
    assert back.values_at(7.5)[0].tolist() == [10.0, 3.0]
    # a: wrap 10 packets, 2 bytes; b: 20 -> 3 without width is a reset (3), 30 -> 31 is 1;
    # d: 1 -> 4 is 3 each, counted from its first reading (no carry was kept for it)
    assert back.increase(10.0).tolist() == [[10.0, 2.0], [3.0, 1.0], [3.0, 3.0]]
    assert back.resets == 2  # a's wrap and b's reset, counted by this process
    assert back.last_time_at(10.0).tolist() == [10.0, 10.0, 10.0]
    assert back.last_time_at(5.5).tolist() == [5.0, 5.0, -math.inf]
    with pytest.raises(ValueError, match="empty bank"):
        back.restore(_through_json(bank.state(5.0)), keep=lambda key: True)
    none = CounterBank(2, max_gap=10.0)
    none.restore(_through_json(bank.state(5.0)), keep=lambda key: False)
    assert none.keys == [] and none.increase(10.0).shape == (0, 2)


def test_forget_drops_only_old_series_whose_increase_is_all_taken_by_hand() -> None:
    """Four series of two columns, max_gap 10 s; the edge at 5 s is taken by `increase`:
    A (last sample at 5) and E (last at 5) are then fully taken, C (last at 6) is not (its value
    at 5 is 2.5, its last 3), B gets a sample at 20 s. forget(4): nothing is old enough. forget(15):
    A and E go, B and C move to ids 0 and 1 with their widths, last readings, carries and
    histories; A coming back starts afresh (its first reading is its baseline)."""
    bank = CounterBank(2, max_gap=10.0)
    a, b, c, e = (bank.series_id(k, w) for k, w in ((("A",), None), (("B",), 100.0),
                                                    (("C",), 50.0), (("E",), None)))  # fmt: skip
    rows = [(a, 0, 0), (a, 5, 10), (b, 0, 0), (b, 5, 4), (c, 0, 0), (c, 6, 3), (e, 0, 0), (e, 5, 2)]
    bank.add(np.array([r[0] for r in rows]), np.array([float(r[1]) for r in rows]),
             np.array([[r[2], 10 * r[2]] for r in rows], dtype=float))  # fmt: skip
    assert bank.increase(5.0).tolist() == [[10, 100], [4, 40], [2.5, 25], [2, 20]]
    bank.add(np.array([b]), np.array([20.0]), np.array([[8.0, 80.0]]))
    assert bank.forget(4.0) is None
    assert bank.keys == [("A",), ("B",), ("C",), ("E",)]
    remap = bank.forget(15.0)
    assert remap is not None and remap.tolist() == [-1, 0, 1, -1]
    assert bank.keys == [("B",), ("C",)]
    assert bank.series_id(("B",)) == 0 and bank.series_id(("C",)) == 1
    # histories kept: B held at 4 across its 15 s gap, C interpolated between 0 s and 6 s
    assert bank.values_at(10.0).tolist() == [[4, 40], [3, 30]]
    assert bank.values_at(3.0).tolist() == [[3.0 * 4 / 5, 3.0 * 40 / 5], [1.5, 15]]
    # carries kept: the increase from the 5 s edge
    assert bank.increase(20.0).tolist() == [[4, 40], [0.5, 5]]
    # last readings, times and widths kept: B at 25 s reads 2 more; an older sample is ignored;
    # C wraps at its width 50 (3 -> 49 is +46; 49 -> 3 is 3 + 50 - 49 = +4)
    bank.add(np.array([0, 0, 1, 1]), np.array([25.0, 19.0, 21.0, 22.0]),
             np.array([[10, 100], [0, 0], [49, 49], [3, 99]], dtype=float))  # fmt: skip
    assert bank.values_at(25.0).tolist() == [[10, 100], [3 + 46 + 4, 30 + 19 + 50]]
    again = bank.series_id(("A",))
    assert again == 2
    bank.add(np.array([again]), np.array([30.0]), np.array([[50.0, 500.0]]))
    assert bank.increase(30.0)[again].tolist() == [0, 0]
