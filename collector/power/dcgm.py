"""NVIDIA dcgm-exporter: GPU energy (mJ counter) and power (W) per GPU and per pod.

Per GPU the target is "gpu/<index>" (the `gpu` label); with pod mapping on, each pod's GPUs are
also summed into "namespace/pod". The energy counter is millijoules since boot (units.py).
"""

from __future__ import annotations

from collector.models import EnergyBasis, EnergySample, ReadResult, SampleKind
from collector.settings import DcgmSource
from collector.sources.http import TextSource
from collector.sources.promtext import iter_samples
from collector.units import joules_from_millijoules

ENERGY = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"
POWER = "DCGM_FI_DEV_POWER_USAGE"


def parse_dcgm(
    text: str, *, source: str, t: float, energy_basis: EnergyBasis = "measured"
) -> tuple[EnergySample, ...]:
    """Pure: exposition text -> per-GPU and per-pod counter (J) and gauge (W) samples."""
    per_gpu: dict[tuple[str, SampleKind], float] = {}
    per_pod: dict[tuple[str, SampleKind], float] = {}
    seen_gpu_pod: set[tuple[str, str, str]] = set()
    for name, labels, value in iter_samples(text, frozenset({ENERGY, POWER})):
        kind: SampleKind = "counter" if name == ENERGY else "gauge"
        v = float(joules_from_millijoules(value)) if kind == "counter" else value
        gpu = labels.get("gpu") or labels.get("UUID") or "?"
        per_gpu[(f"gpu/{gpu}", kind)] = v
        pod, ns = labels.get("pod", ""), labels.get("namespace", "")
        if pod and (gpu, pod, kind) not in seen_gpu_pod:
            seen_gpu_pod.add((gpu, pod, kind))
            key = (f"{ns}/{pod}", kind)
            per_pod[key] = per_pod.get(key, 0.0) + v
    return tuple(
        EnergySample(source, target, t, kind, value, energy_basis=energy_basis)
        for (target, kind), value in sorted({**per_gpu, **per_pod}.items())
    )


class DcgmReader(TextSource[DcgmSource]):
    def __init__(self, settings: DcgmSource) -> None:
        super().__init__(settings, settings.url)

    def parse(self, raw: str, t: float) -> ReadResult:
        basis = self.settings.energy_basis
        samples = parse_dcgm(raw, source=self.name, t=t, energy_basis=basis)
        return ReadResult(self.name, True, 0.0, energy=samples)
