"""The testbed's power models, pure functions of what each NF actually did in an interval.

- RU (radio): EARTH model (Auer et al. 2011, eq. 1), P = N_trx (P0 + delta_p P_out) with
  P_out = P_max x load, where load is the RU's forwarded bit rate over its full-load capacity
  (clamped to 1). Sleep mode (N_trx P_sleep at P_out = 0) is not modelled: a UE stays attached
  for the whole run.
- Kernel-forwarding NF (DU): P = static + J/packet x packets/s + J/byte x bytes/s from the
  interface counters (rx on all data interfaces: each forwarded packet is received once).
- User-space NF (CU-UP, UPF, inference server): P = static + W/core x CPU seconds per second of
  its processes (/proc/<pid>/stat utime + stime).
Every number is a parameter in testbed/topology.yaml with its source or its assumed range
(testbed/README.md lists them); outputs are `modelled`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from testbed.settings import CpuModel, RadioModel, TrafficModel

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Interval:
    """What an NF did during `seconds`: traffic it received and CPU time its processes used."""

    seconds: float
    packets: float = 0.0
    bytes: float = 0.0
    cpu_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class PowerSplit:
    static_watts: float
    dynamic_watts: float

    @property
    def watts(self) -> float:
        return self.static_watts + self.dynamic_watts


def radio_power(model: RadioModel, iv: Interval) -> PowerSplit:
    bits_per_second = 8.0 * iv.bytes / iv.seconds if iv.seconds > 0 else 0.0
    load = min(1.0, bits_per_second / model.capacity_bits_per_second.value)
    p_out = model.p_max_watts.value * load
    return PowerSplit(model.static_watts, model.n_trx.value * model.delta_p.value * p_out)


def traffic_power(model: TrafficModel, iv: Interval) -> PowerSplit:
    static = model.static_watts.value
    if iv.seconds <= 0:
        return PowerSplit(static, 0.0)
    joules = model.joules_per_packet.value * iv.packets + model.joules_per_byte.value * iv.bytes
    return PowerSplit(static, joules / iv.seconds)


def cpu_power(model: CpuModel, iv: Interval) -> PowerSplit:
    static = model.static_watts.value
    if iv.seconds <= 0:
        return PowerSplit(static, 0.0)
    return PowerSplit(static, model.watts_per_core.value * iv.cpu_seconds / iv.seconds)


def cpu_seconds(pids: list[int], proc: Path = Path("/proc")) -> float:
    """utime + stime of the processes (all their threads), in seconds; gone processes count 0."""
    total = 0
    for pid in pids:
        try:
            fields = (proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS
