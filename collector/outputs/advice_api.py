"""`GET/POST /v1/placement/advice`: the live advisor's latest advice, or advice for another period.

Refusals are never a silent default: when no app of the answer could be advised, the answer is
a 409 whose `detail` and `refusals` name each app's reason; when some could, the refused ones
carry their reason inside the 200 document. The 409 carries the document too (`advice`), so the
period, the coverage and the measured inputs stay readable. POST computes without replacing the
scheduled advice (the one /metrics shows) and runs one at a time (429 while one is running).
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from collector.placement.inputs import PlacementInputError
from collector.placement.schedule import Advisor


class Refused(BaseModel):
    app: str
    reason: str
    message: str


class RefusalBody(BaseModel):
    """No app could be advised: one entry per app with its named reason, and the advice document
    itself (period, coverage and measured inputs of each app)."""

    detail: str
    refusals: list[Refused]
    advice: dict[str, Any]


class Detail(BaseModel):
    detail: str


class AdviceRequest(BaseModel):
    """Recompute the advice for a period ending at `end` (default: the newest window's end)."""

    model_config = ConfigDict(extra="forbid")

    period_seconds: float | None = Field(None, gt=0, allow_inf_nan=False)
    """Length of the period (s); the settings' `placement.period_seconds` when omitted."""
    end: float | None = Field(None, allow_inf_nan=False)
    """End of the period (unix s, exclusive); the newest window's end when omitted."""
    apps: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        None, min_length=1, max_length=1000
    )
    """Apps to advise on (of `placement.apps`); all when omitted."""


RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Detail},
    404: {"model": Detail},
    409: {"model": RefusalBody},
    429: {"model": Detail},
    503: {"model": Detail},
}


def _answer(doc: dict[str, Any], app: str | None) -> Any:
    if app is not None:
        found = [a for a in doc["apps"] if a["app"] == app]
        if not found:
            raise HTTPException(404, f"no app named {app!r} in the advice (placement.apps)")
        doc = doc | {"apps": found}
    if any(a["status"] == "advice" for a in doc["apps"]):
        return doc
    refusals = [
        Refused(app=a["app"], **{k: a["refusal"][k] for k in ("reason", "message")})
        for a in doc["apps"]
    ]
    detail = "no advice: " + "; ".join(f"{r.reason}: {r.message}" for r in refusals)
    if not refusals:
        detail = "no advice: placement.apps names no app"
    body = RefusalBody(detail=detail, refusals=refusals, advice=doc)
    return JSONResponse(body.model_dump(), status_code=409)


def advice_router(advisor: Advisor | None, *, max_period_seconds: float) -> APIRouter:
    """The advice endpoints; without an advisor they answer 404 saying how to turn it on."""
    router = APIRouter(prefix="/v1/placement", tags=["placement"], responses=RESPONSES)
    busy = threading.Lock()

    def live() -> Advisor:
        if advisor is None:
            raise HTTPException(
                404, "placement advice is off: the settings have no `placement` section"
            )
        return advisor

    @router.get("/advice", summary="The latest scheduled placement advice")
    def get_advice(
        app: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    ) -> Any:
        a = live()
        doc = a.latest
        if doc is None:
            why = f" (the last run failed: {a.last_failure})" if a.last_failure else ""
            raise HTTPException(503, f"no advice computed yet{why}", headers={"Retry-After": "60"})
        return _answer(doc, app)

    @router.post("/advice", summary="Placement advice recomputed for a period")
    def post_advice(request: AdviceRequest | None = None) -> Any:
        a = live()
        req = request or AdviceRequest()
        if req.period_seconds is not None and req.period_seconds > max_period_seconds:
            raise HTTPException(
                400,
                f"period {req.period_seconds:.0f} s exceeds the limit {max_period_seconds:.0f} s",
            )
        if not busy.acquire(blocking=False):
            raise HTTPException(429, "an advice is being recomputed; retry when it is done")
        try:
            doc = a.recompute(period_seconds=req.period_seconds, end=req.end, apps=req.apps)
        except PlacementInputError as exc:
            raise HTTPException(400, str(exc)) from None
        finally:
            busy.release()
        return _answer(doc, None)

    return router
