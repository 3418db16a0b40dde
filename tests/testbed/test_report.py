"""The demo's arithmetic and report: per-request figures, shares, what-if change, files written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collector.settings import load_settings
from testbed.report import app_rows, change, per_request_all
from testbed.report_write import write_report

ROOT = Path(__file__).resolve().parent.parent.parent


def _run(server_joules: float, ru_joules: float) -> dict[str, Any]:
    def nf(j: float, co2: float, dyn: float = 0.0) -> dict[str, float]:
        return {"joules": j, "co2_grams": co2, "static_joules": j - dyn, "dynamic_joules": dyn}

    return {
        "apps": {
            "simple": {
                "requests": 10,
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


def test_rows_shares_and_change(tmp_path: Path) -> None:
    settings = load_settings(ROOT / "testbed" / "topology.yaml")
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
    after = app_rows(settings, _run(server_joules=10, ru_joules=40))
    assert change(base, after)["simple"] == pytest.approx(-0.2)
    assert change(base, after, dynamic=True)["simple"] == pytest.approx((1.1 - 3.1) / 3.1)
    assert per_request_all(after) == pytest.approx(8.0)

    path = write_report(
        tmp_path,
        settings,
        base,
        after,
        {"baseline": _run(30, 40)},
        {"duration": 30, "whatif_description": "lighter"},
    )
    text = path.read_text()
    assert "all-MiniLM-L6-v2 (sentence-embedding model)" in text
    assert "not a reproduction" in text and "up to -68 %" in text
    assert "| simple | 10 | 4.000 |" in text
    for png in ("energy_per_request.png", "network_shares.png"):
        data = (tmp_path / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
