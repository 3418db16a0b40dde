"""Prometheus text exposition, flattened: the one reader Kepler, DCGM, request sources and the
agents' /metrics share, with the value check every reading gets.

A line parser over the classic text format (0.0.4): one regular expression per sample line,
labels only for the names asked for. prometheus_client's parser reads character by character
and costs ~10x more; with hundreds of agents per tick that was most of the attributor's CPU.
tests/sources/test_promtext.py holds this parser to prometheus_client's results.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from collector.sources.base import PayloadError
from collector.sources.values import checked

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_PAIR = r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*=\s*"(?:[^"\\\n]|\\.)*"\s*'
_VALUE = r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|(?i:inf|nan))"
_LINE = re.compile(
    rf"\s*(?P<name>{_NAME})(?:\s*\{{(?P<labels>(?:{_PAIR},)*(?:{_PAIR})?)\}}\s*|\s+)"
    rf"(?P<value>{_VALUE})(?:\s+-?\d+)?\s*"
)
_TAIL = re.compile(rf"\s*(?P<value>{_VALUE})(?:\s+-?\d+)?\s*")
"""What follows a sample line's label block: `_LINE` past its closing brace."""
_LABELS = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\\n]|\\.)*)"')
_ESCAPES = re.compile(r"\\(.)")
_UNESCAPE = {"n": "\n", "\\": "\\", '"': '"'}


def iter_samples(text: str, names: frozenset[str]) -> Iterator[tuple[str, dict[str, str], float]]:
    """Yield (sample name, labels, value) for samples whose name is in `names`.

    A sample named `<name>_total` whose `<name>` is asked for is yielded as `<name>` (counters
    are exposed with and without the suffix). A line that is not valid exposition is a `parse`
    error naming it; a negative or non-finite value of a wanted sample is `invalid_value`
    (every metric read here is >= 0 by definition).
    """
    for lineno, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _LINE.fullmatch(line)
        if m is None:
            raise PayloadError(f"not valid Prometheus exposition at line {lineno}: {line[:120]!r}")
        name = m["name"]
        if name not in names:
            if not (name.endswith("_total") and name[:-6] in names):
                continue
            name = name[:-6]
        pairs = _LABELS.findall(m["labels"] or "")
        labels = {k: _ESCAPES.sub(_unescape, v) if "\\" in v else v for k, v in pairs}
        value = float(m["value"])
        if value < 0 or not math.isfinite(value):
            checked(value, _series(name, labels))  # raises invalid_value naming the series
        yield name, labels, value


def tail_value(tail: str) -> float | None:
    """The value in what follows a sample line's last `}`, or None if that part is not valid.

    A line with labels is valid exposition exactly when its head (up to and with the last `}`:
    no value or timestamp holds one, so it closes the label block) and its tail both are, and
    the head alone decides the sample's name and labels. A reader that has seen a valid line
    with this head can take the next one's value from its tail only (collector/agent/scrape.py
    does, for the agents' expositions that repeat the same series every read)."""
    m = _TAIL.fullmatch(tail)
    return None if m is None else float(m["value"])


def _unescape(m: re.Match[str]) -> str:
    return _UNESCAPE.get(m[1], "\\" + m[1])


def _series(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
