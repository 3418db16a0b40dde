"""Per-NF energy in a window (DESIGN.md section 4), on EnergyState directly: counter or gauge,
the coarse-counter rule at its 1 % boundary, carry and catch-up across stale windows, GPU energy,
and the idle policies. Every number is worked out by hand in the test."""

from __future__ import annotations

import json

import pytest

from collector.attribution.energy import EnergyState, NfEnergy
from collector.attribution.records import EnergyRecord
from collector.attribution.topology import NfSpec

W, GAP = 15.0, 45.0


def state(spec: NfSpec | None = None, *records: EnergyRecord) -> EnergyState:
    st = EnergyState(spec or NfSpec("ru", "ru"))
    for r in records:
        st.add(r)
    return st


def counter(t: float, joules: float, **kw: object) -> EnergyRecord:
    return EnergyRecord(t=t, nf="ru", joules_total=joules, **kw)  # type: ignore[arg-type]


def watts(t: float, w: float, **kw: object) -> EnergyRecord:
    return EnergyRecord(t=t, nf="ru", watts=w, **kw)  # type: ignore[arg-type]


def windows(st: EnergyState, *starts: float) -> list[NfEnergy]:
    return [st.window(s, s + W, GAP) for s in starts]


def test_counter_energy_is_its_increase_over_the_window() -> None:
    """2 W counter from 1000 J: [0, 15) 30 J, [15, 30) 30 J; the method says counter."""
    st = state(None, *(counter(t, 1000.0 + 2.0 * t) for t in range(0, 31, 5)))
    got = windows(st, 0.0, 15.0)
    assert [(e.regular_joules, e.catch_up_joules, e.method) for e in got] == [
        (30.0, 0.0, "counter"),
        (30.0, 0.0, "counter"),
    ]
    assert got[0].energy_basis == "measured" and got[0].idle_joules == 0.0


def test_no_signal_is_stale() -> None:
    e = state().window(0.0, W, GAP)
    assert (e.regular_joules, e.catch_up_joules, e.idle_joules, e.method) == (
        None,
        0.0,
        0.0,
        "none",
    )


def test_gauge_when_there_is_no_counter() -> None:
    st = state(None, watts(0.0, 4.0), watts(10.0, 4.0))
    (e,) = windows(st, 0.0)
    assert (e.regular_joules, e.method) == (60.0, "gauge")


@pytest.mark.parametrize(
    ("resolution", "method", "joules"),
    [
        (None, "counter", 1485.0),
        (15.0, "counter", 1485.0),  # exactly 1 % of the gauge's 100 W x 15 s: fine enough
        (15.01, "gauge", 1500.0),  # above 1 %: the gauge is used
        (360_000.0, "gauge", 1500.0),
    ],
)
def test_coarse_counter_rule_at_its_boundary(
    resolution: float | None, method: str, joules: float
) -> None:
    """The counter says 99 W, the gauge 100 W, so the method is visible in the energy."""
    spec = NfSpec("ru", "ru", counter_resolution_joules=resolution)
    recs = [counter(t, 99.0 * t) for t in (0.0, 10.0, 20.0)]
    recs += [watts(t, 100.0) for t in (0.0, 10.0, 20.0)]
    (e,) = windows(state(spec, *recs), 0.0)
    assert e.method == method and e.regular_joules == pytest.approx(joules)


def test_resolution_from_a_record_overrides_the_profile() -> None:
    recs = [counter(t, 100.0 * t) for t in (0.0, 10.0, 20.0)]
    recs += [watts(t, 101.0, resolution_joules=360_000.0) for t in (0.0, 10.0, 20.0)]
    (e,) = windows(state(NfSpec("ru", "ru", counter_resolution_joules=1.0), *recs), 0.0)
    assert e.method == "gauge"


def test_energy_basis_follows_the_records() -> None:
    st = state(NfSpec("du", "du", energy_basis="measured"), counter(0.0, 0.0))
    st.add(counter(15.0, 30.0, energy_basis="modelled"))
    assert st.window(0.0, W, GAP).energy_basis == "modelled"
    st.add(counter(30.0, 60.0))  # a record without a basis keeps the last one
    assert st.window(15.0, 30.0, GAP).energy_basis == "modelled"


