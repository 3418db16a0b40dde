"""Measured inputs: energy per request and transport energy per byte and km from the
attributor's output, replacing the assumed figures of a dataset.

The replay JSON (`e2e-energy replay --format json`, issue 5) holds `apps` keyed by name with
`joules`, `requests`, `joules_per_request`, `bytes` and `nfs` keyed by NF name with `joules` and
`bytes` each, and a top-level `nfs` with each NF's `role`. The model's share is the energy of the
NFs whose role is `inference` or that are named in `inference_nfs`; the rest of the app's NFs are
the access network, which stays with the user.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from collector.placement.inputs import (
    MeasuredClass,
    MeasuredRef,
    PlacementConfig,
    PlacementInputError,
)


class MeasuredSource(Protocol):
    """Where measured per-app energy comes from (a replay output now; the store later)."""

    roles: dict[str, str]
    """NF name -> role, where the source knows it."""

    def app(self, name: str) -> dict[str, Any]: ...


class ReplayOutput:
    """A parsed `e2e-energy replay --format json` document."""

    def __init__(self, document: dict[str, Any], origin: str) -> None:
        apps = document.get("apps")
        if not isinstance(apps, dict):
            raise PlacementInputError(
                f"{origin}: apps: missing or not a mapping (not a replay output?)"
            )
        self._apps: dict[str, Any] = apps
        self.origin = origin
        nfs = document.get("nfs")
        self.roles: dict[str, str] = {
            name: v["role"]
            for name, v in (nfs.items() if isinstance(nfs, dict) else ())
            if isinstance(v, dict) and isinstance(v.get("role"), str)
        }

    @classmethod
    def read(cls, path: Path) -> ReplayOutput:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise PlacementInputError(
                f"{path}: cannot read replay output: {exc.strerror}"
            ) from None
        except json.JSONDecodeError as exc:
            raise PlacementInputError(f"{path}: not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise PlacementInputError(f"{path}: the top level must be an object")
        return cls(doc, str(path))

    def app(self, name: str) -> dict[str, Any]:
        entry = self._apps.get(name)
        if not isinstance(entry, dict):
            raise PlacementInputError(
                f"{self.origin}: apps.{name}: no such app in the replay output"
            )
        return entry


def _nf_joules(entry: dict[str, Any], origin: str, app: str) -> dict[str, tuple[float, str | None]]:
    nfs = entry.get("nfs")
    if not isinstance(nfs, dict) or not nfs:
        raise PlacementInputError(f"{origin}: apps.{app}.nfs: missing per-NF energy")
    out = {}
    for nf, v in nfs.items():
        if not isinstance(v, dict) or not isinstance(v.get("joules"), int | float):
            raise PlacementInputError(f"{origin}: apps.{app}.nfs.{nf}.joules: not a number")
        role = v.get("role")
        out[nf] = (float(v["joules"]), role if isinstance(role, str) else None)
    return out


def split_per_request(
    source: MeasuredSource, spec: MeasuredClass, origin: str
) -> tuple[float, float]:
    """(model joules, access joules) per request of `spec.app`."""
    entry = source.app(spec.app)
    requests = entry.get("requests")
    if not isinstance(requests, int | float) or requests <= 0:
        raise PlacementInputError(
            f"{origin}: apps.{spec.app}.requests: no requests, so energy per request is undefined"
        )
    nfs = _nf_joules(entry, origin, spec.app)
    roles = {nf: role for nf, (_, role) in nfs.items() if role} | source.roles
    model_nfs = {nf for nf, role in roles.items() if role == "inference"}
    model_nfs |= set(spec.inference_nfs)
    if not model_nfs & set(nfs):
        raise PlacementInputError(
            f"{origin}: apps.{spec.app}: no inference NF among {sorted(nfs)}; "
            "name it in inference_nfs"
        )
    model = sum(j for nf, (j, _) in nfs.items() if nf in model_nfs)
    access = sum(j for nf, (j, _) in nfs.items() if nf not in model_nfs)
    return model / requests, access / requests


def _segment_bytes(entry: dict[str, Any], nfs: list[str]) -> float | None:
    """The app's bytes at the segment's NFs (the largest: each NF on the path counts the same
    packets), else its end-to-end `bytes`; None where the replay output has neither."""
    per_nf = entry.get("nfs")
    found = [
        float(v["bytes"])
        for n, v in (per_nf.items() if isinstance(per_nf, dict) else ())
        if n in nfs and isinstance(v, dict) and isinstance(v.get("bytes"), int | float)
    ]
    if found and max(found) > 0:
        return max(found)
    total = entry.get("bytes")
    if isinstance(total, int | float) and total > 0:
        return float(total)
    return None


def transport_per_byte_km(source: MeasuredSource, ref: MeasuredRef, origin: str) -> float | None:
    """J per byte and km of a measured wide-area segment: its NFs' joules / (bytes × km).

    The bytes are those the app carried through the segment's NFs (replay `apps.<app>.nfs.<nf>.
    bytes`), falling back to the app's `bytes`; returns None without a transport ref.
    """
    t = ref.transport
    if t is None:
        return None
    entry = source.app(t.app)
    total_bytes = _segment_bytes(entry, t.nfs)
    if total_bytes is None:
        raise PlacementInputError(
            f"{origin}: apps.{t.app}.bytes: needed for measured transport energy"
        )
    nfs = _nf_joules(entry, origin, t.app)
    missing = [n for n in t.nfs if n not in nfs]
    if missing:
        raise PlacementInputError(f"{origin}: apps.{t.app}.nfs: no NF named {missing[0]!r}")
    return sum(nfs[n][0] for n in t.nfs) / (total_bytes * t.path_km)


def apply_measured(cfg: PlacementConfig, source: MeasuredSource | None = None) -> PlacementConfig:
    """`cfg` with measured energies in place of the dataset's figures (unchanged without any)."""
    ref = cfg.measured
    if ref is None:
        return cfg
    src = source if source is not None else ReplayOutput.read(ref.replay)
    origin = str(ref.replay)
    classes = []
    for c in cfg.classes:
        spec = ref.classes.get(c.name)
        if spec is None:
            classes.append(c)
            continue
        model, access = split_per_request(src, spec, origin)
        classes.append(
            c.model_copy(
                update={"energy_per_request_joules": model, "access_joules_per_request": access}
            )
        )
    update: dict[str, Any] = {"classes": classes}
    per_byte_km = transport_per_byte_km(src, ref, origin)
    if per_byte_km is not None:
        update["frictions"] = cfg.frictions.model_copy(
            update={"transport_joules_per_byte_km": per_byte_km}
        )
    return cfg.model_copy(update=update)
