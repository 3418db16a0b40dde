"""Request counters scraped from the inference server (vLLM, TGI, Triton or any named counter).

The label that names the model is mapped to applications through an explicit table; values
not in it go to app `unknown`, so no request is silently dropped.
"""

from __future__ import annotations

from collector.models import UNKNOWN_APP, ReadResult, RequestSample
from collector.settings import PrometheusCounterSource
from collector.sources import PayloadError
from collector.sources.http import TextSource
from collector.sources.promtext import iter_samples


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
        raise PayloadError(f"metric {metric!r} not found in the response")
    return tuple(
        RequestSample(source=source, app=app, t=t, requests_total=v, label_value=lv)
        for (app, lv), v in sorted(totals.items())
    )


class RequestsReader(TextSource[PrometheusCounterSource]):
    def __init__(self, settings: PrometheusCounterSource) -> None:
        super().__init__(settings, settings.url)

    def parse(self, raw: str, t: float) -> ReadResult:
        s = self.settings
        reqs = parse_requests(
            raw, source=self.name, metric=s.metric, label=s.label, app_map=s.app_map, t=t
        )
        return ReadResult(self.name, True, 0.0, requests=reqs)
