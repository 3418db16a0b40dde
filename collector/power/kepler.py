"""Kepler `/metrics`, both generations, as per-pod energy counters ("namespace/pod").

<=0.9: `kepler_container_joules_total{container_id,pod_name,container_namespace,mode}`, summed over
the pod's containers and both modes; the idle part is a second sample labelled mode=idle.
>=0.10: `kepler_pod_cpu_joules_total{pod_id,pod_name,pod_namespace,state,zone}` for ONE zone
(zones overlap: never summed); a pod uid's running and terminated series are one counter.
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from collector.models import EnergySample, ReadResult, SourceError
from collector.power.accumulate import MemberAccumulator
from collector.power.base import guarded_read
from collector.power.http import HttpOptions, fetch_text
from collector.power.promtext import iter_samples
from collector.settings import KeplerSource

OLD_TOTAL = "kepler_container_joules_total"
OLD_GPU = "kepler_container_gpu_joules_total"
NEW_POD = "kepler_pod_cpu_joules_total"
NEW_CONTAINER = "kepler_container_cpu_joules_total"
NEW_GPU = "kepler_pod_gpu_joules_total"
_NAMES = frozenset({OLD_TOTAL, OLD_GPU, NEW_POD, NEW_CONTAINER, NEW_GPU})

PodSelect = Callable[[str, str], bool]
PodLookup = Callable[[], Awaitable[set[str]]]
"""Resolves label rules to the current "namespace/pod" names (collector.kube)."""
Members = dict[str, dict[str, float]]  # target -> member id -> joules


@dataclass(frozen=True, slots=True)
class KeplerParse:
    """Per-member counters by part: `total`, `idle` (<=0.9 only) and `gpu` (when asked)."""

    generation: str
    parts: dict[str, Members] = field(default_factory=dict)
    zones: frozenset[str] = frozenset()
    """>=0.10: the zones present, to say which exist when the configured one does not."""


def _add(parts: dict[str, Members], part: str, target: str, member: str, joules: float) -> None:
    parts.setdefault(part, {}).setdefault(target, {})
    slot = parts[part][target]
    slot[member] = slot.get(member, 0.0) + joules


def _keep_max(parts: dict[str, Members], part: str, target: str, member: str, j: float) -> None:
    slot = parts.setdefault(part, {}).setdefault(target, {})
    slot[member] = max(slot.get(member, 0.0), j)


def detect_generation(names: set[str]) -> str:
    if names & {NEW_POD, NEW_CONTAINER, NEW_GPU}:
        return "0.10"
    if names & {OLD_TOTAL, OLD_GPU}:
        return "0.9"
    raise ValueError("no Kepler energy metrics in the response (neither <=0.9 nor >=0.10 names)")


def parse_kepler(
    text: str,
    *,
    generation: str = "auto",
    zone: str = "package",
    include_gpu: bool = False,
    select: PodSelect | None = None,
) -> KeplerParse:
    """Pure: exposition text -> per-member joules by part and pod target."""
    rows = list(iter_samples(text, _NAMES))
    gen = detect_generation({r[0] for r in rows}) if generation == "auto" else generation
    parts: dict[str, Members] = {}
    zones = frozenset(labels.get("zone", "") for name, labels, _v in rows if name == NEW_POD)
    for name, labels, value in rows:
        if gen == "0.9" and name in (OLD_TOTAL, OLD_GPU):
            ns, pod = labels.get("container_namespace", ""), labels.get("pod_name", "")
            if select is not None and not select(ns, pod):
                continue
            member = labels.get("container_id", "") + "/" + labels.get("container_name", "")
            target = f"{ns}/{pod}"
            if name == OLD_TOTAL:
                _add(parts, "total", target, member, value)
                if labels.get("mode") == "idle":
                    _add(parts, "idle", target, member, value)
            elif include_gpu:
                _add(parts, "gpu", target, member, value)
        elif gen == "0.10" and name in (NEW_POD, NEW_GPU):
            ns, pod = labels.get("pod_namespace", ""), labels.get("pod_name", "")
            if select is not None and not select(ns, pod):
                continue
            target, uid = f"{ns}/{pod}", labels.get("pod_id", "")
            if name == NEW_POD and labels.get("zone") == zone:
                _keep_max(parts, "total", target, uid, value)
            elif name == NEW_GPU and include_gpu:
                gpu = labels.get("gpu", labels.get("device", ""))
                _keep_max(parts, "gpu", target, f"{uid}/{gpu}", value)
    return KeplerParse(gen, parts, zones)


_PART_LABELS: dict[str, tuple[tuple[str, str], ...]] = {
    "total": (),
    "idle": (("mode", "idle"),),
    "gpu": (("component", "gpu"),),
}


def pod_selector(namespaces: list[str], pods: list[str], names: set[str] | None) -> PodSelect:
    """Namespaces exactly, pod names by glob, and (when resolved) an explicit pod-name set."""

    def select(ns: str, pod: str) -> bool:
        if namespaces and ns not in namespaces:
            return False
        if pods and not any(fnmatch.fnmatchcase(pod, p) for p in pods):
            return False
        return names is None or f"{ns}/{pod}" in names

    return select


class KeplerReader:
    """A Kepler endpoint as a Source; keeps the per-member state that makes counters monotonic."""

    def __init__(self, settings: KeplerSource, *, pod_lookup: PodLookup | None = None) -> None:
        self.name = settings.name
        self._s = settings
        self._acc = MemberAccumulator()
        self._lookup = pod_lookup

    def _http(self) -> HttpOptions:
        """Secrets are read per read: a rotated Secret is picked up, a missing one is an error
        of this source only."""
        return HttpOptions.from_settings(self._s, self._s.timeout_seconds)

    def samples(self, parsed: KeplerParse, t: float) -> tuple[EnergySample, ...]:
        out: list[EnergySample] = []
        for part, members in sorted(parsed.parts.items()):
            for target, joules in sorted(self._acc.update(part, members).items()):
                out.append(
                    EnergySample(
                        source=self.name,
                        target=target,
                        t=t,
                        kind="counter",
                        value=joules,
                        energy_basis=self._s.energy_basis,
                        labels=_PART_LABELS[part],
                    )
                )
        return tuple(out)

    async def read(self) -> ReadResult:
        async def body(t0: float) -> ReadResult:
            started = time.perf_counter()
            text = await fetch_text(self._http(), self._s.url)
            t = time.time()
            names = None if self._lookup is None else await self._lookup()
            select = pod_selector(self._s.namespaces, self._s.pods, names)
            # A large node's exposition takes a CPU-second to parse: off the loop, so the
            # other sources' reads and deadlines keep running meanwhile.
            parsed = await asyncio.to_thread(
                parse_kepler,
                text,
                generation=self._s.generation,
                zone=self._s.zone,
                include_gpu=self._s.include_gpu,
                select=select,
            )
            errors: tuple[SourceError, ...] = ()
            if parsed.zones and self._s.zone not in parsed.zones:
                seen = ", ".join(sorted(parsed.zones))
                errors = (
                    SourceError(self.name, "empty", f"no zone {self._s.zone!r} (has {seen})"),
                )
            samples = self.samples(parsed, t)
            return ReadResult(
                self.name,
                bool(samples) or not errors,
                time.perf_counter() - started,
                energy=samples,
                errors=errors,
            )

        return await guarded_read(self.name, body)
