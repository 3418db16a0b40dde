"""Prometheus text exposition, flattened: the one parser Kepler, DCGM and request sources share."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.parser import text_string_to_metric_families


def iter_samples(text: str, names: frozenset[str]) -> Iterator[tuple[str, dict[str, str], float]]:
    """Yield (sample name, labels, value) for samples whose name is in `names`.

    The parser appends `_total` to counter samples that lack it (DCGM's counters); such a
    sample is matched, and yielded, under the name without it. Raises ValueError (with the
    parser's message) when the text is not valid exposition.
    """
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            name = s.name
            if name not in names and name.endswith("_total") and name[:-6] in names:
                name = name[:-6]
            if name in names:
                yield name, dict(s.labels), float(s.value)
