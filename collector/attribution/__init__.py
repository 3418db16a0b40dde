"""Attribution: topology, the window grid, the accounting, snapshots
(docs/explanation/attribution.md)."""

from collector.attribution.engine import Engine, UnknownNf
from collector.attribution.snapshot import AppRows, NfTotals, NfWindow, Snapshot, Totals
from collector.attribution.topology import NfSpec, Topology, topology_from_settings

__all__ = [
    "AppRows",
    "Engine",
    "NfSpec",
    "NfTotals",
    "NfWindow",
    "Snapshot",
    "Topology",
    "Totals",
    "UnknownNf",
    "topology_from_settings",
]
