"""TraceID carriers per IOAM namespace."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from collector.agent.traceid import TraceIdResolver
from collector.models import OTHER_TRACE
from collector.settings import StaticTraceRule, TraceIdCarrier

A = bytes.fromhex("20010db8000000000000000000000001")
B = bytes.fromhex("20010db8000100000000000000000002")


@dataclass(frozen=True)
class Fields:
    namespace_id: int = 100
    flow_label: int = 0xABCDE
    dex_flow_id: int | None = None
    src: bytes = A
    dst: bytes = B
    sport: int = 1234
    dport: int = 8000


@pytest.fixture
def resolver() -> TraceIdResolver:
    return TraceIdResolver(
        [
            TraceIdCarrier(namespace_id=1, carrier="flow_label"),
            TraceIdCarrier(namespace_id=2, carrier="dex_flow_id", node_id_field="wide"),
            TraceIdCarrier(
                namespace_id=3,
                carrier="static",
                static=[
                    StaticTraceRule(trace_id=11, dst="2001:db8:1::/48", dst_port=9000),
                    StaticTraceRule(trace_id=12, dst="2001:db8:1::/48"),
                    StaticTraceRule(trace_id=13, src="2001:db8::1", src_port=1234),
                ],
            ),
        ]
    )


def test_unconfigured_namespace_uses_the_namespace_id(resolver: TraceIdResolver) -> None:
    assert resolver(Fields(namespace_id=100)) == 100


def test_flow_label(resolver: TraceIdResolver) -> None:
    assert resolver(Fields(namespace_id=1)) == 0xABCDE


def test_dex_flow_id_and_missing_dex(resolver: TraceIdResolver) -> None:
    assert resolver(Fields(namespace_id=2, dex_flow_id=77)) == 77
    assert resolver(Fields(namespace_id=2, dex_flow_id=None)) == OTHER_TRACE
    assert resolver.wide_namespaces == frozenset({2})


def test_static_rules_first_match_wins(resolver: TraceIdResolver) -> None:
    assert resolver(Fields(namespace_id=3, dport=8000)) == 12
    assert resolver(Fields(namespace_id=3, dport=9000)) == 11
    elsewhere = bytes.fromhex("20010db8ffff00000000000000000002")
    assert resolver(Fields(namespace_id=3, dst=elsewhere)) == 13
    assert resolver(Fields(namespace_id=3, dst=elsewhere, sport=1)) == OTHER_TRACE
