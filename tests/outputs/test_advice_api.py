"""`GET/POST /v1/placement/advice` over the hand-made store of tests/placement/storefixture.py:
the latest advice, named refusals as 409s, the token and period limits, one recompute at a time,
and schemathesis against the endpoints' OpenAPI."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from collector.outputs.api import create_app
from collector.placement.schedule import Advisor, store_advisor
from collector.store import Store
from tests.placement.storefixture import spec_for, write_store

AUTH = {"Authorization": "Bearer t"}
VISION = {"vision": {"class": "interactive", "origin": "o"}}


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[TestClient, Advisor]]:
    path = write_store(tmp_path / "s.sqlite")
    advisor = store_advisor(path, spec_for(tmp_path), clock=lambda: 100.0)
    store = Store(path)
    app = create_app(store, token="t", max_range_seconds=3600.0, advisor=advisor)
    with TestClient(app) as c:
        yield c, advisor
    store.close()


def _run(advisor: Advisor) -> None:
    advisor.poll()
    advisor.join(30)


def test_latest_advice_with_its_period_and_inputs(setup: tuple[TestClient, Advisor]) -> None:
    client, advisor = setup
    r = client.get("/v1/placement/advice", headers=AUTH)
    assert r.status_code == 503 and "no advice computed yet" in r.json()["detail"]
    _run(advisor)
    body = client.get("/v1/placement/advice", headers=AUTH).json()["advice"]
    # the settings' period (3600 s) ends at the newest window's end (60 s)
    assert body["period"] == {"start": 60.0 - 3600.0, "end": 60.0, "seconds": 3600.0}
    assert body["computed_at"] == 100.0
    apps = {a["app"]: a for a in body["apps"]}
    # 45 covered seconds of 3600: refused, and it says how much was covered
    vision = apps["vision"]
    assert vision["refusal"]["reason"] == "period_not_covered"
    assert vision["inputs"]["coverage_ratio"] == pytest.approx(45 / 3600)


def test_every_app_refused_is_a_409_naming_each_reason(setup: tuple[TestClient, Advisor]) -> None:
    client, advisor = setup
    _run(advisor)
    r = client.get("/v1/placement/advice", headers=AUTH)
    assert r.status_code == 409
    reasons = {x["app"]: x["reason"] for x in r.json()["refusals"]}
    assert reasons == {"vision": "period_not_covered", "chat": "period_not_covered"}
    assert "cover 45 s of the 3600 s period" in r.json()["detail"]


def test_post_recomputes_a_period_without_replacing_the_schedule(
    setup: tuple[TestClient, Advisor],
) -> None:
    client, advisor = setup
    _run(advisor)
    r = client.post("/v1/placement/advice", json={"period_seconds": 60, "end": 60}, headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    vision = next(a for a in body["apps"] if a["app"] == "vision")
    assert vision["status"] == "advice" and vision["placement"][0]["region"] == "far"
    assert vision["inputs"]["model_joules_per_request"] == pytest.approx(5.0)
    chat = next(a for a in body["apps"] if a["app"] == "chat")
    assert chat["refusal"]["reason"] == "no_requests"
    assert advisor.latest is not None and advisor.latest["period"]["seconds"] == 3600.0
    one = client.post(
        "/v1/placement/advice", json={"period_seconds": 60, "end": 60, "apps": ["chat"]},
        headers=AUTH,
    )  # fmt: skip
    assert one.status_code == 409 and one.json()["refusals"][0]["reason"] == "no_requests"


def test_get_one_app(setup: tuple[TestClient, Advisor]) -> None:
    client, advisor = setup
    _run(advisor)
    r = client.get("/v1/placement/advice", params={"app": "nope"}, headers=AUTH)
    assert r.status_code == 404 and "'nope'" in r.json()["detail"]
    r = client.get("/v1/placement/advice", params={"app": "chat"}, headers=AUTH)
    assert r.status_code == 409 and [x["app"] for x in r.json()["refusals"]] == ["chat"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"period_seconds": 7200}, 400, "exceeds the limit 3600 s"),
        ({"apps": ["nope"]}, 400, "'nope' is not in placement.apps"),
        ({"period_seconds": -1}, 422, "greater than 0"),
        ({"colour": "red"}, 422, "Extra inputs"),
    ],
)
def test_bad_requests_are_4xx_with_a_message(
    setup: tuple[TestClient, Advisor], body: dict[str, Any], status: int, words: str
) -> None:
    client, _ = setup
    r = client.post("/v1/placement/advice", json=body, headers=AUTH)
    assert r.status_code == status and words in str(r.json()["detail"])


def test_token_guards_both_methods(setup: tuple[TestClient, Advisor]) -> None:
    client, _ = setup
    assert client.get("/v1/placement/advice").status_code == 401
    assert client.post("/v1/placement/advice", json={}).status_code == 401


def test_one_recompute_at_a_time(tmp_path: Path) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow(**_: Any) -> dict[str, Any]:
        entered.set()
        release.wait(30)
        return {"error": None, "apps": [{"app": "a", "status": "advice"}]}

    advisor = Advisor(slow, interval_seconds=60.0, clock=lambda: 0.0)
    store = Store(write_store(tmp_path / "s.sqlite"))
    with TestClient(create_app(store, advisor=advisor)) as client:
        first: list[int] = []
        t = threading.Thread(
            target=lambda: first.append(client.post("/v1/placement/advice").status_code)
        )
        t.start()
        assert entered.wait(30)
        second = client.post("/v1/placement/advice")
        release.set()
        t.join(30)
    store.close()
    assert second.status_code == 429 and first == [200]


def test_without_a_placement_section_the_endpoint_says_so(tmp_path: Path) -> None:
    store = Store(write_store(tmp_path / "s.sqlite"))
    with TestClient(create_app(store)) as client:
        r = client.get("/v1/placement/advice")
    store.close()
    assert r.status_code == 404 and "no `placement` section" in r.json()["detail"]


def test_schemathesis_on_the_advice_endpoints(tmp_path: Path) -> None:
    path = write_store(tmp_path / "s.sqlite")
    advisor = store_advisor(path, spec_for(tmp_path), clock=lambda: 100.0)
    _run(advisor)
    store = Store(path)
    app = create_app(store, max_range_seconds=3600.0, advisor=advisor)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path != "/v1/placement/advice":
            continue

        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            # app names and periods are checked against the settings and the store: a
            # schema-valid value may get a documented 4xx
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as exc:
            failures.append(f"{operation.method} {operation.path}: {exc}")
    store.close()
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    ("update", "reason"),
    [
        ({"apps": VISION, "min_coverage_ratio": 0.8}, "period_not_covered"),  # 45 of 60 s
        ({"apps": {"chat": {"class": "interactive", "origin": "o"}}}, "no_requests"),
        ({"apps": VISION, "max_unattributed_ratio": 0.1}, "mostly_unattributed"),  # 14 %
    ],
)
def test_each_refusal_is_a_409_and_a_metric(
    tmp_path: Path, update: dict[str, Any], reason: str
) -> None:
    """The acceptance's refusal cases, through the scheduled advice: the API names the reason
    in a 4xx and /metrics carries it."""
    from prometheus_client import generate_latest

    from collector.outputs.advice_metrics import AdviceCollector
    from collector.outputs.exporter import SnapshotCollector, make_registry

    path = write_store(tmp_path / "s.sqlite")
    spec = spec_for(tmp_path, period_seconds=60.0, **update)
    advisor = store_advisor(path, spec, clock=lambda: 100.0)
    _run(advisor)
    store = Store(path)
    with TestClient(create_app(store, advisor=advisor)) as client:
        r = client.get("/v1/placement/advice")
    store.close()
    assert r.status_code == 409
    assert {x["reason"] for x in r.json()["refusals"]} == {reason}
    assert f"{reason}: " in r.json()["detail"]
    text = generate_latest(make_registry(SnapshotCollector(), AdviceCollector(advisor))).decode()
    apps = [a["app"] for a in r.json()["refusals"]]
    for app in apps:
        assert f'e2e_energy_placement_refused{{app="{app}",reason="{reason}"}} 1.0' in text
    assert 'e2e_energy_placement_runs_total{outcome="refused"} 1.0' in text
