"""The query API over a real SQLite store filled by replay; schemathesis against its OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from collector.attribution import topology_from_settings
from collector.attribution.persist import write_snapshot
from collector.attribution.replay import load_records, replay_run
from collector.outputs.api import create_app
from collector.settings import load_settings
from collector.store import Store
from tests.conftest import ROOT, need_module

DATA = ROOT / "tests" / "data" / "attribution"


def filled_store(path: Path) -> Store:
    topo = topology_from_settings(load_settings(DATA / "config.yaml"))
    with (DATA / "inputs.jsonl").open() as f:
        snaps = replay_run(topo, load_records(f, topo, "inputs"))
    writer = Store(path, writer=True, clock=lambda: 60.0)
    for s in snaps:
        write_snapshot(writer, s)
    writer.close()
    return Store(path)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    store = filled_store(tmp_path / "s.sqlite")
    app = create_app(store, max_range_seconds=86_400.0, page_size=50, clock=lambda: 60.0)
    with TestClient(app) as c:
        yield c
    store.close()


def test_apps_totals_over_a_range(client: TestClient) -> None:
    r = client.get("/v1/apps", params={"start": 0, "end": 60})
    assert r.status_code == 200
    body = r.json()
    fv = next(a for a in body["items"] if a["app"] == "factory-vision")
    assert fv["joules"] == pytest.approx(638.0)
    assert fv["requests"] == 12.0 and fv["joules_per_request"] == pytest.approx(638 / 12)
    half = client.get("/v1/apps", params={"start": 0, "end": 30}).json()
    fv_half = next(a for a in half["items"] if a["app"] == "factory-vision")
    assert fv_half["joules"] == pytest.approx(319.0)
    # defaults: the last hour before the clock
    assert client.get("/v1/apps").json()["total"] == 2


def test_series_breakdown_and_pagination(client: TestClient) -> None:
    r = client.get("/v1/apps/chat/series", params={"start": 0, "end": 60, "limit": 2})
    body = r.json()
    assert body["total"] == 12 and len(body["items"]) == 2  # 4 windows x 3 NFs
    first = body["items"][0]
    assert first["window_start"] == 0.0 and first["direction"] == "downlink"
    assert {"static_joules", "dynamic_joules", "co2_grams", "co2_grams_market"} <= set(first)
    nxt = client.get(
        "/v1/apps/chat/series", params={"start": 0, "end": 60, "limit": 2, "offset": 2}
    )
    assert nxt.json()["items"][0] != first


def test_per_request_and_nfs(client: TestClient) -> None:
    pr = client.get("/v1/apps/chat/per-request", params={"start": 0, "end": 60}).json()
    assert pr["joules_per_request"] == pytest.approx(352 / 4)
    nfs = {
        n["nf"]: n for n in client.get("/v1/nfs", params={"start": 0, "end": 60}).json()["items"]
    }
    du = nfs["du1"]
    assert du["measured_joules"] == 180.0 and du["attributed_joules"] == 150.0
    assert du["unattributed_by_reason"]["untagged"] == 30.0
    assert du["energy_basis"] == "modelled" and du["unmeasured_seconds"] == 0.0


def test_per_request_co2_is_undefined_when_intensity_is_missing(tmp_path: Path) -> None:
    topo = topology_from_settings(load_settings(DATA / "config.yaml"))
    lines = (DATA / "inputs.jsonl").read_text().splitlines(keepends=True)
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(x for x in lines if '"datacentre"' not in x))
    with inputs.open() as f:
        snaps = replay_run(topo, load_records(f, topo, "inputs"))
    writer = Store(tmp_path / "s.sqlite", writer=True, clock=lambda: 60.0)
    for s in snaps:
        write_snapshot(writer, s)
    writer.close()
    store = Store(tmp_path / "s.sqlite")
    app = create_app(store, max_range_seconds=86_400.0, page_size=50, clock=lambda: 60.0)
    with TestClient(app) as c:
        path = "/v1/apps/factory-vision/per-request"
        pr = c.get(path, params={"start": 0, "end": 60}).json()
    store.close()
    assert pr["requests"] == 12.0 and pr["joules_per_request"] == pytest.approx(638 / 12)
    assert pr["co2_grams_per_request"] is None and pr["sci_grams_per_request"] is None


def test_bad_parameters_get_4xx_with_a_message(client: TestClient) -> None:
    r = client.get("/v1/apps", params={"start": 50, "end": 10})
    assert r.status_code == 400 and "after start" in r.json()["detail"]
    r = client.get("/v1/apps", params={"start": 0, "end": 10**7})
    assert r.status_code == 400 and "exceeds the limit" in r.json()["detail"]
    assert client.get("/v1/apps", params={"limit": 51}).status_code == 422
    assert client.get("/v1/apps", params={"start": "nan"}).status_code == 400
    r = client.get("/v1/apps/nope/series")
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    assert client.post("/v1/apps").status_code == 405  # read-only


def test_health_readiness_and_token(tmp_path: Path) -> None:
    store = filled_store(tmp_path / "t.sqlite")
    state = {"ready": False}
    app = create_app(store, token="s3cret", ready=lambda: state["ready"], clock=lambda: 60.0)
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 503
        state["ready"] = True
        ready = c.get("/readyz").json()
        assert ready["status"] == "ready" and ready["windows"] == 4
        assert c.get("/v1/apps").status_code == 401
        assert c.get("/v1/apps", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = c.get("/v1/apps", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
    store.close()


def _schema_app(tmp_path: Path) -> FastAPI:
    store = filled_store(tmp_path / "schema.sqlite")
    return create_app(store, max_range_seconds=86_400.0, page_size=50, clock=lambda: 60.0)


def test_schemathesis_no_server_errors_no_schema_violations(tmp_path: Path) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", _schema_app(tmp_path))
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith("/v1/placement"):
            continue  # the placement branch tests its own endpoints

        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            # end > start is a rule between two parameters that OpenAPI cannot express, so a
            # schema-valid pair may get a documented 400; every other check stays on.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report
            failures.append(f"{operation.path}: {exc}")
    assert not failures, "\n".join(failures)


def test_placement_router_is_mounted_behind_the_token(tmp_path: Path) -> None:
    need_module("collector.outputs.placement_api")
    store = filled_store(tmp_path / "p.sqlite")
    with TestClient(create_app(store, token="t")) as c:
        assert "/v1/placement/dataset" in c.get("/openapi.json").json()["paths"]
        assert c.get("/v1/placement/dataset").status_code == 401
        ok = c.get("/v1/placement/dataset", headers={"Authorization": "Bearer t"})
        assert ok.status_code == 200 and ok.json()
    store.close()
