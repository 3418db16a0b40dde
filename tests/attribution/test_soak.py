"""The short soak (bench/soak.py at 500 windows): the real live attributor, killed and restarted,
against a real snmpd, real HTTP sources and two real agents replaying a capture, through every
fault kind on a seeded schedule, with its store on a tmpfs that fills up and frees.

The invariants are the soak's own model of DESIGN.md section 4, checked after every tick; this
test asserts that each was checked and none failed, that every fault kind was injected (the
counter wraps by itself), and that a full disk really made windows wait. The full 10,000-window
run and its figures are in docs/explanation/faults.md.
"""

from __future__ import annotations

from bench.soak import KINDS, RATES, run
from tests.conftest import need_binary, need_root

WINDOWS = 500
PER_KIND = 4


def test_short_soak_holds_every_invariant_under_every_fault() -> None:
    need_root()  # the tmpfs that fills up
    need_binary("snmpd")
    need_binary("mount")
    result = run(windows=WINDOWS, seed=7, minimum=PER_KIND)
    assert result["invariant_violations"] == 0, result["violations"]
    assert result["windows"] == WINDOWS
    # a window written in the tick a kill cut short is never reported, so never checked
    # against the model (it is counted from the store); at most one per kill
    assert result["windows_checked_against_model"] >= WINDOWS - result["kills"]
    injected = result["faults_injected"]
    assert set(injected) == set(KINDS)
    for kind in RATES:
        assert injected[kind] >= PER_KIND, (kind, injected)
    assert injected["counter_wrap"] >= 1
    checked = result["invariants_checked"]
    for invariant in (
        "conservation",
        "unmeasured_declared",
        "measured_equals_model",
        "totals_never_decrease",
        "totals_bounded_by_measured",
        "faulty_answer_refused",
        "store_holds_written_windows",
        "store_total_equals_sum_of_windows",
    ):
        assert checked.get(invariant, 0) >= 1, (invariant, checked)
    assert result["disk_full_on_tmpfs"]
    assert result["disk_full_episodes_with_failed_writes"] >= 1
    assert result["ticks_with_windows_waiting_for_the_disk"] >= 1
    assert result["kills"] == injected["attributor_kill"] and result["incarnations"] > 1
    # a restart continues the signals from the store: at most the window in progress is lost
    # (before the engine's state was stored: the windows until two readings, 4 or 5 per kill)
    assert result["windows_lost_to_kills"] <= result["kills"]
    # each lost window is explained; the store's state is always of its newest window (a
    # catch-up writes it with every batch), so a restart never starts without readings
    by_cause = result["windows_lost_to_kills_by_cause"]
    assert sum(by_cause.values()) == result["windows_lost_to_kills"]
    assert set(by_cause) <= {"in_progress", "waiting_for_the_disk", "after_kill"}, by_cause
    # every window of the run is in the store at the end (retention keeps 6 h = 1440 windows)
    assert result["windows_in_store_at_end"] == WINDOWS