def test_catch_up_after_a_stale_stretch_and_carry_between_fresh_windows() -> None:
    """1 W counter sampled every 5 s, silent from 20 s to 100 s. [0, 15): 15 J. [15, 30): the
    line is held at 20 J after 20 s: 5 J. [60, 75): stale. [105, 120): 15 J regular, and the
    catch-up F(105) - F(30) = 105 - 20 = 85 J."""
    times = [0, 5, 10, 15, 20, 100, 105, 110, 115, 120]
    st = state(None, *(counter(float(t), float(t)) for t in times))
    a, b, c, d = windows(st, 0.0, 15.0, 60.0, 105.0)
    assert (a.regular_joules, a.catch_up_joules) == (15.0, 0.0)
    assert (b.regular_joules, b.catch_up_joules) == (5.0, 0.0)
    assert (c.regular_joules, c.method) == (None, "none")
    assert (d.regular_joules, d.catch_up_joules) == (15.0, 85.0)


def test_a_counter_going_back_within_a_window_is_not_negative_energy() -> None:
    """The carried value at 15 s was 15 J; a reset reading makes the line continue from it."""
    recs = [counter(t, t) for t in (0.0, 5.0, 10.0, 15.0)] + [counter(20.0, 1.0)]
    recs += [counter(t, 1.0 + t - 20.0) for t in (25.0, 30.0)]
    st = state(None, *recs)
    a, b = windows(st, 0.0, 15.0)
    assert a.regular_joules == 15.0
    assert b.regular_joules == pytest.approx(1.0 + 10.0)  # +1 at the reset, then 1 J/s


def test_a_gauge_window_with_a_stale_counter_forgets_the_carry() -> None:
    """Counter until 15 s, then only the gauge (3 W) until the counter returns at 120 s: energy
    the gauge measured in between is not caught up again from the counter."""
    recs = [counter(t, 2.0 * t) for t in (0.0, 5.0, 10.0, 15.0)]
    recs += [watts(t, 3.0) for t in range(0, 136, 5)]
    recs += [counter(t, 2.0 * t) for t in (120.0, 125.0, 130.0, 135.0)]
    st = state(None, *recs)
    a, b, c = windows(st, 0.0, 75.0, 120.0)
    assert (a.method, a.regular_joules) == ("counter", 30.0)
    assert (b.method, b.regular_joules) == ("gauge", 45.0)
    assert (c.method, c.regular_joules, c.catch_up_joules) == ("counter", 30.0, 0.0)


def test_gpu_energy_is_added_and_caught_up_on_its_own() -> None:
    """CPU 2 W, GPU 6 W: 30 + 90 = 120 J a window. The GPU counter is silent from 20 s to 75 s:
    held at F(20) = 120 J until 65 s, stale in [60, 75), where it adds nothing; in [75, 90) its
    gap is caught up: F(75) - F(20) = 330 J. The GPU's 540 J over 90 s are all there."""
    recs = [counter(float(t), 2.0 * t) for t in range(0, 91, 5)]
    gpu = [t for t in range(0, 91, 5) if not 20 < t < 75]
    recs += [counter(float(t), 6.0 * t, mode="gpu") for t in gpu]
    st = state(NfSpec("vlm", "inference"), *recs)
    got = [(e.regular_joules, e.catch_up_joules) for e in windows(st, *range(0, 76, 15))]
    assert got == [
        (120.0, 0.0),
        (30.0 + 6.0 * 5, 0.0),  # the GPU line is held after 20 s
        (30.0, 0.0),
        (30.0, 0.0),
        (30.0, 0.0),  # the GPU counter is stale: nothing from it
        (120.0, 330.0),
    ]
    assert sum(r + c for r, c in got) == 6 * 30.0 + 540.0


def test_gpu_alone_makes_no_window() -> None:
    st = state(None, *(counter(float(t), 6.0 * t, mode="gpu") for t in range(0, 31, 5)))
    (e,) = windows(st, 0.0)
    assert e.regular_joules is None


