"""Kepler `/metrics`, both generations, as per-pod energy counters ("namespace/pod").

<=0.9: `kepler_container_joules_total{container_id,pod_name,container_namespace,mode}`, summed over
the pod's containers and both modes; the idle part is a second sample labelled mode=idle.
>=0.10: `kepler_pod_cpu_joules_total{pod_id,pod_name,pod_namespace,state,zone}` for ONE zone
(zones overlap: never summed); a pod uid's running and terminated series are one counter.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from collector.models import EnergySample, ReadResult, SourceError
from collector.power.accumulate import MemberAccumulator
from collector.settings import KeplerSource
from collector.sources import PayloadError, SourceFailure
from collector.sources.http import HttpSource
from collector.sources.promtext import iter_samples

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
    raise PayloadError("no Kepler energy metrics in the response (neither <=0.9 nor >=0.10 names)")


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


def kube_lookup(labels: dict[str, str], namespaces: list[str]) -> PodLookup:
    """The pods carrying `labels`, listed through the Kubernetes API at every read."""

    async def lookup() -> set[str]:
        from collector import kube

        try:
            return await kube.pod_names_async(labels=labels, namespaces=namespaces)
        except Exception as exc:  # the client raises many types (config, HTTP, API)
            raise SourceFailure("kube", f"pod lookup by labels {labels}: {exc}") from None

    return lookup


class KeplerReader(HttpSource[KeplerSource]):
    """A Kepler endpoint; keeps the per-member state that makes counters monotonic."""

    def __init__(self, settings: KeplerSource, *, pod_lookup: PodLookup | None = None) -> None:
        # A large node's exposition takes a CPU-second to parse: off the loop, so the other
        # sources' reads and deadlines, and the API, keep running meanwhile.
        super().__init__(settings, settings.url, parse_in_thread=True)
        self._acc = MemberAccumulator()
        if pod_lookup is None and settings.pod_labels:
            pod_lookup = kube_lookup(settings.pod_labels, settings.namespaces)
        self._lookup = pod_lookup

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
                        energy_basis=self.settings.energy_basis,
                        labels=_PART_LABELS[part],
                    )
                )
        return tuple(out)

    async def fetch(self) -> tuple[str, set[str] | None]:
        """The exposition, and (with `pod_labels`) the pods to keep, listed first so that the
        sample time is when the exposition arrived."""
        names = None if self._lookup is None else await self._lookup()
        return await self.http.get_text(self.url), names

    def parse(self, raw: tuple[str, set[str] | None], t: float) -> ReadResult:
        text, names = raw
        parsed = parse_kepler(
            text,
            generation=self.settings.generation,
            zone=self.settings.zone,
            include_gpu=self.settings.include_gpu,
            select=pod_selector(self.settings.namespaces, self.settings.pods, names),
        )
        errors: tuple[SourceError, ...] = ()
        if parsed.zones and self.settings.zone not in parsed.zones:
            seen = ", ".join(sorted(parsed.zones))
            errors = (
                SourceError(self.name, "empty", f"no zone {self.settings.zone!r} (has {seen})"),
            )
        samples = self.samples(parsed, t)
        up = bool(samples) or not errors
        return ReadResult(self.name, up, 0.0, energy=samples, errors=errors)
