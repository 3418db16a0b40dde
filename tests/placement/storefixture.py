"""A store written row by row with round numbers, so the advice's inputs can be checked by hand.

Four 15 s windows (0, 15, 30, 45) of three NFs: ru1 (ru), upf1 (upf), gpu1 (inference). App
`vision` per window: ru1 10 + 5 J, upf1 2 + 3 J, gpu1 20 + 30 J, 10 requests, 100 000 bytes at
ru1 and upf1, 90 000 at gpu1. ru1 is stale in window 45 (its energy there is not estimated), so
the covered windows of `vision` are 0, 15 and 30. App `chat` has energy at gpu1 and no requests.

DATASET and spec_for: a two-region placement dataset (near: dear and dirty, home of origin o;
far: cheap and clean, 10° of latitude north on the same meridian) and settings mapping both apps
to its class, with upf1 as a 100 km transport segment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collector.settings import PlacementSettings
from collector.store import Store

W = 15.0
ROLES = {"ru1": "ru", "upf1": "upf", "gpu1": "inference"}
# nf -> (static J, dynamic J) of `vision` in each window
VISION = {"ru1": (10.0, 5.0), "upf1": (2.0, 3.0), "gpu1": (20.0, 30.0)}
BYTES = {"ru1": 100_000.0, "upf1": 100_000.0, "gpu1": 90_000.0}
CHAT_GPU_JOULES = 4.0
# nf -> (measured J, unattributed J of which all untagged) in each window
NF_ENERGY = {"ru1": (20.0, 5.0), "upf1": (6.0, 1.0), "gpu1": (60.0, 6.0)}


def _nf_row(nf: str, stale: bool) -> tuple[Any, ...]:
    measured, unattributed = (0.0, 0.0) if stale else NF_ENERGY[nf]
    return (
        nf, ROLES[nf], "z", "measured", "all", stale, measured, measured - unattributed,
        unattributed, 0.0, 0.0, W if stale else 0.0, 0.0, 0.0,
    )  # fmt: skip


def write_store(path: Path, *, windows: tuple[float, ...] = (0.0, 15.0, 30.0, 45.0)) -> Path:
    store = Store(path, writer=True, clock=lambda: 60.0)
    totals = {"apps": [], "nfs": [], "requests": [], "missing": [], "meta": [("windows", 1.0)]}
    for ws in windows:
        stale_ru = ws == 45.0
        apps = [
            ("vision", nf, ROLES[nf], "uplink", st, dy, 0.001, 0.001, 0.0)
            for nf, (st, dy) in VISION.items()
            if not (stale_ru and nf == "ru1")
        ]
        apps.append(("chat", "gpu1", "inference", "uplink", CHAT_GPU_JOULES, 0.0, 0.002, 0.0, 0.0))
        store.write_window(
            ws,
            W,
            apps=apps,
            nfs=[_nf_row(nf, stale_ru and nf == "ru1") for nf in ROLES],
            requests=[("vision", 10.0)],
            totals=totals,
            traffic=[("vision", nf, 100.0, b) for nf, b in BYTES.items()],
        )
    store.close()
    return path


DATASET = """
classes:
  - {name: interactive, latency_budget_ms: 5000, processing_ms: 100,
     energy_per_request_joules: 1, payload_bytes: 1000, demand: {o: 99}}
origins: [{name: o, lat: 50, lon: 8, home: near}]
regions:
  - {name: near, lat: 50, lon: 8, price_per_kwh: 0.30, grams_per_kwh_average: 400,
     grams_per_kwh_marginal: 500, pue: 1.5}
  - {name: far, lat: 60, lon: 8, price_per_kwh: 0.10, grams_per_kwh_average: 40,
     grams_per_kwh_marginal: 50, pue: 1.1}
frictions: {regional_km: 1000}
"""


def spec_for(tmp_path: Path, **update: object) -> PlacementSettings:
    (tmp_path / "d.yaml").write_text(DATASET)
    base: dict[str, object] = {
        "config": tmp_path / "d.yaml",
        "apps": {
            "vision": {"class": "interactive", "origin": "o"},
            "chat": {"class": "interactive", "origin": "o"},
        },
        "transport": {"nfs": ["upf1"], "path_km": 100.0},
        "carbon_zones": {"near": "z"},
        "min_requests": 10,
        "min_coverage_ratio": 0.7,
    }
    return PlacementSettings.model_validate(base | update)