def test_fixed_idle_is_watts_times_seconds_even_above_the_energy() -> None:
    spec = NfSpec("ru", "ru", idle_policy="fixed", idle_watts=2.5)
    st = state(spec, *(counter(t, t) for t in (0.0, 15.0)))
    assert st.window(0.0, W, GAP).idle_joules == 37.5  # the split caps it at E
    assert st.window(15.0, 20.0, GAP).idle_joules == 12.5  # a 5 s window


def test_source_idle_is_the_idle_counter_increase() -> None:
    spec = NfSpec("du", "du", idle_policy="source")
    recs = [counter(t, 4.0 * t) for t in range(0, 61, 5)]
    recs += [counter(t, 1.0 * t, mode="idle") for t in (0, 5, 10)]
    st = state(spec, *(r for r in recs))
    a, b = windows(st, 0.0, 45.0)
    assert a.idle_joules == 10.0  # 1 W until 10 s, then held
    assert b.idle_joules == 0.0  # the idle counter is stale in [45, 60)
    reset = state(spec, counter(0.0, 0.0), counter(15.0, 60.0))
    reset.add(counter(0.0, 100.0, mode="idle"))
    reset.add(counter(15.0, 5.0, mode="idle"))  # an idle counter reset: +5, never negative
    assert reset.window(0.0, W, GAP).idle_joules == 5.0


def test_rolling_min_idle_is_the_lowest_window_mean_in_the_horizon() -> None:
    """Window means 4, 4, 2, 3 W (60, 60, 30, 45 J). The horizon holds the windows that start
    at most `horizon` before this one ends: 24 h or 30 s: 60, 60, 30, 30 J; 15 s, only this
    window: 60, 60, 30, 45 J."""
    power = {0.0: 4.0, 15.0: 4.0, 30.0: 2.0, 45.0: 3.0}
    cum, recs = 0.0, [counter(0.0, 0.0)]
    for start, w in power.items():
        for k in (5.0, 10.0, 15.0):
            recs.append(counter(start + k, cum + w * k))
        cum += w * W
    for horizon, expected in ((86_400.0, [60, 60, 30, 30]), (30.0, [60, 60, 30, 30])):
        spec = NfSpec("du", "du", idle_policy="rolling_min", idle_horizon_seconds=horizon)
        got = [e.idle_joules for e in windows(state(spec, *recs), *power)]
        assert got == pytest.approx(expected), horizon
    spec = NfSpec("du", "du", idle_policy="rolling_min", idle_horizon_seconds=15.0)
    got = [e.idle_joules for e in windows(state(spec, *recs), *power)]
    assert got == pytest.approx([60, 60, 30, 45])


def test_rolling_min_horizon_drops_old_windows() -> None:
    """Means 1 W then 5 W for three windows; horizon 30 s: the 1 W window (start 0 s) drops
    out for the window starting at 30 s, which ends at 45 s (45 - 30 = 15 > 0)."""
    recs, cum = [counter(0.0, 0.0)], 0.0
    for start, w in ((0.0, 1.0), (15.0, 5.0), (30.0, 5.0), (45.0, 5.0)):
        recs.append(counter(start + W, cum + w * W))
        cum += w * W
    spec = NfSpec("du", "du", idle_policy="rolling_min", idle_horizon_seconds=30.0)
    got = [e.idle_joules for e in windows(state(spec, *recs), 0.0, 15.0, 30.0, 45.0)]
    assert got == pytest.approx([15.0, 15.0, 75.0, 75.0])


def test_no_idle_policy_and_stale_windows_have_no_idle() -> None:
    st = state(None, *(counter(t, t) for t in (0.0, 15.0)))
    assert st.window(0.0, W, GAP).idle_joules == 0.0
    fixed = state(NfSpec("ru", "ru", idle_policy="fixed", idle_watts=2.0))
    assert fixed.window(0.0, W, GAP).idle_joules == 0.0  # stale: nothing to split


