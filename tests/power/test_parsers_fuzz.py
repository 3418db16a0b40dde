"""Property tests over every parser a source runs (power, requests, agent, carbon): whatever the
payload, a parser either returns readings that are all finite and >= 0 (a sample it flags
`unsupported` excepted), or raises a SourceFailure with a named kind. A negative or infinite
reading is an `invalid_value` error of the parser itself, not something left for downstream.

Expectations are computed here from the payload the test built, not read back from the code."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.agent.scrape import AgentReading, parse_agent_metrics
from collector.carbon.providers import parse_electricitymaps, parse_uk
from collector.carbon.watttime import parse_marginal, parse_signal_index
from collector.models import (
    EnergySample,
    IntensitySample,
    RequestSample,
    SignalIndexSample,
    TrafficCount,
    TrafficTotalSample,
)
from collector.power.dcgm import parse_dcgm
from collector.power.if_mib import IF_HC_IN_OCTETS, IF_HC_IN_UCAST, parse_if_mib
from collector.power.kepler import KeplerParse, parse_kepler
from collector.power.pdu_http import parse_http_json, parse_shelly, parse_tasmota
from collector.power.pdu_redfish import parse_redfish
from collector.power.requests import parse_requests
from collector.power.snmp_profiles import PROFILES, parse_profile
from collector.settings import HttpJsonSource
from collector.sources import SourceFailure

KINDS = {"parse", "invalid_value", "empty", "wrong_type"}
"""What a parser may raise: an unexpected shape, a bad number, nothing to read, an SNMP value
of the wrong type (issue 14)."""

numbers = st.floats() | st.integers(min_value=-(2**70), max_value=2**70)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | st.text(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=20,
)
shaped = st.fixed_dictionaries(
    {},
    optional={
        k: json_values
        for k in (
            "apower",
            "aenergy",
            "StatusSNS",
            "data",
            "history",
            "carbonIntensity",
            "datetime",
            "meta",
        )
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
        for k in ("Outlets", "Mains", "Metrics", "PowerWatts", "PolyPhasePowerWatts", "EnergykWh")
    },
)


def amounts(got: Any) -> Iterator[float]:
    """Every number a parser returned that a meter reading or a count stands for."""
    items = got if isinstance(got, tuple | list) else (got,)
    for x in items:
        if isinstance(x, EnergySample):
            if not x.unsupported:
                yield x.value
        elif isinstance(x, RequestSample):
            yield x.requests_total
        elif isinstance(x, IntensitySample):
            yield x.grams_per_kwh
        elif isinstance(x, SignalIndexSample):
            yield x.value
        elif isinstance(x, TrafficCount | TrafficTotalSample):
            yield from (x.packets_total, x.bytes_total)
        elif isinstance(x, AgentReading):
            yield from amounts((*x.traffic, *x.interfaces))
        elif isinstance(x, KeplerParse):
            yield from (j for m in x.parts.values() for t in m.values() for j in t.values())
        else:
            raise AssertionError(f"unexpected result type {type(x).__name__}")


def check(fn: Any, *args: Any, **kw: Any) -> SourceFailure | None:
    """Run one parser: finite, non-negative amounts, or a SourceFailure of a named kind."""
    try:
        got = fn(*args, **kw)
    except SourceFailure as exc:
        assert exc.kind in KINDS, (fn.__name__, exc.kind, exc.message)
        return exc
    bad = [v for v in amounts(got) if not (math.isfinite(v) and v >= 0)]
    assert not bad, (fn.__name__, bad, args)
    return None


GENERIC = HttpJsonSource(
    name="g", kind="http_json", url="http://x", power_path="p", energy_path="e.0"
)


@settings(max_examples=200)
@given(doc=json_values | shaped | uk_like | redfish_like)
def test_json_parsers(doc: Any) -> None:
    check(parse_shelly, doc, source="s", target="0", t=0.0)
    check(parse_tasmota, doc, source="s", target="0", t=0.0)
    check(parse_http_json, doc, GENERIC, t=0.0)
    check(parse_uk, doc, "z", 0.0)
    check(parse_electricitymaps, doc, "z", 0.0)
    check(parse_marginal, doc, "z", 0.0)
    check(parse_signal_index, doc, "z")
    check(parse_redfish, {"/p": doc}, "/p", source="r", t=0.0)
    linked = {
        "/p": {"Outlets": {"@odata.id": "/o"}, "Mains": {"@odata.id": "/o"}},
        "/o": {"Members": [{"@odata.id": "/m"}]},
        "/m": doc,
    }
    check(parse_redfish, linked, "/p", source="r", t=0.0)


def _ok(v: float) -> bool:
    return math.isfinite(v) and v >= 0


@settings(max_examples=200)
@given(watts=numbers, wh=numbers)
def test_plug_readings_negative_or_infinite_are_named(watts: float, wh: float) -> None:
    """A Shelly reading of -5 W or an infinite energy total is `invalid_value`, never a sample."""
    shelly = {"apower": watts, "aenergy": {"total": wh}}  # W, Wh
    tasmota = {"StatusSNS": {"ENERGY": {"Power": watts, "Total": wh}}}  # W, kWh
    for fn, doc, joules_per_unit in (
        (parse_shelly, shelly, 3600.0),
        (parse_tasmota, tasmota, 3.6e6),
    ):
        err = check(fn, doc, source="s", target="0", t=0.0)
        if _ok(float(watts)) and _ok(float(wh) * joules_per_unit):
            assert err is None
        else:
            assert err is not None and err.kind == "invalid_value", (fn.__name__, watts, wh)


@settings(max_examples=200)
@given(grams=numbers)
def test_grid_intensity_negative_or_infinite_is_named(grams: float) -> None:
    """Negative, non-finite and absurd (above 2500 g/kWh, issue 14) intensities are named."""
    iso = "2023-11-14T22:00:00Z"

    def plausible(g: float) -> bool:
        return _ok(g) and g <= 2500.0

    docs = [
        (parse_electricitymaps, {"carbonIntensity": grams, "datetime": iso}),
        (parse_uk, {"data": [{"from": iso, "intensity": {"forecast": grams, "actual": None}}]}),
    ]
    for fn, doc in docs:
        err = check(fn, doc, "z", 0.0)
        assert (err is None) == plausible(float(grams)), (fn.__name__, grams, err)
        assert err is None or err.kind == "invalid_value"
    marginal = {"data": [{"point_time": iso, "value": grams}], "meta": {"units": "lbs_co2_per_mwh"}}
    err = check(parse_marginal, marginal, "z", 0.0)
    assert (err is None) == plausible(float(grams) * 0.453592)
    assert err is None or err.kind == "invalid_value"


values_text = st.sampled_from(["-5", "-0.5", "+Inf", "-Inf", "NaN", "1e400", "0", "12.5"])


@settings(max_examples=200)
@given(value=values_text)
def test_exposition_readings_negative_or_infinite_are_named(value: str) -> None:
    ok = _ok(float(value))
    kepler = (
        "# TYPE kepler_container_joules_total counter\n"
        'kepler_container_joules_total{container_id="c",container_namespace="n",pod_name="p",'
        f'mode="dynamic"}} {value}\n'
    )
    dcgm = f'DCGM_FI_DEV_POWER_USAGE{{gpu="0"}} {value}\n'
    requests = f'vllm:request_success_total{{model_name="m"}} {value}\n'
    agent = (
        'e2e_energy_ioam_packets_total{namespace_id="1",trace_id="2",node_id="3",'
        f'direction="uplink",k8s_node="n"}} {value}\n'
    )
    runs = [
        (parse_kepler, (kepler,), {}),
        (parse_dcgm, (dcgm,), {"source": "d", "t": 0.0}),
        (
            parse_requests,
            (requests,),
            {"source": "r", "metric": "vllm:request_success_total", "label": "model_name"}
            | {"app_map": {}, "t": 0.0},
        ),
        (parse_agent_metrics, (agent, 0.0), {}),
    ]
    for fn, args, kw in runs:
        err = check(fn, *args, **kw)
        assert (err is None) == ok, (fn.__name__, value, err)
        assert err is None or err.kind == "invalid_value"


metric_line = st.builds(
    lambda name, labels, value: f"{name}{{{labels}}} {value}",
    st.sampled_from(
        [
            "kepler_pod_cpu_joules_total",
            "kepler_container_joules_total",
            "DCGM_FI_DEV_POWER_USAGE",
            "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
            "vllm:request_success_total",
            "e2e_energy_ioam_bytes_total",
            "e2e_energy_interface_bytes_total",
            "x",
        ]
    ),
    st.text(alphabet='abz_=", ', max_size=20),
    st.text(alphabet="0123456789.eE+-naNIf", max_size=8),
)


@settings(max_examples=200)
@given(lines=st.lists(metric_line | st.text(max_size=30), max_size=6))
def test_exposition_parsers(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    check(parse_kepler, text, include_gpu=True)
    check(parse_dcgm, text, source="d", t=0.0)
    check(
        parse_requests,
        text,
        source="r",
        metric="vllm:request_success_total",
        label="model_name",
        app_map={},
        t=0.0,
    )
    check(parse_agent_metrics, text, 0.0)


snmp_values = st.integers(min_value=-(2**64), max_value=2**64) | st.text(max_size=4)


@settings(max_examples=200)
@given(
    profile=st.sampled_from(sorted(PROFILES)),
    rows=st.lists(st.tuples(st.integers(0, 3), snmp_values), max_size=4),
)
def test_snmp_parsers(profile: str, rows: list[tuple[int, int | str]]) -> None:
    """Walked values under a profile's columns; -1 is `unsupported` (flagged), any other
    negative number `invalid_value`, a value that is not a number `wrong_type` (issue 14)."""
    cols = PROFILES[profile]
    table = {(*cols[i % len(cols)].base, i + 1): v for i, (_, v) in enumerate(rows)}
    err = check(parse_profile, table, profile, source="s", t=0.0, basis="measured")
    negative = [
        v
        for i, (_, v) in enumerate(rows)
        if isinstance(v, int)
        and v < 0
        and (v != -1 or not cols[i % len(cols)].minus_one_unsupported)
    ]
    wrong_type = [v for _, v in rows if not isinstance(v, int)]
    assert (err is not None) == bool(negative or wrong_type), (profile, rows, err)
    ifmib = {(*IF_HC_IN_OCTETS, 2): rows[0][1] if rows else 0, (*IF_HC_IN_UCAST, 2): 5}
    err = check(parse_if_mib, ifmib, source="i", t=0.0)
    octets = ifmib[(*IF_HC_IN_OCTETS, 2)]
    assert (err is not None) == (isinstance(octets, int) and octets < 0)
