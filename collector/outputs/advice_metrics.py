"""The placement advice on /metrics: a collector that renders the advisor's latest document.

Like the snapshot collector it only reads: the advisor swaps in a new document after each run,
and a scrape renders whichever one was current when it started.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collector.outputs.metrics_spec import BY_NAME, PREFIX
from collector.placement.advice import LAYERS
from collector.placement.schedule import Advisor


def _family(name: str) -> GaugeMetricFamily | CounterMetricFamily:
    spec = BY_NAME[name]
    if spec.kind == "counter":
        return CounterMetricFamily(
            (PREFIX + name).removesuffix("_total"), spec.help, labels=spec.labels
        )
    return GaugeMetricFamily(PREFIX + name, spec.help, labels=spec.labels)


class AdviceCollector(Collector):
    """Yields the e2e_energy_placement_* families from the advisor's latest advice."""

    def __init__(self, advisor: Advisor) -> None:
        self.advisor = advisor

    def version(self) -> object:
        """Changes with every advisor run (each run counts one outcome after it swaps the
        document in), so a cached /metrics text is rendered again after a run."""
        return tuple(self.advisor.runs.values())

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        runs = _family("placement_runs_total")
        for outcome, n in self.advisor.runs.items():
            runs.add_metric([outcome], n)
        yield runs
        doc = self.advisor.latest
        if doc is None:
            return
        yield from _per_app(doc)
        for name, value in (
            ("placement_solve_seconds", doc["solve_seconds"]),
            ("placement_last_run_timestamp_seconds", doc["computed_at"]),
            ("placement_period_seconds", doc["period"]["seconds"]),
        ):
            fam = _family(name)
            fam.add_metric([], value)
            yield fam


def _per_app(doc: dict[str, Any]) -> Iterator[Metric]:
    names = (
        "placement_relocatable_ratio",
        "placement_layer_ratio",
        "placement_saving_grams_per_request",
        "placement_saving_joules_per_request",
        "placement_saving_cost_per_request",
        "placement_input_joules_per_request",
        "placement_input_coverage_ratio",
        "placement_refused",
    )
    f = {n: _family(n) for n in names}
    for a in doc["apps"]:
        app, inputs = a["app"], a["inputs"]
        f["placement_input_coverage_ratio"].add_metric([app], inputs["coverage_ratio"])
        for part in ("model", "access"):
            value = inputs[f"{part}_joules_per_request"]
            if value is not None:
                f["placement_input_joules_per_request"].add_metric([app, part], value)
        if a["refusal"] is not None:
            f["placement_refused"].add_metric([app, a["refusal"]["reason"]], 1.0)
            continue
        key = [app, a["class"]]
        f["placement_relocatable_ratio"].add_metric(key, a["relocatable_ratio"])
        for layer in LAYERS:
            f["placement_layer_ratio"].add_metric([*key, layer], a["layers"][layer])
        saving = a["saving_per_request"]
        f["placement_saving_grams_per_request"].add_metric(key, saving["co2_grams"])
        f["placement_saving_joules_per_request"].add_metric(key, saving["joules"])
        f["placement_saving_cost_per_request"].add_metric([*key, doc["currency"]], saving["cost"])
    yield from f.values()
