"""Kepler (both generations) and DCGM parsing, counter continuity and terminated pods."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.models import EnergySample
from collector.power.dcgm import parse_dcgm
from collector.power.kepler import KeplerReader, parse_kepler, pod_selector
from collector.settings import KeplerSource
from collector.units import counter_delta
from tests.http_fixture import serve_files
from tests.runtime import read_once

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "kepler"


def _reader(**kw: object) -> KeplerReader:
    return KeplerReader(KeplerSource(name="k", kind="kepler", url="http://unused", **kw))


def _values(reader: KeplerReader, name: str, **kw: object) -> dict[tuple[str, tuple], float]:
    parsed = parse_kepler((FIX / name).read_text(), **kw)  # type: ignore[arg-type]
    return {(s.target, s.labels): s.value for s in reader.samples(parsed, 0.0)}


def test_kepler_09_sums_containers_and_modes() -> None:
    r = _reader()
    a = _values(r, "v0.9-a.prom", include_gpu=True)
    assert a[("ran/du-0", ())] == 100.5 + 40 + 10 + 5
    assert a[("ran/du-0", (("mode", "idle"),))] == 45
    assert a[("ai/vlm-0", ())] == 1000
    assert a[("ai/vlm-0", (("component", "gpu"),))] == 3500
    # The sidecar restarted: its old container's energy stays in the pod's counter.
    b = _values(r, "v0.9-b.prom")
    assert b[("ran/du-0", ())] == 120.5 + 50 + 15 + 2
    assert b[("ran/du-0", ())] >= a[("ran/du-0", ())]


def test_kepler_010_one_zone_and_terminated_pods() -> None:
    r = _reader()
    a = _values(r, "v0.10-a.prom")
    assert a[("ran/du-0", ())] == 200  # package only: core, dram and psys never summed in
    assert ("ran/du-0", (("mode", "idle"),)) not in a  # no idle split in this generation
    b = _values(r, "v0.10-b.prom")
    assert b[("ran/du-0", ())] == 210 + 5  # terminated uid's final value + the new uid
    c = _values(r, "v0.10-c.prom")
    assert c[("ran/du-0", ())] == 210 + 25  # eviction of the terminated series: no drop
    steps = [counter_delta(x, y).kind for x, y in ((200, 215), (215, 235))]
    assert steps == ["normal", "normal"]
    d = _values(r, "v0.10-d.prom")
    assert d[("ran/du-0", ())] == 3  # Kepler restarted: an honest reset, not 238
    assert counter_delta(235, 3).kind == "reset"


def test_kepler_010_zone_gpu_and_selection() -> None:
    core = _values(_reader(), "v0.10-a.prom", zone="core")
    assert core[("ran/du-0", ())] == 150 and ("ai/vlm-0", ()) not in core
    gpu = _values(_reader(), "v0.10-a.prom", include_gpu=True)
    assert gpu[("ai/vlm-0", (("component", "gpu"),))] == 4000
    only_ai = _values(_reader(), "v0.10-a.prom", select=pod_selector(["ai"], [], None))
    assert set(only_ai) == {("ai/vlm-0", ())}
    globbed = _values(_reader(), "v0.9-a.prom", select=pod_selector([], ["du-*"], None))
    assert {t for t, _ in globbed} == {"ran/du-0"}


def test_kepler_rejects_foreign_text() -> None:
    with pytest.raises(ValueError, match="no Kepler energy metrics"):
        parse_kepler("# TYPE up gauge\nup 1\n")


def test_dcgm_per_gpu_and_per_pod() -> None:
    got = parse_dcgm((FIX / "dcgm.prom").read_text(), source="d", t=5.0)
    by = {(s.target, s.kind): s for s in got}
    assert by[("gpu/0", "counter")].joules == 5000.0  # 5e6 mJ
    assert by[("gpu/0", "gauge")].watts == 250.5
    assert by[("ai/vlm-0", "counter")].joules == 5000.0 + 2.5
    assert by[("ai/vlm-0", "gauge")].watts == 350.5
    assert ("/", "gauge") not in by and by[("gpu/2", "gauge")].watts == 60


def test_kepler_reader_over_http(tmp_path: Path) -> None:
    (tmp_path / "metrics").write_text((FIX / "v0.10-a.prom").read_text())
    with serve_files(tmp_path) as base:
        s = KeplerSource(name="k", kind="kepler", url=f"{base}/metrics", energy_basis="modelled")
        res = read_once(KeplerReader(s))
        missing = KeplerSource(name="k2", kind="kepler", url=f"{base}/nope")
        bad = read_once(KeplerReader(missing))
    assert res.up
    sample: EnergySample = next(x for x in res.energy if x.target == "ran/du-0")
    assert sample.energy_basis == "modelled" and sample.kind == "counter"
    assert not bad.up and bad.errors[0].kind == "http" and "404" in bad.errors[0].message
    with serve_files(tmp_path) as base:
        s = KeplerSource(name="k", kind="kepler", url=f"{base}/metrics", zone="uncore")
        nozone = read_once(KeplerReader(s))
    assert not nozone.up and nozone.errors[0].kind == "empty"
    assert "core, dram, package, psys" in nozone.errors[0].message
