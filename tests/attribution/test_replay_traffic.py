"""Traffic in the replay report: per-app per-NF tagged packets and bytes, the app's end-to-end
figure (the largest per-NF one), and null market CO2 where all of it was missing. Numbers are
hand-computed from tests/data/attribution/make_inputs.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.attribution.test_replay import DATA, replay


def _report(inputs: Path = DATA / "inputs.jsonl", *args: str) -> dict[str, Any]:
    out = replay("--inputs", str(inputs), "--config", str(DATA / "config.yaml"), *args)
    assert out.returncode == 0, out.stderr
    report: dict[str, Any] = json.loads(out.stdout)
    return report


def _traffic(app: dict[str, Any]) -> dict[str, tuple[float, float]]:
    return {nf: (v["packets"], v["bytes"]) for nf, v in app["nfs"].items()}


def test_per_nf_and_app_traffic_match_hand_computed_figures() -> None:
    r = _report()
    fv, chat = r["apps"]["factory-vision"], r["apps"]["chat"]
    # factory-vision: 2 pkt/s of 100 B uplink at RU and DU for 60 s (4 windows of 15 s)
    assert _traffic(fv) == {"ru1": (120.0, 12000.0), "du1": (120.0, 12000.0), "vlm": (0.0, 0.0)}
    # chat: 1 pkt/s of 300 B downlink at RU and DU; the VLM has no traffic records
    assert _traffic(chat) == {"ru1": (60.0, 18000.0), "du1": (60.0, 18000.0), "vlm": (0.0, 0.0)}
    assert (fv["packets"], fv["bytes"]) == (120.0, 12000.0)
    assert (chat["packets"], chat["bytes"]) == (60.0, 18000.0)
    # the DU's 1 pkt/s of untagged traffic is nobody's: it is not in any app's figure
    assert r["nfs"]["du1"]["unattributed_by_reason"]["untagged"] == 30.0


def test_per_window_traffic_and_app_figure_is_the_busiest_nf(tmp_path: Path) -> None:
    r = _report(DATA / "inputs.jsonl", "--per-window")
    for w in r["windows"]:
        fv = w["apps"]["factory-vision"]
        assert _traffic(fv)["du1"] == (30.0, 3000.0)  # 2 pkt/s × 15 s, 100 B each
    # drop factory-vision's RU counters after t = 30: the DU still sees all of it, so the
    # app's figure (the largest per-NF one) stays the DU's 120 packets
    lines = (DATA / "inputs.jsonl").read_text().splitlines()
    inputs = tmp_path / "in.jsonl"
    keep = [
        x
        for x in lines
        if not ('"ru1"' in x and '"factory-vision"' in x and json.loads(x)["t"] > 30)
    ]
    inputs.write_text("\n".join(keep) + "\n")
    fv = _report(inputs)["apps"]["factory-vision"]
    assert _traffic(fv)["ru1"] == (60.0, 6000.0) and _traffic(fv)["du1"] == (120.0, 12000.0)
    assert (fv["packets"], fv["bytes"]) == (120.0, 12000.0)


def test_market_co2_is_null_not_zero_where_all_of_it_is_missing(tmp_path: Path) -> None:
    """No intensity and no requests: each app's energy is at the RU and DU only, in the zone
    without intensity and without a market figure, so both bases are missing throughout."""
    lines = (DATA / "inputs.jsonl").read_text().splitlines()
    inputs = tmp_path / "in.jsonl"
    keep = [x for x in lines if '"intensity"' not in x and '"requests"' not in x]
    inputs.write_text("\n".join(keep) + "\n")
    fv = _report(inputs)["apps"]["factory-vision"]
    assert fv["joules"] == 128.0 + 60.0 + 0.0  # the VLM's energy is idle_no_traffic now
    assert fv["co2_grams"] is None
    assert fv["co2_grams_market"] is None
    assert fv["co2_missing_joules"] == 188.0
    # with intensity back, the market basis is a number again (ran-site uses its location value)
    keep = [x for x in lines if '"requests"' not in x]
    inputs.write_text("\n".join(keep) + "\n")
    fv = _report(inputs)["apps"]["factory-vision"]
    assert fv["co2_grams_market"] == round(188.0 / 3.6e6 * 400, 9)


def test_traffic_at_an_nf_without_energy_is_still_reported(tmp_path: Path) -> None:
    """The DU's power source is absent (stale every window): no energy is split there, yet the
    agent counted the app's packets at it, so the NF is listed with zero joules and its traffic."""
    lines = (DATA / "inputs.jsonl").read_text().splitlines()
    inputs = tmp_path / "in.jsonl"
    keep = [x for x in lines if not ('"energy"' in x and '"du1"' in x)]
    inputs.write_text("\n".join(keep) + "\n")
    r = _report(inputs)
    du = r["apps"]["factory-vision"]["nfs"]["du1"]
    assert du["joules"] == 0.0 and du["co2_grams"] == 0.0
    assert (du["packets"], du["bytes"]) == (120.0, 12000.0)
    assert r["nfs"]["du1"]["unmeasured_seconds"] == 60.0
