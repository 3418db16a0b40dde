"""Live grid intensities for regions: samples from the carbon providers replace the static
average or marginal figure of every region whose `carbon_zone` they name.

This is the seam to collector.carbon (the sources branch): anything yielding IntensitySample
records works, so the advisor does not depend on which providers answered.
"""

from __future__ import annotations

from collections.abc import Iterable

from collector.models import IntensitySample
from collector.placement.inputs import PlacementConfig


def apply_intensities(cfg: PlacementConfig, samples: Iterable[IntensitySample]) -> PlacementConfig:
    """`cfg` with each region's intensity set from its zone's newest sample of that signal."""
    newest: dict[tuple[str, str], IntensitySample] = {}
    for s in samples:
        key = (s.zone, s.signal)
        if key not in newest or s.t > newest[key].t:
            newest[key] = s
    regions = []
    for r in cfg.regions:
        update = {}
        if r.carbon_zone is not None:
            avg = newest.get((r.carbon_zone, "average"))
            marg = newest.get((r.carbon_zone, "marginal"))
            if avg is not None:
                update["grams_per_kwh_average"] = avg.grams_per_kwh
            if marg is not None:
                update["grams_per_kwh_marginal"] = marg.grams_per_kwh
        regions.append(r.model_copy(update=update) if update else r)
    return cfg.model_copy(update={"regions": regions})
