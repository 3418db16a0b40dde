"""Reads an agent's /metrics back into records the attributor uses (TrafficCount and
TrafficTotalSample). The agent's exposition is the only interface between the two; an agent
is a source like any other, run by the source runtime (pooled client, deadline, health).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from collector.models import Direction, ReadResult, TrafficCount, TrafficTotalSample
from collector.sources import ReadPolicy
from collector.sources.http import HttpClient
from collector.sources.promtext import iter_samples

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


def parse_agent_metrics(text: str, t: float) -> AgentReading:
    """Parse the agent's text exposition; `t` is when it was received (unix seconds).

    Invalid exposition is a `parse` error and a negative or non-finite counter an
    `invalid_value` error (collector.sources.promtext)."""
    flows: dict[tuple[int, str, int, str, str], list[float]] = {}
    rx: dict[str, list[float]] = {}
    node = ""
    for name, lab, value in iter_samples(text, _NAMES):
        node = lab.get("k8s_node", node)
        if name in _FLOW:
            key = _flow_key(lab)
            if key is not None:
                flows.setdefault(key, [0.0, 0.0])[_FLOW[name]] = value
        elif name in _RX and lab.get("direction") == "rx" and "interface" in lab:
            rx.setdefault(lab["interface"], [0.0, 0.0])[_RX[name]] = value
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

    async def fetch(self) -> str:
        return await self.http.get_text(self.url)

    def parse(self, raw: str, t: float) -> ReadResult:
        got = parse_agent_metrics(raw, t)
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
