"""The /v1/placement endpoints through FastAPI's TestClient, on an app including the router."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from collector.outputs.placement_api import router
from tests.placement.helpers import region


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def _problem(budget_ms: float = 10_000) -> dict[str, Any]:
    return {
        "classes": [
            {
                "name": "c",
                "latency_budget_ms": budget_ms,
                "energy_per_request_joules": 1000,
                "demand": {"o": 4},
            }
        ],
        "origins": [{"name": "o", "lat": 0, "lon": 0, "home": "dear"}],
        "regions": [
            region("cheap", 0, 5, price_per_kwh=0.05, capacity_kw=1.0),
            region("dear", 0, 0, price_per_kwh=0.3),
        ],
        "objective": {"kind": "cost"},
    }


def test_solve_posted_problem(client: TestClient) -> None:
    r = client.post("/v1/placement/solve", json=_problem())
    assert r.status_code == 200
    body = r.json()
    assert body["flows_rps"]["c"] == pytest.approx({"cheap": 1.0, "dear": 3.0})
    assert body["classes"][0]["local_share"] == pytest.approx(0.75)
    assert body["break_even"][0]["relocate"] is True


def test_solve_default_dataset_without_body(client: TestClient) -> None:
    r = client.post("/v1/placement/solve")
    assert r.status_code == 200
    assert [c["name"] for c in r.json()["classes"]] == [
        "interactive",
        "standard",
        "weakly-real-time",
        "batch",
    ]


def test_infeasible_problem_is_400_naming_class_and_origin(client: TestClient) -> None:
    r = client.post("/v1/placement/solve", json=_problem(budget_ms=30))
    assert r.status_code == 400
    assert "class 'c' from origin 'o'" in r.json()["detail"]


def test_unknown_key_is_422_naming_it(client: TestClient) -> None:
    r = client.post("/v1/placement/solve", json={**_problem(), "colour": "red"})
    assert r.status_code == 422
    assert any(e["loc"][-1] == "colour" for e in r.json()["detail"])


def test_frontier_with_budgets_and_erl(client: TestClient) -> None:
    r = client.post(
        "/v1/placement/frontier", json={"config": _problem(), "budgets_ms": [30, 100, 10_000]}
    )
    assert r.status_code == 200
    points = r.json()["c"]
    assert [p["feasible"] for p in points] == [False, True, True]
    assert points[2]["erl_cost_per_million_per_ms"] is not None


def test_frontier_rejects_unknown_class(client: TestClient) -> None:
    r = client.post("/v1/placement/frontier", json={"classes": ["nope"]})
    assert r.status_code == 400
    assert "no class named 'nope'" in r.json()["detail"]


def test_dataset_and_simulate(client: TestClient) -> None:
    assert len(client.get("/v1/placement/dataset").json()["regions"]) >= 8
    sim = client.get("/v1/placement/simulate").json()
    assert 0.0 <= sim["relocatable_share"] <= 1.0


def test_schemathesis_on_the_placement_endpoints() -> None:
    """Generated requests against the router's OpenAPI: no server errors, no schema violations."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import positive_data_acceptance

    app = FastAPI()
    app.include_router(router)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            # a schema-valid problem may still be infeasible or reference unknown names: those
            # are documented 422s, so only data acceptance is relaxed
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report
            failures.append(f"{operation.path}: {exc}")
    assert not failures, "\n".join(failures)


def test_oversized_problem_is_refused(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import collector.outputs.placement_api as api

    monkeypatch.setattr(api, "MAX_TRIPLES", 1)
    r = client.post("/v1/placement/solve", json=_problem())
    assert r.status_code == 400 and "too large" in r.json()["detail"]
