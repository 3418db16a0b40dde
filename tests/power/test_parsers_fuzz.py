"""Property tests: every parse_* either returns samples or raises its documented error kinds
(ValueError family / ProviderError), whatever the payload."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.carbon.base import ProviderError
from collector.carbon.providers import parse_electricitymaps, parse_uk
from collector.carbon.watttime import parse_marginal, parse_signal_index
from collector.power.dcgm import parse_dcgm
from collector.power.kepler import parse_kepler
from collector.power.pdu_http import parse_shelly, parse_tasmota
from collector.power.pdu_redfish import parse_redfish
from collector.power.requests import parse_requests

ALLOWED = (ValueError, KeyError, TypeError, IndexError, ProviderError)

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=20,
)
shaped = st.fixed_dictionaries(
    {},
    optional={
        "apower": json_values,
        "aenergy": json_values,
        "StatusSNS": json_values,
        "data": json_values,
        "history": json_values,
        "carbonIntensity": json_values,
        "datetime": json_values,
        "meta": json_values,
    },
)


uk_like = st.fixed_dictionaries(
    {
        "data": st.lists(
            st.fixed_dictionaries({"from": json_values, "intensity": json_values}), max_size=2
        )
    }
)
redfish_like = st.fixed_dictionaries(
    {},
    optional={
        k: json_values
        for k in (
            "Outlets",
            "Mains",
            "Metrics",
            "PowerWatts",
            "PolyPhasePowerWatts",
            "EnergykWh",
            "Members",
        )
    },
)


def _call(fn: Any, *args: Any, **kw: Any) -> None:
    with contextlib.suppress(ALLOWED):
        fn(*args, **kw)


@settings(max_examples=150, deadline=None)
@given(doc=json_values | shaped | uk_like | redfish_like)
def test_json_parsers_never_crash(doc: Any) -> None:
    _call(parse_shelly, doc, source="s", target="0", t=0.0)
    _call(parse_tasmota, doc, source="s", target="0", t=0.0)
    _call(parse_uk, doc, "z", 0.0)
    _call(parse_electricitymaps, doc, "z", 0.0)
    _call(parse_marginal, doc, "z", 0.0)
    _call(parse_signal_index, doc, "z")
    _call(parse_redfish, {"/p": doc}, "/p", source="r", t=0.0)
    _call(
        parse_redfish,
        {
            "/p": {"Outlets": {"@odata.id": "/o"}, "Mains": {"@odata.id": "/o"}},
            "/o": {"Members": [{"@odata.id": "/m"}]},
            "/m": doc,
        },
        "/p",
        source="r",
        t=0.0,
    )


metric_line = st.builds(
    lambda name, labels, value: f"{name}{{{labels}}} {value}",
    st.sampled_from(
        [
            "kepler_pod_cpu_joules_total",
            "kepler_container_joules_total",
            "DCGM_FI_DEV_POWER_USAGE",
            "vllm:request_success_total",
            "x",
        ]
    ),
    st.text(alphabet='abz_=", ', max_size=20),
    st.text(alphabet="0123456789.eE+-naNIf", max_size=8),
)


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(metric_line | st.text(max_size=30), max_size=6))
def test_exposition_parsers_never_crash(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    _call(parse_kepler, text, include_gpu=True)
    _call(parse_dcgm, text, source="d", t=0.0)
    _call(
        parse_requests,
        text,
        source="r",
        metric="vllm:request_success_total",
        label="model_name",
        app_map={},
        t=0.0,
    )
