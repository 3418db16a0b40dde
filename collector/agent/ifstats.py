"""Interface totals from /sys/class/net/<if>/statistics, so untagged traffic stays visible.

The root is injectable so tests read a recorded tree; a missing interface or file is "no data",
not an error (the interface may come and go).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SYSFS_NET = Path("/sys/class/net")


@dataclass(frozen=True, slots=True)
class InterfaceTotals:
    interface: str
    rx_packets: int
    rx_bytes: int
    tx_packets: int
    tx_bytes: int


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def read_interface(name: str, *, root: Path = SYSFS_NET) -> InterfaceTotals | None:
    base = root / name / "statistics"
    values = [_read_int(base / f) for f in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes")]
    if any(v is None for v in values):
        return None
    rxp, rxb, txp, txb = (int(v or 0) for v in values)
    return InterfaceTotals(name, rxp, rxb, txp, txb)