def test_prune_keeps_what_the_next_window_needs() -> None:
    st = state(None, *(counter(t, 3.0 * t) for t in range(0, 61, 5)))
    assert st.window(0.0, W, GAP).regular_joules == 45.0
    st.prune(15.0)
    assert st.window(15.0, 30.0, GAP).regular_joules == 45.0
    assert st.counter is not None and len(st.counter) == 10


def test_an_idle_counter_wraps_with_its_declared_width() -> None:
    """Idle counter of width 1000 J: 990 -> 10 is a wrap from the top 10 %: +20 J, not +10."""
    spec = NfSpec("du", "du", idle_policy="source")
    st = state(spec, counter(0.0, 0.0), counter(15.0, 60.0))
    st.add(counter(0.0, 990.0, mode="idle", counter_width_joules=1000.0))
    st.add(counter(15.0, 10.0, mode="idle", counter_width_joules=1000.0))
    assert st.window(0.0, W, GAP).idle_joules == pytest.approx(20.0)


def test_an_idle_gpu_adds_nothing_and_catches_up_nothing() -> None:
    """The GPU counter never moves: 0 J from it, also after a gap."""
    recs = [counter(float(t), 2.0 * t) for t in range(0, 91, 5)]
    recs += [counter(float(t), 500.0, mode="gpu") for t in range(0, 91, 5) if not 20 < t < 75]
    st = state(NfSpec("vlm", "inference"), *recs)
    got = [(e.regular_joules, e.catch_up_joules) for e in windows(st, *range(0, 76, 15))]
    assert got == [(30.0, 0.0)] * 6


def test_a_gpu_counter_wraps_with_its_declared_width() -> None:
    recs = [counter(t, 2.0 * t) for t in (0.0, 15.0)]
    recs += [
        counter(0.0, 995.0, mode="gpu", counter_width_joules=1000.0),
        counter(15.0, 5.0, mode="gpu", counter_width_joules=1000.0),  # a wrap: +10 J
    ]
    (e,) = windows(state(NfSpec("vlm", "inference"), *recs), 0.0)
    assert e.regular_joules == pytest.approx(30.0 + 10.0)


def test_a_counter_that_does_not_move_measures_zero() -> None:
    """0 W: no energy, and after a gap no catch-up either."""
    st = state(None, *(counter(float(t), 500.0) for t in (0, 5, 10, 15, 20, 100, 105, 120)))
    got = [(e.regular_joules, e.catch_up_joules) for e in windows(st, 0.0, 15.0, 60.0, 105.0)]
    assert got == [(0.0, 0.0), (0.0, 0.0), (None, 0.0), (0.0, 0.0)]


def test_a_late_sample_goes_to_the_next_window_not_to_catch_up() -> None:
    """[0, 15) is computed when the last sample is at 10 s (held: 10 J at 15 s). The sample at
    20 s (20 J) arrives later: [15, 30) gets F(30) - 10 J = 10 J as regular energy, no catch-up."""
    st = state(None, counter(0.0, 0.0), counter(10.0, 10.0))
    (a,) = windows(st, 0.0)
    assert a.regular_joules == 10.0
    st.add(counter(20.0, 20.0))
    st.add(counter(30.0, 20.0))
    (b,) = windows(st, 15.0)
    assert (b.regular_joules, b.catch_up_joules) == (10.0, 0.0)


def test_source_idle_without_an_idle_counter_is_zero() -> None:
    st = state(NfSpec("du", "du", idle_policy="source"), counter(0.0, 0.0), counter(15.0, 60.0))
    assert st.window(0.0, W, GAP).idle_joules == 0.0


def test_source_idle_in_a_later_window_and_a_flat_idle_counter() -> None:
    spec = NfSpec("du", "du", idle_policy="source")
    recs = [counter(t, 4.0 * t) for t in range(0, 31, 5)]
    rising = state(spec, *recs, *(counter(t, 50.0 + t, mode="idle") for t in range(0, 31, 5)))
    assert [e.idle_joules for e in windows(rising, 0.0, 15.0)] == [15.0, 15.0]
    flat = state(spec, *recs, *(counter(t, 50.0, mode="idle") for t in range(0, 31, 5)))
    assert [e.idle_joules for e in windows(flat, 0.0, 15.0)] == [0.0, 0.0]


