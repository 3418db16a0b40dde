"""Prometheus text exposition, flattened: the one reader Kepler, DCGM, request sources and the
agents' /metrics share, with the value check every reading gets."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.parser import text_string_to_metric_families

from collector.sources.base import PayloadError
from collector.sources.values import checked


def iter_samples(text: str, names: frozenset[str]) -> Iterator[tuple[str, dict[str, str], float]]:
    """Yield (sample name, labels, value) for samples whose name is in `names`.

    The parser appends `_total` to counter samples that lack it (DCGM's counters); such a
    sample is matched, and yielded, under the name without it. Text that is not valid
    exposition is a `parse` error; a negative or non-finite value of a wanted sample is an
    `invalid_value` error naming the series (every metric read here is >= 0 by definition).
    """
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                name = s.name
                if name not in names and name.endswith("_total") and name[:-6] in names:
                    name = name[:-6]
                if name in names:
                    yield name, dict(s.labels), checked(float(s.value), _series(name, s.labels))
    except PayloadError:
        raise
    except ValueError as exc:
        raise PayloadError(f"not valid Prometheus exposition: {exc}") from None


def _series(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
