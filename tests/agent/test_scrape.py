"""The attributor's reader of agent expositions: `AgentParser` (which remembers each line's
head across reads) reads what `parse_agent_metrics` reads and fails where it fails, read after
read; both against readings written by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.agent.scrape import AgentParser, AgentSource, parse_agent_metrics
from collector.models import TrafficCount, TrafficTotalSample
from collector.sources import PayloadError

FLOWS = [(1, "100", 4113, "uplink"), (1, "100", 4113, "downlink"), (7, "other", 4200, "uplink")]


def flow_lines(k: int, node: str = "edge-1") -> list[str]:
    """Packets 10 x k and bytes 1000 x k per flow, labels in three different orders."""
    out = ["# TYPE e2e_energy_ioam_packets_total counter"]
    for j, (ns, trace, nid, d) in enumerate(FLOWS):
        labels = [
            f'namespace_id="{ns}"',
            f'trace_id="{trace}"',
            f'node_id="{nid}"',
            f'direction="{d}"',
            f'k8s_node="{node}"',
        ]
        lab = ",".join(labels[j:] + labels[:j])
        out.append(f"e2e_energy_ioam_packets_total{{{lab}}} {10 * k * (j + 1)}")
        out.append(f"e2e_energy_ioam_bytes_total{{{lab}}} {1000.0 * k * (j + 1):e}")
    out += [
        f'e2e_energy_interface_packets_total{{interface="eth1",direction="rx",k8s_node="{node}"}} '
        f"{5 * k} 1700000000000",
        f'e2e_energy_interface_bytes_total{{interface="eth1",direction="rx",k8s_node="{node}"}} '
        f"{700 * k}",
        f'e2e_energy_interface_bytes_total{{interface="eth1",direction="tx",k8s_node="{node}"}} 9',
        f'e2e_energy_agent_flows{{k8s_node="{node}"}} 3',
        f'e2e_energy_build_info{{version="x}}y",k8s_node="{node}"}} 1',
    ]
    return out


def expected(k: int, t: float) -> tuple[tuple[TrafficCount, ...], tuple[TrafficTotalSample, ...]]:
    traffic = sorted(
        (
            TrafficCount(ns, trace, nid, d, 10.0 * k * (j + 1), 1000.0 * k * (j + 1), t, "edge-1")
            for j, (ns, trace, nid, d) in enumerate(FLOWS)
        ),
        key=lambda c: (c.namespace_id, c.trace_id, c.node_id, c.direction),
    )
    eth1 = TrafficTotalSample("agent", "eth1", t, 5.0 * k, 700.0 * k, link_header_bytes=14)
    return tuple(traffic), (eth1,)


def test_reads_by_hand_read_after_read() -> None:
    parser = AgentParser()
    for k in (1, 2, 3):  # the first read learns the heads, the later ones use them
        text = "\n".join(flow_lines(k)) + "\n"
        for got in (parser.parse(text, 10.0 * k), parse_agent_metrics(text, 10.0 * k)):
            assert (got.traffic, got.interfaces) == expected(k, 10.0 * k)
            assert got.k8s_node == "edge-1"


@pytest.mark.parametrize(
    ("tail", "kind"),
    [(" -1", "invalid_value"), (" NaN", "invalid_value"), (" +Inf", "invalid_value"),
     (" 1_0", "parse"), (" 1 2 3", "parse"), ("", "parse"), (" 0x10", "parse")],
)  # fmt: skip
def test_a_known_line_with_a_bad_value_fails_as_the_full_parse_does(tail: str, kind: str) -> None:
    parser = AgentParser()
    lines = flow_lines(1)
    parser.parse("\n".join(lines), 1.0)
    line = lines[3]
    lines[3] = line[: line.rindex("}") + 1] + tail
    text = "\n".join(lines)
    with pytest.raises(PayloadError) as fast:
        parser.parse(text, 2.0)
    with pytest.raises(PayloadError) as full:
        parse_agent_metrics(text, 2.0)
    assert (fast.value.kind, str(fast.value)) == (full.value.kind, str(full.value))
    assert fast.value.kind == kind
    assert ("line 4" if kind == "parse" else 'trace_id="100"') in str(fast.value)


def test_heads_are_forgotten_past_twice_the_exposition() -> None:
    parser = AgentParser()
    many = [f'e2e_energy_agent_flows{{k8s_node="n{i}"}} 1' for i in range(500)]
    parser.parse("\n".join(many), 1.0)
    assert len(parser._heads) == 500
    parser.parse("\n".join(flow_lines(1)), 2.0)
    assert len(parser._heads) == len([x for x in flow_lines(1) if not x.startswith("#")])


def test_the_source_parses_with_its_parser() -> None:
    source = AgentSource("http://127.0.0.1:9/metrics", 1.0)
    for k in (1, 2):
        result = source.parse("\n".join(flow_lines(k)), 5.0)
        assert (result.traffic, result.traffic_totals) == expected(k, 5.0)
        assert result.host == "edge-1"


HEADS = [
    'e2e_energy_ioam_packets_total{namespace_id="1",trace_id="5",node_id="9",direction="uplink"}',
    'e2e_energy_ioam_bytes_total{direction="uplink",node_id="9",trace_id="5",namespace_id="1"}',
    'e2e_energy_ioam_packets_total{namespace_id="1",trace_id="5",node_id="9",direction="uplink",'
    'k8s_node="a"}',
    'e2e_energy_ioam_packets{namespace_id="2",trace_id="}",node_id="3",direction="downlink"}',
    'e2e_energy_ioam_bytes_total{namespace_id="x",trace_id="5",node_id="9",direction="uplink"}',
    'e2e_energy_ioam_bytes_total{namespace_id="1",trace_id="5",node_id="9",direction="sideways"}',
    'e2e_energy_interface_bytes_total{interface="eth0",direction="rx",k8s_node="b"}',
    'e2e_energy_interface_packets_total{interface="eth0",direction="rx"}',
    'e2e_energy_interface_packets_total { interface = "eth0" , direction = "rx" , }',
    'e2e_energy_interface_packets_total{direction="rx"}',
    'e2e_energy_build_info{k8s_node="c\\"}"}',
    'e2e_energy_agent_flows{k8s_node="d"}',
    "e2e_energy_build_info{}",
    'e2e_energy_ioam_packets_total{namespace_id="1",trace_id="5"',
    "#e2e_energy_build_info{}",
    "  e2e_energy_build_info{}",
]
TAILS = [
    " 1",
    " 2.5",
    "\t3e2",
    " 4 1700000000",
    " 5   ",
    "6",
    " -1",
    " NaN",
    " Inf",
    " 1_0",
    " x",
    "",
]
OTHER = ["", "# TYPE e2e_energy_build_info gauge", "e2e_energy_build_info 1", "garbage", " 7"]


@settings(max_examples=400, deadline=None)
@given(
    reads=st.lists(
        st.lists(
            st.one_of(
                st.tuples(st.sampled_from(HEADS), st.sampled_from(TAILS)).map("".join),
                st.sampled_from(OTHER),
            ),
            max_size=12,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_the_parser_reads_and_fails_as_the_full_parse_read_after_read(
    reads: list[list[str]],
) -> None:
    """Expositions mixing wanted, unwanted, odd and invalid lines, read by one parser in turn
    (so later reads meet heads it learned): the same reading or the same error every time."""
    parser = AgentParser()
    for i, lines in enumerate(reads):
        text = "\n".join(lines)
        try:
            want = parse_agent_metrics(text, float(i))
        except PayloadError as exc:
            with pytest.raises(PayloadError) as got:
                parser.parse(text, float(i))
            assert (got.value.kind, str(got.value)) == (exc.kind, str(exc))
            continue
        assert parser.parse(text, float(i)) == want
        for c in want.traffic:
            assert math.isfinite(c.packets_total) and c.packets_total >= 0
