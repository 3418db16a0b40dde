"""Shared set-ups of the live attributor's tests: a 4 W RU fed from an input file (for the real
`e2e-energy attributor` process), and ticks of an in-process LiveAttributor on an injected clock."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from collector.attribution.live import LiveAttributor

RU_CONFIG = "window_seconds: 1\nmax_gap_seconds: 3\nnfs: [{name: ru1, role: ru, node_id: 1}]\n"
"""One RU on 1 s windows; a gap of 3 s makes a window stale."""


def ru_inputs(tmp: Path, t0: float, seconds: int) -> tuple[Path, Path]:
    """Settings and an input file: the RU's energy counter grows 4 J/s and app a's uplink one
    packet of 100 bytes per second, a sample each second from t0 on. (config, inputs)."""
    config = tmp / "c.yaml"
    config.write_text(RU_CONFIG)
    lines = []
    for k in range(seconds):
        lines.append({"t": t0 + k, "kind": "energy", "nf": "ru1", "joules_total": 4.0 * k})
        traffic = {"direction": "uplink", "packets_total": k, "bytes_total": 100 * k}
        lines.append({"t": t0 + k, "kind": "traffic", "nf": "ru1", "app": "a", **traffic})
    inputs = tmp / "in.jsonl"
    inputs.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return config, inputs


def drive(live: LiveAttributor, now: list[float], until: float, step: float) -> None:
    """Tick `live` every `step` seconds of the injected clock `now[0]` until `until`."""

    async def ticks() -> None:
        while now[0] + step <= until:
            now[0] += step
            await live.tick()

    asyncio.run(ticks())
