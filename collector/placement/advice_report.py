"""The advice document as plain text: one row per app, refusals with their reasons, and where the
inputs came from. The CLI (`--from-store`) and the demo's report print it."""

from __future__ import annotations

import time
from typing import Any

from collector.placement.report import _fmt, table


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def _placement(a: dict[str, Any]) -> str:
    if a["status"] != "advice":
        return "-"
    return ", ".join(f"{p['region']} {p['share'] * 100:.0f}%" for p in a["placement"])


def advice_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows (for plain-text and Markdown tables alike)."""
    cur = doc["currency"]
    headers = [
        "app", "class", "status", "covered", "requests", "req/s", "model J/req", "access J/req",
        "bytes/req", "home", "recommended", "relocatable", "saved g/req", "saved J/req",
        f"saved {cur}/req",
    ]  # fmt: skip
    rows = []
    for a in doc["apps"]:
        i = a["inputs"]
        saving = a.get("saving_per_request") or {}
        rows.append(
            [
                a["app"],
                a["class"],
                a["refusal"]["reason"] if a["refusal"] else "advice",
                f"{i['coverage_ratio'] * 100:.0f}%",
                round(i["requests"]),
                i["requests_per_second"],
                i["model_joules_per_request"],
                i["access_joules_per_request"],
                i["bytes_per_request"],
                a.get("home"),
                _placement(a),
                None if a["status"] != "advice" else f"{a['relocatable_ratio'] * 100:.0f}%",
                saving.get("co2_grams"),
                saving.get("joules"),
                saving.get("cost"),
            ]
        )
    return headers, rows


def advice_cells(
    doc: dict[str, Any], columns: list[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """`advice_rows` as text cells, optionally only the named columns (for narrow consoles)."""
    headers, rows = advice_rows(doc)
    keep = [i for i, h in enumerate(headers) if columns is None or h in columns]
    return [headers[i] for i in keep], [[_fmt(row[i]) for i in keep] for row in rows]


def compact_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """A narrow table (an 80-column console): the advice in one cell per app; model and access
    in J per request, savings per request."""
    head = ["app (class)", "req", "model", "access", "advice", "saved g", "saved J"]
    body = []
    for a in doc["apps"]:
        i, saving = a["inputs"], a.get("saving_per_request") or {}
        if a["refusal"]:
            advice = f"refused: {a['refusal']['reason']}"
        elif [p["region"] for p in a["placement"]] == [a["home"]]:
            advice = f"stay at {a['home']}"
        else:
            advice = _placement(a)
        body.append(
            [f"{a['app']} ({a['class']})", f"{i['requests']:.0f}"]
            + [_fmt(v) for v in (i["model_joules_per_request"], i["access_joules_per_request"])]
            + [advice]
            + [_fmt(saving.get(k)) for k in ("co2_grams", "joules")]
        )
    return head, body


def alternative_lines(doc: dict[str, Any]) -> list[str]:
    """Per advised app, the best region other than home and why it does or does not pay (the
    break-even, per million requests in the objective's units)."""
    unit = doc["currency"] if doc["objective"]["kind"] in ("blend", "cost") else "objective"
    out = []
    for a in doc["apps"]:
        rows = a.get("break_even") or []
        if a["status"] != "advice" or not rows:
            continue
        b = rows[0]
        verdict = "pays" if b["relocate"] else "does not pay"
        out.append(
            f"{a['app']}: moving to {b['target']} ({b['km']:.0f} km) {verdict}: meter savings "
            f"{_fmt(b['meter_savings'])} against frictions {_fmt(b['egress_and_migration'])} and "
            f"extra transport {_fmt(b['extra_transport'])} {unit} per million requests"
        )
    return out


def refusal_lines(doc: dict[str, Any]) -> list[str]:
    """Each refused app's message (it begins with the app's name)."""
    return [a["refusal"]["message"] for a in doc["apps"] if a["refusal"]]


def provenance(doc: dict[str, Any]) -> list[str]:
    """Lines saying which period, which intensities and which transport figure were used."""
    p = doc["period"]
    lines = [
        f"measured period: {_utc(p['start'])} to {_utc(p['end'])} ({p['seconds']:.0f} s)",
    ]
    live = [r for r in doc["regions"] if r["intensity_source"] == "live"]
    signal = doc["objective"]["signal"]
    if live:
        shown = ", ".join(f"{r['name']} {r['grams_per_kwh']:.0f} g/kWh" for r in live)
        lines.append(f"live {signal} intensities: {shown}; other regions: the dataset's")
    else:
        lines.append(f"{signal} intensities: the dataset's (no live sample for a region's zone)")
    t = doc["transport"]
    if t["source"] == "measured":
        lines.append(
            f"transport: {t['joules_per_byte_km']:.3g} J per byte and km, measured at "
            f"{', '.join(t['nfs'])} over {t['path_km']:g} km"
        )
    else:
        lines.append(
            f"transport: the dataset's {t['joules_per_byte_km']:.3g} J per byte and km"
            f" ({t['reason']})"
        )
    if doc.get("error"):
        lines.append(f"no placement: {doc['error']}")
    return lines


def advice_text(doc: dict[str, Any]) -> str:
    headers, rows = advice_rows(doc)
    refused = [f"  {line}" for line in refusal_lines(doc)]
    parts = ["\n".join(provenance(doc)), table(headers, rows)]
    alternatives = alternative_lines(doc)
    if alternatives:
        parts.append("\n".join(alternatives))
    if refused:
        parts.append("refused:\n" + "\n".join(refused))
    return "\n\n".join(parts)
