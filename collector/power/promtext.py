"""Prometheus text exposition, flattened: the one parser Kepler, DCGM and request sources share."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.parser import text_string_to_metric_families


def iter_samples(text: str, names: frozenset[str]) -> Iterator[tuple[str, dict[str, str], float]]:
    """Yield (sample name, labels, value) for samples whose name is in `names`.

    Raises ValueError (with the parser's message) when the text is not valid exposition.
    """
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in names:
                yield s.name, dict(s.labels), float(s.value)
