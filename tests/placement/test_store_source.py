"""The measured source over the store: figures checked by hand against the rows of
tests/placement/storefixture.py, the named refusals, and stores written before the traffic table."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from collector.placement.inputs import MeasuredClass
from collector.placement.store_source import StoreSource
from collector.settings import PlacementSettings
from collector.store import Store
from tests.placement.storefixture import write_store

LIMITS = PlacementSettings(
    apps={
        "vision": {"class": "interactive", "origin": "o"},
        "chat": {"class": "interactive", "origin": "o"},
    },
    min_requests=10,
    min_coverage_ratio=0.7,
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(write_store(tmp_path / "s.sqlite"))
    yield s
    s.close()


def _measure(store: Store, app: str = "vision", limits: PlacementSettings = LIMITS) -> object:
    return StoreSource(store, 0.0, 60.0).measure(app, MeasuredClass(app=app), limits)


def test_energy_per_request_over_covered_windows_by_hand(store: Store) -> None:
    a = _measure(store)
    # windows 0, 15, 30 are covered (ru1 stale in 45): 45 s of the 60 s period
    assert a.covered_seconds == 45.0 and a.coverage_ratio == pytest.approx(0.75)
    assert a.requests == 30.0 and a.requests_per_second == pytest.approx(30 / 45)
    assert a.model_joules_per_request == pytest.approx(3 * 50 / 30)  # gpu1 20 + 30 J a window
    assert a.access_joules_per_request == pytest.approx(3 * (15 + 5) / 30)  # ru1 + upf1
    assert a.bytes_per_request == pytest.approx(3 * 100_000 / 30)  # the largest over its NFs
    assert a.co2_grams_per_request == pytest.approx(9 * 0.001 / 30)
    assert a.unattributed_ratio == pytest.approx((5 + 1 + 6) / (20 + 6 + 60))
    assert a.nfs == ("gpu1", "ru1", "upf1") and a.model_nfs == ("gpu1",)
    assert a.energy_basis == ("measured",) and a.refusal is None


def test_transport_per_byte_and_km_by_hand(store: Store) -> None:
    t = StoreSource(store, 0.0, 60.0).transport(["upf1"], 100.0)
    # upf1 is never stale: all four windows; 5 J and 100 000 bytes each
    assert t.covered_seconds == 60.0
    assert t.joules == pytest.approx(20.0) and t.bytes == pytest.approx(400_000.0)
    assert t.joules_per_byte_km == pytest.approx(20.0 / (400_000.0 * 100.0))


@pytest.mark.parametrize(
    ("app", "limits", "reason", "words"),
    [
        ("vision", LIMITS.model_copy(update={"min_coverage_ratio": 0.8}), "period_not_covered",
         "cover 45 s of the 60 s period"),
        ("chat", LIMITS, "no_requests", "no requests"),
        ("vision", LIMITS.model_copy(update={"min_requests": 31}), "too_few_requests",
         "30 requests"),
        ("vision", LIMITS.model_copy(update={"max_unattributed_ratio": 0.1}),
         "mostly_unattributed", "14.0% of the energy"),
    ],
)  # fmt: skip
def test_refusals_are_named(
    store: Store, app: str, limits: PlacementSettings, reason: str, words: str
) -> None:
    a = _measure(store, app, limits)
    assert a.refusal is not None
    assert a.refusal.reason == reason and words in a.refusal.message
    assert a.refusal.message.startswith(f"{app}: ")


def test_no_inference_energy_names_the_key(store: Store) -> None:
    src = StoreSource(store, 0.0, 60.0)
    src.roles["gpu1"] = "upf"  # as if the NF had been configured with another role
    a = src.measure("vision", MeasuredClass(app="vision"), LIMITS)
    assert a.refusal is not None and a.refusal.reason == "no_inference_energy"
    assert "inference_nfs" in a.refusal.message


def test_an_empty_period_is_not_covered(store: Store) -> None:
    a = StoreSource(store, 1000.0, 4600.0).measure("vision", MeasuredClass(app="vision"), LIMITS)
    assert a.coverage_ratio == 0.0 and a.requests == 0.0
    assert a.refusal is not None and a.refusal.reason == "period_not_covered"


def test_a_store_from_before_the_traffic_table_still_opens(tmp_path: Path) -> None:
    path = write_store(tmp_path / "old.sqlite")
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE traffic_window")
    reader = Store(path)
    a = StoreSource(reader, 0.0, 60.0).measure("vision", MeasuredClass(app="vision"), LIMITS)
    assert a.bytes_per_request is None and a.model_joules_per_request == pytest.approx(5.0)
    assert StoreSource(reader, 0.0, 60.0).transport(["upf1"], 100.0).joules_per_byte_km is None
    reader.close()
    # the next writer adds the table; the old rows stay
    writer = Store(path, writer=True)
    assert writer.query("SELECT count(*) FROM traffic_window") == [(0,)]
    assert writer.query("SELECT count(*) FROM windows") == [(4,)]
    writer.close()


def test_the_hand_check_helper_agrees_with_the_hand_numbers(tmp_path: Path) -> None:
    """tests/placement/handcheck.py, used by the live acceptance test, on the fixture's rows."""
    from tests.placement.handcheck import app_inputs, read_rows, transport_per_byte_km

    rows = read_rows(write_store(tmp_path / "h.sqlite"), 0.0, 60.0)
    got = app_inputs(rows, "vision", 60.0)
    assert got == {
        "covered_seconds": 45.0,
        "coverage_ratio": 0.75,
        "requests": 30.0,
        "model_joules_per_request": 5.0,
        "access_joules_per_request": 2.0,
        "bytes_per_request": 10_000.0,
    }
    assert transport_per_byte_km(rows, ["upf1"], 100.0) == pytest.approx(5e-7)
