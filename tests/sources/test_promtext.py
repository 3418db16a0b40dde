"""The runtime's exposition reader against prometheus_client's parser (an independent oracle):
the same samples, labels (escapes included) and values for the recorded fixtures, a real agent
exposition and generated text; what prometheus_client rejects is a `parse` error here too."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from collector.sources import PayloadError
from collector.sources.promtext import iter_samples

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "kepler"

Row = tuple[str, tuple[tuple[str, str], ...], float]


def reference(text: str) -> list[Row]:
    """prometheus_client's samples, names without `_total`, as sorted rows."""
    return sorted(
        (s.name.removesuffix("_total"), tuple(sorted(s.labels.items())), float(s.value))
        for f in text_string_to_metric_families(text)
        for s in f.samples
    )


def ours(text: str) -> list[Row]:
    names = {r[0] for r in reference(text)}
    wanted = frozenset(names | {n + "_total" for n in names})
    return sorted(
        (n.removesuffix("_total"), tuple(sorted(lab.items())), v)
        for n, lab, v in iter_samples(text, wanted)
    )


@pytest.mark.parametrize("name", sorted(p.name for p in FIX.glob("*.prom")))
def test_recorded_fixtures_read_alike(name: str) -> None:
    text = (FIX / name).read_text()
    assert ours(text) == reference(text) != []


label_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=12
)


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"')


@settings(max_examples=300)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a_total", "b", "kepler_pod_cpu_joules_total", "x:y"]),
            st.dictionaries(
                st.sampled_from(["pod", "zone", "le", "a_b"]), label_values, max_size=3
            ),
            st.floats(min_value=0, max_value=1e300) | st.integers(0, 2**64),
            st.booleans(),
        ),
        max_size=8,
    )
)
def test_generated_exposition_reads_alike(
    rows: list[tuple[str, dict[str, str], float, bool]],
) -> None:
    lines = []
    for name, labels, value, stamp in rows:
        body = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{body}}} {value!r}" + (" 1700000000000" if stamp else ""))
    text = "\n".join(lines) + "\n"
    assert ours(text) == reference(text)


@pytest.mark.parametrize(
    "line", ['m{a="1" 2', 'm{a="1"} ', "m 1 x", "m{a=1} 2", "{} 1", 'm{a="x\ny"} 1', "m one", "m1"]
)
def test_invalid_lines_are_parse_errors(line: str) -> None:
    with pytest.raises(ValueError):
        reference(line + "\n")  # the oracle rejects it too
    with pytest.raises(PayloadError) as err:
        list(iter_samples(line + "\n", frozenset({"m"})))
    assert err.value.kind == "parse"
