"""Regenerate inputs.jsonl: 60 s of a small run, numbers chosen so the results are hand-checkable.

RU: 4 W constant (counter). DU: 3 W (gauge). VLM: 10 W (counter). factory-vision sends 2 pkt/s of
100 B uplink, chat 1 pkt/s of 300 B downlink, through RU and DU; the DU's ingress total also sees
1 pkt/s of 100 B untagged. Requests at the VLM: factory-vision 1 per 5 s, chat 1 per 15 s.
Intensity: ran-site 400 g/kWh, datacentre 250 g/kWh.
Run: python tests/data/attribution/make_inputs.py
"""

import json
from pathlib import Path

out = []
for t in range(0, 61, 5):
    out.append({"t": t, "kind": "energy", "nf": "ru1", "joules_total": 1000 + 4.0 * t})
    out.append({"t": t, "kind": "energy", "nf": "du1", "watts": 3.0})
    out.append({"t": t, "kind": "energy", "nf": "vlm", "joules_total": 10.0 * t})
    for nf in ("ru1", "du1"):
        out.append(
            {
                "t": t,
                "kind": "traffic",
                "nf": nf,
                "app": "factory-vision",
                "direction": "uplink",
                "packets_total": 2 * t,
                "bytes_total": 200 * t,
            }
        )
        out.append(
            {
                "t": t,
                "kind": "traffic",
                "nf": nf,
                "app": "chat",
                "direction": "downlink",
                "packets_total": t,
                "bytes_total": 300 * t,
            }
        )
    out.append(
        {
            "t": t,
            "kind": "traffic_total",
            "nf": "du1",
            "packets_total": 4 * t,
            "bytes_total": 600 * t,
        }
    )
    out.append(
        {"t": t, "kind": "requests", "nf": "vlm", "app": "factory-vision", "requests_total": t // 5}
    )
    out.append({"t": t, "kind": "requests", "nf": "vlm", "app": "chat", "requests_total": t // 15})
out.append({"t": 0, "kind": "intensity", "zone": "ran-site", "grams_per_kwh": 400})
out.append({"t": 0, "kind": "intensity", "zone": "datacentre", "grams_per_kwh": 250})
path = Path(__file__).with_name("inputs.jsonl")
path.write_text("".join(json.dumps(r) + "\n" for r in out), encoding="utf-8")