def test_a_restored_state_continues_every_line_carry_and_setting() -> None:
    """One NF with a counter and a gauge (2 W each), Kepler's idle counter (1 W) and GPU counter
    (3 W); the source says 5 J resolution (coarse against 30 J of gauge energy: the gauge is
    used) and a modelled basis. [0, 15) is computed, the state at 15 goes through JSON into a
    new EnergyState, and the readings go on there without resolution or basis. With a 10 s gap
    the GPU counter is stale in [15, 30) (its readings at 15 and 30 only) and back in [30, 45):
    there its 45 J since 30 are regular and the 45 J between 15 and 30 come back as catch-up,
    measured from the GPU carry of 15 (245 J) the state kept."""
    spec = NfSpec("ru", "ru", idle_policy="source")
    gap = 10.0

    def readings(times: range, *, first: bool) -> list[EnergyRecord]:
        kw: dict[str, object] = {"resolution_joules": 5.0, "energy_basis": "modelled"}
        out = [
            *(counter(t, 1000.0 + 2.0 * t, **(kw if first else {})) for t in times),
            *(watts(t, 2.0) for t in times),
            *(EnergyRecord(t=t, nf="ru", joules_total=500.0 + t, mode="idle") for t in times),
        ]
        gpu_times = times if first else [t for t in times if t in (30, 35, 40, 45)]
        out += [
            EnergyRecord(t=t, nf="ru", joules_total=200.0 + 3.0 * t, mode="gpu") for t in gpu_times
        ]
        return out

    before = state(spec, *readings(range(0, 16, 5), first=True))
    first = before.window(0.0, 15.0, gap)
    assert (first.regular_joules, first.idle_joules, first.method) == (30.0 + 45.0, 15.0, "gauge")
    after = EnergyState(spec)
    after.restore(json.loads(json.dumps(before.state(15.0))))
    for r in readings(range(20, 46, 5), first=False):
        after.add(r)
    got = [after.window(s, s + W, gap) for s in (15.0, 30.0)]
    assert [(e.regular_joules, e.catch_up_joules, e.idle_joules, e.method) for e in got] == [
        (30.0, 0.0, 15.0, "gauge"),
        (30.0 + 45.0, 45.0, 15.0, "gauge"),
    ]
    assert [e.energy_basis for e in got] == ["modelled", "modelled"]


def test_the_rolling_min_horizon_continues_across_a_restart() -> None:
    """Window means 2, 5, 5 W before the restart, 4 and 6 W after (horizon 60 s). Continued,
    the 2 W window (start 0) stays the lowest until it leaves the horizon: idle 30, 30, 30, then
    for the window at 45 s (ends 60, 0 >= 0: still in) 30 J, and at 60 s (ends 75: out) the
    lowest of 5, 5, 4, 6 W = 4 W, 60 J. Started afresh it would be 60 J at once."""
    spec = NfSpec("du", "du", idle_policy="rolling_min", idle_horizon_seconds=60.0)
    power = [2.0, 5.0, 5.0, 4.0, 6.0]
    cum, recs = 0.0, [counter(0.0, 0.0)]
    for k, w in enumerate(power):
        recs.append(counter((k + 1) * W, cum + w * W))
        cum += w * W
    before = state(spec, *recs[:4])
    assert [e.idle_joules for e in windows(before, 0.0, 15.0, 30.0)] == pytest.approx([30] * 3)
    saved = json.loads(json.dumps(before.state(45.0)))
    assert len(saved["idle_means"]) == 2  # 2 W and the later 5 W: the first 5 W cannot be lowest
    after = EnergyState(spec)
    after.restore(saved)
    for r in recs[4:]:
        after.add(r)
    assert [e.idle_joules for e in windows(after, 45.0, 60.0)] == pytest.approx([30.0, 60.0])
    fresh = EnergyState(spec)
    fresh.restore({k: v for k, v in saved.items() if k != "idle_means"})  # an older state
    for r in recs[4:]:
        fresh.add(r)
    assert [e.idle_joules for e in windows(fresh, 45.0)] == pytest.approx([60.0])
