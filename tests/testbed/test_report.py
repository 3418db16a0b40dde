"""The demo's arithmetic and report: per-request figures, shares, each lever's change, the
sensitivity of the network share, the models' measured cost, and the files written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from testbed.demo import Phase
from testbed.report import app_rows, change, model_rows, per_request_all
from testbed.report_levers import landing_lines, share
from testbed.report_write import write_report
from testbed.settings import load_topology

ROOT = Path(__file__).resolve().parent.parent.parent
TOPOLOGY = ROOT / "testbed" / "topology.yaml"


def _run(server_joules: float, ru_joules: float, requests: int = 10) -> dict[str, Any]:
    def nf(j: float, co2: float, dyn: float = 0.0) -> dict[str, float]:
        return {"joules": j, "co2_grams": co2, "static_joules": j - dyn, "dynamic_joules": dyn}

    return {
        "apps": {
            "simple": {
                "requests": requests,
                "nfs": {
                    "ru1": nf(ru_joules, 0.1, 1.0),
                    "du1": nf(20, 0.02),
                    "cu1": nf(5, 0.005),
                    "upf1": nf(5, 0.003),
                    "inference1": nf(server_joules, 0.004, server_joules),
                },
            },
            "unknown": {"requests": 3, "nfs": {"ru1": nf(1, 0.0)}},
        },
        "nfs": {
            "ru1": {
                "role": "ru",
                "energy_basis": "modelled",
                "measured_joules": 101.0,
                "attributed_joules": 100.0,
                "unattributed_joules": 1.0,
                "unmeasured_seconds": 0.0,
                "max_conservation_error_ratio": 0.0,
            }
        },
    }


def test_rows_shares_and_change() -> None:
    settings = load_topology(TOPOLOGY)
    base = app_rows(settings, _run(server_joules=30, ru_joules=40))
    assert [r.app for r in base] == ["simple"]  # apps not in the settings are left out
    row = base[0]
    assert row.joules_per_request == pytest.approx(10.0)
    assert row.joules_per_request_by_role["ru"] == pytest.approx(4.0)
    assert row.network_energy_share == pytest.approx(70 / 100)
    assert row.network_co2_share["location"] == pytest.approx(0.128 / 0.132)
    # market: RAN site keeps 380 g/kWh, the data centre uses its 20 g/kWh contract
    ran, dc = (40 + 20 + 5) * 380, 5 * 20 + 30 * 20
    assert row.network_co2_share["market"] == pytest.approx((ran + 5 * 20) / (ran + dc))
    assert row.dynamic_joules_per_request == pytest.approx(3.1)
    assert row.dynamic_per_request_by_role["ru"] == pytest.approx(0.1)
    after = app_rows(settings, _run(server_joules=10, ru_joules=40))
    assert change(base, after)["simple"] == pytest.approx(-0.2)
    assert change(base, after, dynamic=True)["simple"] == pytest.approx((1.1 - 3.1) / 3.1)
    assert per_request_all(after) == pytest.approx(8.0)


def test_sensitivity_scales_exactly_the_ru_static_and_the_server() -> None:
    """Per request: network 7 J (RU 4 J of which 3.9 J static; DU 2, CU 0.5, UPF 0.5), server
    3 J, all dynamic. Halving the RU's static and x10 the server's watts per busy core:
    network 7 - 1.95 = 5.05 J, server 30 J."""
    row = app_rows(load_topology(TOPOLOGY), _run(server_joules=30, ru_joules=40))[0]
    assert share(row, 1.0, 1.0) == pytest.approx(0.7)
    assert share(row, 0.5, 10.0) == pytest.approx(5.05 / 35.05)
    assert share(row, 0.0, 1.0) == pytest.approx(3.1 / 6.1)


def test_landing_lines_name_the_parameter_values() -> None:
    """simple's paper share is about 50 %: the server needs 7/3 x its watts per busy core
    (1.46 W -> 3.41 W); the RU alone cannot get there, since without its static part the
    network is still 3.1 J against 3 J (51 %)."""
    settings = load_topology(TOPOLOGY)
    row = app_rows(settings, _run(server_joules=30, ru_joules=40))
    (line,) = landing_lines(settings, row)
    assert "**simple** (paper: about 50 %; testbed 70 %)" in line
    assert "would have to be 3.41 W (x2.33)" in line
    assert "no RU static power would be low enough" in line and "give 51 %" in line
    lighter = app_rows(settings, _run(server_joules=300, ru_joules=40))
    (line,) = landing_lines(settings, lighter)  # network 7 J against 30 J: RU static can rise
    # 7 - 3.9 + 3.9 a = 30  ->  a = 26.9 / 3.9, times the 14 W the outlet serves (2 x 6.8 W)
    assert f"RU's static power would have to be {14 * 26.9 / 3.9:.2f} W" in line


def _phase(name: str, model: str, n: float, cpu: float) -> Phase:
    return Phase(name, 0.0, 5.0, {}, model, {"simple": (n, cpu)})


def test_model_rows_measured_cost() -> None:
    settings = load_topology(TOPOLOGY)
    rows = {
        "baseline": app_rows(settings, _run(30, 40)),
        "whatif": app_rows(settings, _run(10, 40)),
    }
    phases = [
        _phase("baseline", "all-mpnet-base-v2", 10, 2.0),
        _phase("model", "all-MiniLM-L6-v2", 10, 0.5),
        _phase("whatif", "all-MiniLM-L6-v2", 8, 0.4),
    ]
    got = model_rows(settings, phases, rows)
    assert [(r.phase, r.model, r.parameters) for r in got] == [
        ("baseline", "all-mpnet-base-v2", 109_486_464),
        ("whatif", "all-MiniLM-L6-v2", 22_713_216),
    ]
    assert got[0].cpu_seconds_per_request == pytest.approx(0.2)
    assert got[0].model_joules_per_request == pytest.approx(0.2 * 1.46)
    assert got[0].server_joules_per_request == pytest.approx(3.0)
    assert got[1].model_joules_per_request == pytest.approx(0.05 * 1.46)


def test_report_files(tmp_path: Path) -> None:
    settings = load_topology(TOPOLOGY)
    runs = {
        "baseline": _run(30, 40),
        "model": _run(10, 40),
        "data_rate": _run(29, 35),
        "whatif": _run(9, 35),
    }
    rows = {name: app_rows(settings, run) for name, run in runs.items()}
    phases = [_phase("baseline", "all-mpnet-base-v2", 10, 2.0)]
    described = {name: f"described {name}" for name in runs}
    path = write_report(
        tmp_path, settings, rows, phases, runs, {"duration": 20, "described": described}
    )
    text = path.read_text()
    assert "all-mpnet-base-v2 (109.5 M parameters)" in text and "all-MiniLM-L6-v2 (22.7 M)" in text
    assert "not a reproduction" in text and "up to -68 %" in text
    assert "| simple | 10 | 4.000 |" in text
    for title in ("Lever 1: the model", "Lever 2: the data rate", "Both levers (the what-if)"):
        assert f"### {title}: described" in text
    # the model lever: 10 -> 8 J/request (-20 %), dynamic 3.1 -> 1.1
    assert "| all requests | 10.000 | 8.000 | -20 % | 3.100 | 1.100 | -65 % |" in text
    assert "Sensitivity" in text and "EARTH micro: 112 W" in text
    assert "| `radio.ru.n_trx` | 2 | source: earth |" in text
    assert (
        "| `radio.ru.capacity_bits_per_second` | 2e+07 | **assumed**, expect 5e+06-1.5e+08 |"
        in text
    )
    assert "shared/" not in text
    for png in ("energy_per_request.png", "network_shares.png"):
        data = (tmp_path / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_every_phase_lasts_the_same_whole_windows() -> None:
    from testbed.demo import phase_seconds, sending_seconds

    # rounded up to whole windows, at least two
    assert [phase_seconds(d, 5.0) for d in (3, 10, 12, 20)] == [10.0, 10.0, 15.0, 20.0]
    assert phase_seconds(35, 15.0) == 45.0
    # 2 s of quiet lead and 2.5 s for the last answers: traffic in every window
    assert sending_seconds(20.0) == 15.5


def _advice_doc(tmp_path: Path) -> dict[str, Any]:
    from collector.placement.advice import compute_advice, load_dataset
    from collector.store import Store
    from tests.placement.storefixture import spec_for, write_store

    spec = spec_for(tmp_path)
    store = Store(write_store(tmp_path / "s.sqlite"))
    try:
        return compute_advice(store, load_dataset(spec), spec, start=0.0, end=60.0, now=99.0)
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["advice", "unavailable"])
def test_report_ends_with_where_it_could_run(tmp_path: Path, kind: str) -> None:
    settings = load_topology(TOPOLOGY)
    runs = {n: _run(30, 40) for n in ("baseline", "model", "data_rate", "whatif")}
    rows = {name: app_rows(settings, run) for name, run in runs.items()}
    phases = [_phase("baseline", "all-mpnet-base-v2", 10, 2.0)]
    advice = _advice_doc(tmp_path) if kind == "advice" else "URLError: connection refused"
    meta = {"duration": 20, "described": dict.fromkeys(runs, "d"), "advice": advice}
    text = write_report(tmp_path / "r", settings, rows, phases, runs, meta).read_text()
    section = text[text.index("## Where could it run (placement advice)") :]
    section = section[: section.index("## Power parameters")]
    if kind == "unavailable":
        assert "No advice: URLError: connection refused" in section
        return
    # storefixture by hand: vision 5 J model, 2 J access per request, 30 requests, to `far`
    assert "| vision | interactive | advice | 75% | 30 |" in section
    assert "| 5 | 2 | 10000 | near | far 100% | 100% |" in section
    assert "- live marginal intensities" not in section  # no live sample was given
    assert "- chat: no requests in the covered windows" in section
