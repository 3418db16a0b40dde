"""Request counters scraped from the inference server (vLLM, TGI, Triton or any named counter).

The label that names the model is mapped to applications through an explicit table; values
not in it go to app `unknown`, so no request is silently dropped.
"""

from __future__ import annotations

import time

from collector.models import UNKNOWN_APP, ReadResult, RequestSample
from collector.power.base import guarded_read
from collector.power.http import HttpOptions, fetch_text
from collector.power.promtext import iter_samples
from collector.settings import PrometheusCounterSource


def _sample_names(metric: str) -> frozenset[str]:
    """A counter may be exposed with or without `_total` (TGI's `tgi_request_success`)."""
    base = metric.removesuffix("_total")
    return frozenset({metric, base, base + "_total"})


def parse_requests(
    text: str,
    *,
    source: str,
    metric: str,
    label: str,
    app_map: dict[str, str],
    t: float,
) -> tuple[RequestSample, ...]:
    """Pure: one RequestSample per (app, label value); series of one value are summed."""
    totals: dict[tuple[str, str], float] = {}
    found = False
    for _name, labels, value in iter_samples(text, _sample_names(metric)):
        found = True
        lv = labels.get(label, "")
        key = (app_map.get(lv, UNKNOWN_APP), lv)
        totals[key] = totals.get(key, 0.0) + value
    if not found:
        raise ValueError(f"metric {metric!r} not found in the response")
    return tuple(
        RequestSample(source=source, app=app, t=t, requests_total=v, label_value=lv)
        for (app, lv), v in sorted(totals.items())
    )


class RequestsReader:
    def __init__(self, settings: PrometheusCounterSource) -> None:
        self.name = settings.name
        self._s = settings

    def _http(self) -> HttpOptions:
        """Secrets are read per read: a rotated Secret is picked up, a missing one is an error
        of this source only."""
        return HttpOptions.from_settings(self._s, self._s.timeout_seconds)

    async def read(self) -> ReadResult:
        async def body(t0: float) -> ReadResult:
            started = time.perf_counter()
            text = await fetch_text(self._http(), self._s.url)
            reqs = parse_requests(
                text,
                source=self.name,
                metric=self._s.metric,
                label=self._s.label,
                app_map=self._s.app_map,
                t=time.time(),
            )
            return ReadResult(self.name, True, time.perf_counter() - started, requests=reqs)

        return await guarded_read(self.name, body)
