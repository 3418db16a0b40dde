"""Differential and round-trip properties: the struct engine, the scapy engine and the builders
agree on every valid option hypothesis can make."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.ioam import build, wire
from collector.ioam import scapy_layers as L
from collector.ioam.fastparse import RESULT_PARSED, decode_frame, hot_parse
from collector.ioam.scapy_engine import scapy_decode_frame
from tests.ioam.strategies import carried_frames, dex_specs, trace_specs

SETTINGS = settings(max_examples=150, deadline=None)


def _both(frame: bytes, linktype: int) -> list[dict[str, Any]]:
    fast = decode_frame(frame, linktype)
    assert json.dumps(fast) == json.dumps(scapy_decode_frame(frame, linktype))
    return fast


@SETTINGS
@given(spec=trace_specs(), data=st.data())
def test_trace_round_trip_and_engines_agree(spec: dict[str, Any], data: st.DataObject) -> None:
    frame, linktype = data.draw(carried_frames([build.trace_option(**spec)]))
    [record] = _both(frame, linktype)
    assert record["errors"] == []
    assert record["option_type"] == (
        "incremental_trace" if spec["incremental"] else "preallocated_trace"
    )
    assert record["namespace_id"] == spec["namespace_id"]
    assert record["trace_type"] == wire.trace_type_hex(spec["trace_type"])
    assert record["flags"] == spec["flags"]
    assert record["nodes"] == spec["nodes"]
    hot = hot_parse(frame, linktype)
    assert hot.status == RESULT_PARSED and hot.namespace_id == spec["namespace_id"]
    assert hot.overflow == bool(spec["flags"] & 0x8)
    if spec["trace_type"] & wire.NODE_ID_MASK:
        assert hot.node_ids == tuple(n["node_id"] for n in spec["nodes"])
    elif spec["trace_type"] & wire.NODE_ID_WIDE_MASK:
        assert hot.node_ids == tuple(n["node_id_wide"] for n in spec["nodes"])
    else:
        assert hot.node_ids == ()


@SETTINGS
@given(spec=trace_specs())
def test_scapy_build_equals_builder(spec: dict[str, Any]) -> None:
    trace_type = spec["trace_type"]
    cls = L.IOAMIncrementalTrace if spec["incremental"] else L.IOAMPreallocatedTrace
    words = wire.node_words(trace_type)
    extra = {} if spec["incremental"] else {"free": bytes(4 * words * spec["free_nodes"])}
    body = cls(
        namespace_id=spec["namespace_id"],
        flags=spec["flags"],
        trace_type=trace_type,
        remaining_len=words * spec["free_nodes"],
        nodes=[_scapy_node(node, trace_type) for node in spec["nodes"]],
        **extra,
    )
    option = (L.IOAM if spec["option_code"] == 0x31 else L.IOAMFixed)(body=body)
    assert bytes(option) == build.trace_option(**spec)


def _scapy_node(node: dict[str, Any], trace_type: int) -> Any:
    fields = {k: v for k, v in node.items() if k != "opaque_state"}
    if trace_type & wire.NODE_ID_WIDE_MASK:
        fields["wide_hop_limit"] = node["hop_limit"]
    if not trace_type & wire.NODE_ID_MASK:
        fields.pop("hop_limit", None)
    if "opaque_state" in node:
        fields["oss_schema_id"] = node["opaque_state"]["schema_id"]
        fields["oss_data"] = bytes.fromhex(node["opaque_state"]["data"])
    return L.node_class(trace_type)(**fields)


@SETTINGS
@given(dex=dex_specs(), spec=trace_specs(), data=st.data())
def test_dex_with_trace(dex: dict[str, Any], spec: dict[str, Any], data: st.DataObject) -> None:
    options = [build.trace_option(**spec), build.dex_option(**dex)]
    frame, linktype = data.draw(carried_frames(options))
    trace, record = _both(frame, linktype)
    assert record["option_type"] == "dex" and record["errors"] == []
    assert record.get("flow_id") == dex["flow_id"]
    assert record.get("sequence_number") == dex["sequence_number"]
    assert hot_parse(frame, linktype).dex_flow_id == dex["flow_id"]
    assert trace["nodes"] == spec["nodes"]


@SETTINGS
@given(
    spec=trace_specs(), node_len=st.integers(0, 31), remaining=st.integers(0, 127), data=st.data()
)
def test_corrupted_lengths_are_errors_never_exceptions(
    spec: dict[str, Any], node_len: int, remaining: int, data: st.DataObject
) -> None:
    """NodeLen/RemainingLen overwritten with any value: an error exactly when they lie."""
    option = build.trace_option(**spec, node_len=node_len, remaining_len=remaining)
    frame, linktype = data.draw(carried_frames([option]))
    [record] = _both(frame, linktype)
    words = wire.node_words(spec["trace_type"])
    honest = node_len == words and (spec["incremental"] or remaining == words * spec["free_nodes"])
    if honest:
        assert record["errors"] == [] and record["nodes"] == spec["nodes"]
    elif node_len != words:
        assert any("NodeLen" in e for e in record["errors"])
    hot = hot_parse(frame, linktype)
    assert (hot.status == RESULT_PARSED) == (record["errors"] == [])
