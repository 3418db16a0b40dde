"""Reads an agent's /metrics back into records the attributor uses (TrafficCount and
TrafficTotalSample). The agent's exposition is the only interface between the two.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from collector.models import Direction, TrafficCount, TrafficTotalSample

AGENT_SOURCE = "agent"
_DIRECTIONS: dict[str, Direction] = {"uplink": "uplink", "downlink": "downlink"}


class AgentScrapeError(RuntimeError):
    """An agent could not be read or its exposition was not understood."""


@dataclass(frozen=True, slots=True)
class AgentReading:
    traffic: tuple[TrafficCount, ...]
    interfaces: tuple[TrafficTotalSample, ...]
    """Rx totals per interface: target = interface name, link-layer bytes (14 per packet)."""
    k8s_node: str = ""


def parse_agent_metrics(text: str, t: float) -> AgentReading:
    """Parse the agent's text exposition; `t` is when it was received (unix seconds)."""
    flows: dict[tuple[int, str, int, str, str], list[float]] = {}
    rx: dict[str, list[float]] = {}
    node = ""
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as exc:
        raise AgentScrapeError(f"agent exposition is not valid: {exc}") from None
    for family in families:
        for s in family.samples:
            lab = s.labels
            node = lab.get("k8s_node", node)
            if s.name in ("e2e_energy_ioam_packets_total", "e2e_energy_ioam_bytes_total"):
                key = _flow_key(lab)
                if key is None:
                    continue
                slot = 0 if s.name == "e2e_energy_ioam_packets_total" else 1
                flows.setdefault(key, [0.0, 0.0])[slot] = s.value
            elif s.name in (
                "e2e_energy_interface_packets_total",
                "e2e_energy_interface_bytes_total",
            ):
                if lab.get("direction") != "rx" or "interface" not in lab:
                    continue
                slot = 0 if s.name == "e2e_energy_interface_packets_total" else 1
                rx.setdefault(lab["interface"], [0.0, 0.0])[slot] = s.value
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


async def fetch_agent(url: str, timeout_seconds: float) -> AgentReading:
    """GET an agent's /metrics and parse it; raises AgentScrapeError on any failure."""
    try:
        async with httpx.AsyncClient(timeout=timeout_seconds) as client:
            response = await client.get(url)
            response.raise_for_status()
    except httpx.HTTPError as exc:
        raise AgentScrapeError(f"{url}: {type(exc).__name__}: {exc}") from None
    return parse_agent_metrics(response.text, time.time())
