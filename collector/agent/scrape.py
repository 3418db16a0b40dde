"""Reads an agent's /metrics back into records the attributor uses (TrafficCount and
TrafficTotalSample). The agent's exposition is the only interface between the two; an agent
is a source like any other, run by the source runtime (pooled client, deadline, health).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from collector.models import Direction, ReadResult, TrafficCount, TrafficTotalSample
from collector.sources import ReadPolicy
from collector.sources.base import PayloadError
from collector.sources.http import HttpClient
from collector.sources.promtext import iter_samples, tail_value

AGENT_SOURCE = "agent"
_DIRECTIONS: dict[str, Direction] = {"uplink": "uplink", "downlink": "downlink"}
_FLOW = {"e2e_energy_ioam_packets_total": 0, "e2e_energy_ioam_bytes_total": 1}
_RX = {"e2e_energy_interface_packets_total": 0, "e2e_energy_interface_bytes_total": 1}
_NAMES = frozenset({*_FLOW, *_RX, "e2e_energy_build_info"})


@dataclass(frozen=True, slots=True)
class AgentReading:
    traffic: tuple[TrafficCount, ...]
    interfaces: tuple[TrafficTotalSample, ...]
    """Rx totals per interface: target = interface name, link-layer bytes (14 per packet)."""
    k8s_node: str = ""


Entry = tuple[str | None, int, Any, int]
"""What one wanted sample contributes: (its k8s_node label or None, table: 0 none, 1 flow,
2 rx interface, the key in that table, the column: 0 packets, 1 bytes)."""
_UNSEEN: Entry = (None, -1, None, -1)
MAX_HEADS_PER_LINE = 2
"""A parser keeps at most this many remembered heads per line of the latest exposition (+64):
heads of flows gone from the agent are forgotten, memory stays ~twice the exposition's."""


def parse_agent_metrics(text: str, t: float) -> AgentReading:
    """Parse the agent's text exposition; `t` is when it was received (unix seconds).

    Invalid exposition is a `parse` error and a negative or non-finite counter an
    `invalid_value` error (collector.sources.promtext)."""
    return _reading(((_entry(n, lab), v) for n, lab, v in iter_samples(text, _NAMES)), t)


def _entry(name: str, lab: dict[str, str]) -> Entry:
    node = lab.get("k8s_node")
    if name in _FLOW:
        key = _flow_key(lab)
        if key is not None:
            return (node, 1, key, _FLOW[name])
    elif name in _RX and lab.get("direction") == "rx" and "interface" in lab:
        return (node, 2, lab["interface"], _RX[name])
    return (node, 0, None, 0)


def _reading(samples: Iterable[tuple[Entry, float]], t: float) -> AgentReading:
    """Fold samples in exposition order: a later sample of a key wins, as does the last
    k8s_node label seen."""
    flows: dict[tuple[int, str, int, str, str], list[float]] = {}
    rx: dict[str, list[float]] = {}
    node = ""
    for (k8s_node, table, key, column), value in samples:
        if k8s_node is not None:
            node = k8s_node
        if table == 1:
            flows.setdefault(key, [0.0, 0.0])[column] = value
        elif table == 2:
            rx.setdefault(key, [0.0, 0.0])[column] = value
    traffic = tuple(
        TrafficCount(
            namespace_id=ns,
            trace_id=trace_id,
            node_id=node_id,
            direction=_DIRECTIONS[direction],
            packets_total=v[0],
            bytes_total=v[1],
            t=t,
            k8s_node=k8s_node,
        )
        for (ns, trace_id, node_id, direction, k8s_node), v in sorted(flows.items())
    )
    interfaces = tuple(
        TrafficTotalSample(AGENT_SOURCE, name, t, v[0], v[1], link_header_bytes=14)
        for name, v in sorted(rx.items())
    )
    return AgentReading(traffic, interfaces, node)


def _flow_key(lab: dict[str, str]) -> tuple[int, str, int, str, str] | None:
    direction = lab.get("direction", "")
    if direction not in _DIRECTIONS:
        return None
    try:
        return (
            int(lab["namespace_id"]),
            lab["trace_id"],
            int(lab["node_id"]),
            direction,
            lab.get("k8s_node", ""),
        )
    except (KeyError, ValueError):
        return None


def _read_line(line: str) -> list[tuple[Entry, float]] | None:
    """One line read in full (None if it is not valid: the caller then reads the whole text)."""
    try:
        return [(_entry(n, lab), v) for n, lab, v in iter_samples(line, _NAMES)]
    except PayloadError:
        return None


class AgentParser:
    """`parse_agent_metrics` for one agent, remembering what each line's head (name and labels,
    up to the last `}`) means: an agent exposes the same series at every read, so a line seen
    before costs a dictionary look-up and its value's check instead of the label parse, and
    makes no objects but its value (the full parse made ~10 per line, for 80 lines per agent
    per tick). Whenever a line is not valid or not the usual shape, the whole text is read by
    `parse_agent_metrics` instead, which raises the same error naming the same line; the
    result is the same by construction (tests/agent/test_scrape.py holds the two together).
    Not thread-safe: the source runtime parses one read of a source at a time."""

    def __init__(self) -> None:
        self._heads: dict[str, Entry | None] = {}
        """Head -> its entry, None for a valid line of a sample not wanted."""

    def parse(self, text: str, t: float) -> AgentReading:
        lines = text.split("\n")
        if len(self._heads) > MAX_HEADS_PER_LINE * len(lines) + 64:
            self._heads.clear()
        samples = self._samples(lines)
        if samples is None:
            return parse_agent_metrics(text, t)
        return _reading(samples, t)

    def _samples(self, lines: list[str]) -> list[tuple[Entry, float]] | None:
        heads = self._heads
        out: list[tuple[Entry, float]] = []
        for line in lines:
            if not line or line[0] == "#":
                continue
            i = line.rfind("}")
            head = line[: i + 1] if i > 0 and not line[0].isspace() else ""
            entry = heads.get(head, _UNSEEN) if head else _UNSEEN
            if entry is _UNSEEN:  # new, without labels or with leading blanks: read in full
                got = _read_line(line)
                if got is None:
                    return None
                if head:
                    heads[head] = got[0][0] if got else None
                out += got
                continue
            value = tail_value(line[i + 1 :])
            if value is None:
                return None
            if entry is not None:
                if value < 0 or not math.isfinite(value):
                    return None
                out.append((entry, value))
        return out


class AgentSource:
    """One agent's /metrics as a source named `agent/<host:port>`; the reading's `host` is the
    agent's k8s_node (else that name), which keys its interface series."""

    def __init__(
        self, url: str, timeout_seconds: float, *, max_response_bytes: int = 64 << 20
    ) -> None:
        self.name = f"agent/{urlsplit(url).netloc}"
        self.url = url
        # parsed off the event loop: hundreds of agents per tick must not stall the API
        self.policy = ReadPolicy(timeout_seconds=timeout_seconds, parse_in_thread=True)
        self.http = HttpClient(timeout_seconds, max_response_bytes=max_response_bytes)
        self.parser = AgentParser()

    async def fetch(self) -> str:
        return await self.http.get_text(self.url)

    def parse(self, raw: str, t: float) -> ReadResult:
        got = self.parser.parse(raw, t)
        return ReadResult(
            self.name,
            True,
            0.0,
            traffic_totals=got.interfaces,
            traffic=got.traffic,
            host=got.k8s_node or self.name,
        )

    async def aclose(self) -> None:
        await self.http.aclose()
