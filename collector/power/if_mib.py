"""IF-MIB traffic totals (64-bit ifHC* ingress counters) for devices no agent sees (pure).

Ingress only, as the accounting (docs/explanation/attribution.md) counts a forwarded packet
once: packets are ifHCInUcastPkts + ifHCInMulticastPkts + ifHCInBroadcastPkts, bytes
ifHCInOctets (link-layer octets, so link_header_bytes = 14 for Ethernet). Target = ifIndex as a
string.
"""

from __future__ import annotations

from collections.abc import Mapping

from collector.models import TrafficTotalSample
from collector.sources.values import checked

IFX = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
IF_NAME = (*IFX, 1)
IF_HC_IN_OCTETS = (*IFX, 6)
IF_HC_IN_UCAST = (*IFX, 7)
IF_HC_IN_MCAST = (*IFX, 8)
IF_HC_IN_BCAST = (*IFX, 9)
IF_MIB_COLUMNS = (IF_HC_IN_OCTETS, IF_HC_IN_UCAST, IF_HC_IN_MCAST, IF_HC_IN_BCAST)
COUNTER64_WIDTH = 2.0**64


def parse_if_mib(
    table: Mapping[tuple[int, ...], object],
    *,
    source: str,
    t: float,
    link_header_bytes: int = 14,
) -> tuple[TrafficTotalSample, ...]:
    """Pure: walked ifXTable columns -> one rx TrafficTotalSample per ifIndex with octets."""
    cols: dict[tuple[int, ...], dict[int, int]] = {c: {} for c in IF_MIB_COLUMNS}
    for oid, value in table.items():
        base, idx = oid[:-1], oid[-1]
        if base in cols and isinstance(value, int):
            cols[base][idx] = value
    out = []
    for if_index, octets in sorted(cols[IF_HC_IN_OCTETS].items()):
        packets = sum(cols[c].get(if_index, 0) for c in IF_MIB_COLUMNS[1:])
        out.append(
            TrafficTotalSample(
                source=source,
                target=str(if_index),
                t=t,
                packets_total=checked(float(packets), f"ifIndex {if_index} packets"),
                bytes_total=checked(float(octets), f"ifIndex {if_index} ifHCInOctets"),
                link_header_bytes=link_header_bytes,
                counter_width=COUNTER64_WIDTH,
            )
        )
    return tuple(out)
