"""The report's lever and sensitivity tables (Markdown), from the phases' per-application rows.

Sensitivity is computed, not re-run: the attribution is linear in each NF's energy (an app's
share of an NF's static or dynamic energy depends on traffic and requests only), so scaling the
RU's static power by a or the server's watts per busy core by b scales exactly those parts of
every app's figures. The RU's modelled static power is N_TRX x P0 (the EARTH rows give the
alternatives); the server's dynamic energy is watts per busy core x its measured CPU time.
"""

from __future__ import annotations

from testbed.report import PAPER_ENERGY_SHARE, AppRow, change, format_pct, per_request_all
from testbed.settings import TestbedFile

EARTH_ALTERNATIVES = (("no radio static", 0, 0.0), ("femto", 2, 4.8), ("micro", 2, 56.0))
"""(row, N_TRX, P0 in W) of EARTH Table II next to the topology's own radio (Auer et al. 2011)."""
SERVER_FACTORS = (1.0, 10.0, 100.0, 1000.0)


def md_table(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def lever_table(base: list[AppRow], other: list[AppRow]) -> str:
    """Per app and over all requests: E2E and dynamic J/request, baseline against the lever."""
    total, dyn = change(base, other), change(base, other, dynamic=True)
    b = {r.app: r for r in base}
    body = []
    for r in other:
        if r.app not in b:
            continue
        body.append(
            [
                r.app,
                f"{b[r.app].joules_per_request:.3f}",
                f"{r.joules_per_request:.3f}",
                format_pct(total.get(r.app)),
                f"{b[r.app].dynamic_joules_per_request:.3f}",
                f"{r.dynamic_joules_per_request:.3f}",
                format_pct(dyn.get(r.app)),
            ]
        )
    body.append(
        [
            "all requests",
            f"{per_request_all(base):.3f}",
            f"{per_request_all(other):.3f}",
            format_pct(total.get("all")),
            f"{per_request_all(base, dynamic=True):.3f}",
            f"{per_request_all(other, dynamic=True):.3f}",
            format_pct(dyn.get("all")),
        ]
    )
    head = [
        "app",
        "baseline J/req",
        "lever J/req",
        "change",
        "baseline dynamic J/req",
        "lever dynamic J/req",
        "change (dynamic)",
    ]
    return md_table(head, body)


def _parts(row: AppRow) -> tuple[float, float, float, float]:
    """(network J/req, of which the RU's static, server static, server dynamic) of one row."""
    by, dyn = row.joules_per_request_by_role, row.dynamic_per_request_by_role
    network = sum(v for role, v in by.items() if role != "inference")
    return network, by["ru"] - dyn["ru"], by["inference"] - dyn["inference"], dyn["inference"]


def share(row: AppRow, ru_static_factor: float, server_factor: float) -> float | None:
    """The app's network share of energy with the RU's static power and the server's watts per
    busy core scaled by the two factors."""
    network, ru_static, srv_static, srv_dyn = _parts(row)
    net = network - (1.0 - ru_static_factor) * ru_static
    total = net + srv_static + server_factor * srv_dyn
    return net / total if total > 0 else None


def _radio_static(settings: TestbedFile) -> tuple[str, float]:
    """The RU's static power as its outlet serves it (whole watts), with how it is made."""
    node = next(n.name for n in settings.testbed.nodes if n.role == "ru")
    radio = settings.testbed.power.radio[node]
    served = settings.testbed.power.served_static_watts(node) or 0.0
    return f"{radio.n_trx.value:g} x {radio.p0_watts.value:g} W", served


def _server_watts(settings: TestbedFile) -> float:
    node = next(n.name for n in settings.testbed.nodes if n.role == "inference")
    return settings.testbed.power.cpu[node].watts_per_core.value


def sensitivity_table(settings: TestbedFile, base: list[AppRow]) -> str:
    """Rows: the RU's static power (the topology's, and other EARTH rows); columns: the server's
    watts per busy core x 1, 10, 100, 1000; cells: each app's network share of energy."""
    label, static = _radio_static(settings)
    watts = _server_watts(settings)
    rows = [(f"topology: {label}, served as {static:g} W", 1.0)]
    for name, n_trx, p0 in EARTH_ALTERNATIVES:
        value = round(n_trx * p0)
        rows.append((f"EARTH {name}: {value:g} W" if n_trx else f"{name}: 0 W", value / static))
    head = ["RU static power \\ server W per busy core"]
    head += [f"{f * watts:g} W (x{f:g})" for f in SERVER_FACTORS]
    body = []
    for text, a in rows:
        cells = []
        for b in SERVER_FACTORS:
            cells.append(" / ".join(format_pct(share(r, a, b)) for r in base))
        body.append([text, *cells])
    apps = " / ".join(r.app for r in base)
    return md_table(head, body) + f"\n\nEach cell: network share of energy for {apps}."


def landing_lines(settings: TestbedFile, base: list[AppRow]) -> list[str]:
    """What one parameter alone would have to be for each app to reach the paper's mid share."""
    watts = _server_watts(settings)
    _, static = _radio_static(settings)
    out = []
    for r in base:
        target_range = PAPER_ENERGY_SHARE.get(r.app)
        if target_range is None:
            continue
        target = sum(target_range) / 2
        network, ru_static, srv_static, srv_dyn = _parts(r)
        need_net = target / (1 - target) * (srv_static + srv_dyn)
        need_srv = network * (1 - target) / target - srv_static
        server = (
            f"the server's watts per busy core would have to be "
            f"{_num(need_srv / srv_dyn * watts)} W (x{_num(need_srv / srv_dyn)})"
            if srv_dyn > 0
            else "the server shows no dynamic energy"
        )
        rest = network - ru_static
        if need_net < rest:
            radio = (
                "no RU static power would be low enough (DU, CU, UPF and the RU's dynamic part "
                f"alone give {format_pct(rest / (rest + srv_static + srv_dyn))})"
            )
        else:
            a = (need_net - rest) / ru_static if ru_static else float("nan")
            radio = f"the RU's static power would have to be {a * static:.2f} W (x{a:.2g})"
        out.append(
            f"- **{r.app}** (paper: about {format_pct(target)}; testbed "
            f"{format_pct(r.network_energy_share)}): {server}; or, with the server as it is, "
            f"{radio}."
        )
    return out


def _num(x: float) -> str:
    """Three significant digits, thousands separated: 3.41, 46.2, 1,234."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"
