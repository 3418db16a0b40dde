"""The query API (FastAPI): read-only views over the store, OpenAPI described.

Ranges are unix seconds [start, end); a window belongs to a range when it starts inside it.
Bad parameters get a 4xx with a message; an optional bearer token guards /v1.
"""

import hmac
import importlib
import math
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from collector import __version__
from collector.outputs import api_models as m
from collector.outputs.advice_api import advice_router
from collector.outputs.api_queries import Reader
from collector.placement.schedule import Advisor
from collector.store import Store

Clock = Callable[[], float]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": m.Problem},
    401: {"model": m.Problem},
    404: {"model": m.Problem},
}


class RangeParams:
    """start/end/limit/offset, validated against the configured range and page limits."""

    def __init__(self, start: float, end: float, limit: int, offset: int) -> None:
        self.start, self.end, self.limit, self.offset = start, end, limit, offset

    def page(self, total: int) -> dict[str, Any]:
        """The fields every page response carries besides its items."""
        return {
            "start": self.start,
            "end": self.end,
            "total": total,
            "limit": self.limit,
            "offset": self.offset,
        }

    def cut(self, items: list[Any]) -> list[Any]:
        """This page of a list that was read whole."""
        return items[self.offset : self.offset + self.limit]


def create_app(
    store: Store,
    *,
    token: str | None = None,
    max_range_seconds: float = 31 * 86_400.0,
    page_size: int = 100,
    clock: Clock = time.time,
    ready: Callable[[], bool] = lambda: True,
    metrics: CollectorRegistry | None = None,
    metrics_version: Callable[[], object] | None = None,
    metrics_tail: Callable[[], bytes] = lambda: b"",
    advisor: Advisor | None = None,
) -> FastAPI:
    """Build the API over an open store (read-only use). `ready` reports readiness; with
    `metrics` the app also serves that registry at /metrics (classic text format); with
    `metrics_version` the rendered text is reused while that value stays equal (compute once,
    present many: a dashboard storm then costs no rendering); `metrics_tail` is exposition text
    rendered elsewhere (the tick process's families), appended as it is; `advisor` answers
    /v1/placement/advice."""
    app = FastAPI(title="e2e-energy", version=__version__, description=__doc__)
    reader = Reader(store)
    if metrics is not None:
        rendered: list[tuple[object, bytes]] = []

        @app.get("/metrics", include_in_schema=False)
        async def prometheus_metrics() -> Response:
            if metrics_version is None:
                body = generate_latest(metrics) + metrics_tail()
                return Response(body, media_type=CONTENT_TYPE_LATEST)
            version = metrics_version()
            if not rendered or rendered[0][0] != version:
                rendered[:] = [(version, generate_latest(metrics) + metrics_tail())]
            return Response(rendered[0][1], media_type=CONTENT_TYPE_LATEST)

    def check_token(authorization: Annotated[str | None, Header()] = None) -> None:
        if token is None:
            return
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not authorization or not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
            )

    def range_params(
        start: Annotated[float | None, Query(description="unix seconds, inclusive")] = None,
        end: Annotated[float | None, Query(description="unix seconds, exclusive")] = None,
        limit: Annotated[int, Query(ge=1, le=page_size)] = page_size,
        offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    ) -> RangeParams:
        e = clock() if end is None else end
        s = e - min(3600.0, max_range_seconds) if start is None else start
        if not (math.isfinite(s) and math.isfinite(e)):
            raise HTTPException(400, "start and end must be finite unix seconds")
        if e <= s:
            raise HTTPException(400, f"end ({e}) must be after start ({s})")
        if e - s > max_range_seconds:
            raise HTTPException(
                400, f"range {e - s:.0f} s exceeds the limit {max_range_seconds:.0f} s"
            )
        return RangeParams(s, e, limit, offset)

    Range = Annotated[RangeParams, Depends(range_params)]
    AppName = Annotated[str, Path(min_length=1, max_length=256)]
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(check_token)], responses=ERRORS)

    def known(app: str) -> str:
        """The app, or a 404 when the store has never seen it."""
        if not reader.app_exists(app):
            raise HTTPException(404, f"no application named {app!r} in the store")
        return app

    @v1.get("/apps", response_model=m.AppsPage, summary="Applications with totals over a range")
    def apps(r: Range) -> m.AppsPage:
        items = reader.app_totals(r.start, r.end)
        return m.AppsPage(**r.page(len(items)), items=r.cut(items))

    @v1.get(
        "/apps/{app}/series",
        response_model=m.SeriesPage,
        summary="One application's per-window series by NF, role, direction, component",
    )
    def series(app: AppName, r: Range) -> m.SeriesPage:
        total, items = reader.app_series(known(app), r.start, r.end, r.limit, r.offset)
        return m.SeriesPage(app=app, **r.page(total), items=items)

    @v1.get(
        "/apps/{app}/per-request",
        response_model=m.PerRequest,
        summary="Energy, CO2 and SCI per request (null when there were no requests)",
    )
    def per_request(app: AppName, r: Range) -> m.PerRequest:
        return reader.per_request(known(app), r.start, r.end)

    @v1.get(
        "/nfs",
        response_model=m.NfsPage,
        summary="Per NF: measured vs attributed vs unattributed by reason, unmeasured time",
    )
    def nfs(r: Range) -> m.NfsPage:
        items = reader.nf_totals(r.start, r.end)
        return m.NfsPage(**r.page(len(items)), items=r.cut(items))

    app.include_router(v1)
    _include_placement(app, check_token)
    app.include_router(
        advice_router(advisor, max_period_seconds=max_range_seconds),
        dependencies=[Depends(check_token)],
    )

    @app.get("/healthz", response_model=m.Health, summary="Liveness")
    def healthz() -> m.Health:
        return m.Health(status="ok")

    @app.get(
        "/readyz",
        response_model=m.Health,
        responses={503: {"model": m.Health}},
        summary="Readiness: the store answers and the attributor is ready",
    )
    def readyz() -> Any:
        try:
            windows, last = reader.window_count()
        except Exception:
            return JSONResponse({"status": "store unavailable"}, status_code=503)
        body = m.Health(
            status="ready" if ready() else "starting", windows=windows, last_window_start=last
        )
        return JSONResponse(body.model_dump(), status_code=200 if ready() else 503)

    @app.exception_handler(HTTPException)
    def _problem(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(exc.detail)}, exc.status_code, headers=exc.headers)

    return app


def _include_placement(app: FastAPI, check_token: Callable[..., None]) -> None:
    """Mount the placement branch's router (prefix /v1/placement) when it is importable."""
    try:
        module = importlib.import_module("collector.outputs.placement_api")
    except ImportError:
        return
    router = getattr(module, "router", None)
    if isinstance(router, APIRouter):
        app.include_router(router, dependencies=[Depends(check_token)])
