"""A straightforward pure-Python reference of the window split (docs/explanation/attribution.md).

Loops and dicts only, no numpy, and its own constants: the oracle tests/attribution/test_split.py
compares the vectorised engine against, and the baseline of bench/attribution.py. Returns plain
dicts keyed by (nf index, app, direction).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from collector.attribution.inputs import WindowInputs

JOULES_PER_KWH = 3_600_000.0


def _amounts(inp: WindowInputs) -> dict[tuple[int, str], dict[str, float]]:
    table: dict[tuple[int, str], dict[str, float]] = defaultdict(
        lambda: {"pu": 0.0, "pd": 0.0, "bu": 0.0, "bd": 0.0, "r": 0.0}
    )
    for i in range(len(inp.traffic_nf)):
        row = table[(int(inp.traffic_nf[i]), str(inp.traffic_app[i]))]
        suffix = "u" if int(inp.traffic_dir[i]) == 0 else "d"
        row["p" + suffix] += float(inp.traffic_packets[i])
        row["b" + suffix] += float(inp.traffic_bytes[i])
    needs = [
        n
        for n, nf in enumerate(inp.nfs)
        if nf.spec.static_key in ("requests", "equal")
        or nf.spec.dynamic_key in ("requests", "equal")
    ]
    own = {n for n in needs if inp.nfs[n].has_requests_source}
    app_level = [n for n in needs if n not in own]
    for i in range(len(inp.req_nf)):
        owner = int(inp.req_nf[i])
        for n in ([owner] if owner in own else []) if owner >= 0 else app_level:
            table[(n, str(inp.req_app[i]))]["r"] += float(inp.req_count[i])
    return table


def _x(row: dict[str, float], key: str) -> float:
    packets, bytes_ = row["pu"] + row["pd"], row["bu"] + row["bd"]
    if key == "packets":
        return packets
    if key == "bytes":
        return bytes_
    if key == "requests":
        return row["r"]
    return 1.0 if (packets > 0 or bytes_ > 0 or row["r"] > 0) else 0.0


def _uplink_fraction(row: dict[str, float], dynamic_key: str) -> float:
    order = [("pu", "pd")] if dynamic_key == "packets" else [("bu", "bd")]
    for up, down in [*order, ("pu", "pd")]:
        if row[up] + row[down] > 0:
            return row[up] / (row[up] + row[down])
    return 1.0


def reference_split(inp: WindowInputs) -> dict[str, Any]:
    """Per entry (nf, app, direction): static, dynamic, co2; per NF: the parts of U and E."""
    by_nf: dict[int, dict[str, dict[str, float]]] = defaultdict(dict)
    for (m, app), row in _amounts(inp).items():
        by_nf[m][app] = row
    entries: dict[tuple[int, str, int], dict[str, float]] = {}
    nfs: list[dict[str, float]] = []
    for n, nf in enumerate(inp.nfs):
        rows = by_nf[n]
        if nf.energy_joules is None:
            nfs.append(
                {
                    "measured": 0.0,
                    "attributed": 0.0,
                    "untagged": 0.0,
                    "idle_no_traffic": 0.0,
                    "catch_up": 0.0,
                    "stale": 1.0,
                }
            )
            continue
        tagged_p = sum(r["pu"] + r["pd"] for r in rows.values())
        tagged_b = sum(r["bu"] + r["bd"] for r in rows.values())
        u_p = u_b = 0.0
        if nf.total_packets is not None:
            u_p = max((nf.total_packets or 0.0) - tagged_p, 0.0)
            u_b = max((nf.total_bytes or 0.0) - tagged_b, 0.0)
        u_of = {
            "packets": u_p,
            "bytes": u_b,
            "requests": 0.0,
            "equal": 1.0 if (u_p > 0 or u_b > 0) else 0.0,
        }
        static = min(nf.idle_joules, nf.energy_joules)
        dynamic = nf.energy_joules - static
        untagged = no_traffic = attributed = 0.0
        shares: dict[str, list[float]] = {app: [0.0, 0.0] for app in rows}
        for k, (key, energy) in enumerate(
            ((nf.spec.static_key, static), (nf.spec.dynamic_key, dynamic))
        ):
            den = sum(_x(r, key) for r in rows.values()) + u_of[key]
            if den <= 0:
                no_traffic += energy
                continue
            untagged += energy * (u_of[key] / den)
            for app, r in rows.items():
                shares[app][k] = _x(r, key) / den
        for app, r in rows.items():
            st, dy = static * shares[app][0], dynamic * shares[app][1]
            attributed += st + dy
            up = _uplink_fraction(r, nf.spec.dynamic_key)
            emb = nf.spec.embodied_grams_per_hour * inp.seconds / 3600.0 * shares[app][0]
            for d, frac in ((0, up), (1, 1.0 - up)):
                # a direction row exists when it carries energy or embodied emissions; judged on
                # the row's own amounts (a tiny fraction of a tiny embodied rate is 0.0, no row)
                if frac <= 0 or ((st + dy) * frac <= 0 and emb * frac <= 0):
                    continue
                kwh = (st + dy) * frac / JOULES_PER_KWH
                entries[(n, app, d)] = {
                    "static": st * frac,
                    "dynamic": dy * frac,
                    "co2": kwh * nf.intensity if nf.intensity is not None else float("nan"),
                    "embodied": emb * frac,
                }
        nfs.append(
            {
                "measured": nf.energy_joules + nf.catch_up_joules,
                "attributed": attributed,
                "untagged": untagged,
                "idle_no_traffic": no_traffic,
                "catch_up": nf.catch_up_joules,
                "stale": 0.0,
            }
        )
    return {"entries": entries, "nfs": nfs}
