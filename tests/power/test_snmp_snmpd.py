"""PDU profiles, IF-MIB, v2c and v3 against net-snmp snmpd with a live pass_persist helper;
a wrong community, a dead port and a slow agent fail clearly while the others still report."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from collector.models import ReadResult
from collector.power.pdu_snmp import SnmpReader
from collector.settings import SnmpSource
from collector.sources import Poller, Runner
from tests.snmp_agents import poll_and_close, read_once, silent_udp_port, snmpd

RAR = "1.3.6.1.4.1.13742.6"
SENTRY = "1.3.6.1.4.1.1718.4.1.3.3.1"
EATON = "1.3.6.1.4.1.534.6.6.7"
IFX = "1.3.6.1.2.1.31.1.1.1"


def _values(watts: int, wh: int, octets: int) -> dict[str, list[Any]]:
    return {
        # Raritan inlet 1 of PDU 1: activePower (5) with 1 decimal digit, activeEnergy (8) in Wh
        f"{RAR}.5.2.3.1.4.1.1.5": ["gauge", watts * 10],
        f"{RAR}.5.2.3.1.4.1.1.8": ["gauge", wh],
        f"{RAR}.3.3.4.1.6.1.1.5": ["integer", 3],
        f"{RAR}.3.3.4.1.6.1.1.8": ["integer", 5],
        f"{RAR}.3.3.4.1.7.1.1.5": ["gauge", 1],
        f"{RAR}.3.3.4.1.7.1.1.8": ["gauge", 0],
        # Sentry4 unit 1 cord 1: W and tenths of kWh
        f"{SENTRY}.3.1.1": ["integer", watts],
        f"{SENTRY}.10.1.1": ["integer", wh // 100],
        # Eaton strap 0 input 1 and outlet 0.3
        f"{EATON}.3.5.1.4.0.1": ["integer", watts],
        f"{EATON}.3.5.1.5.0.1": ["gauge", wh],
        f"{EATON}.6.5.1.3.0.3": ["integer", watts // 2],
        f"{EATON}.6.5.1.4.0.3": ["gauge", wh // 2],
        # a vendor scalar for the generic profile (W)
        "1.3.6.1.4.1.99999.1.0": ["integer", watts],
        # IF-MIB ifHC* for ifIndex 2
        f"{IFX}.6.2": ["counter64", octets],
        f"{IFX}.7.2": ["counter64", octets // 1000],
        f"{IFX}.8.2": ["counter64", 3],
        f"{IFX}.9.2": ["counter64", 1],
    }


def _src(name: str, port: int, profile: str, **kw: Any) -> SnmpSource:
    # generous for answers on a loaded machine; failure cases set a short one explicitly
    base: dict[str, Any] = {"community": "public", "timeout_seconds": 2.0, "retries": 0}
    base.update(kw)
    return SnmpSource(name=name, kind="snmp", address=f"127.0.0.1:{port}", profile=profile, **base)


def _read(s: SnmpSource) -> ReadResult:
    return asyncio.run(read_once(SnmpReader(s)))


def _gauge(r: ReadResult, target: str) -> float:
    return next(s.value for s in r.energy if s.target == target and s.kind == "gauge")


def _counter(r: ReadResult, target: str) -> float:
    return next(s.value for s in r.energy if s.target == target and s.kind == "counter")


def test_profiles_and_live_values(tmp_path: Path) -> None:
    values = tmp_path / "values.json"
    values.write_text(json.dumps(_values(500, 123_400, 10_000_000)))
    bases = (".1.3.6.1.4.1", f".{IFX}")
    with snmpd(tmp_path, values, bases=bases) as port:
        rar = _read(_src("rar", port, "raritan_inlet"))
        sentry = _read(_src("st4", port, "sentry4_cord"))
        eaton_in = _read(_src("eat", port, "eaton_input"))
        eaton_out = _read(_src("eo", port, "eaton_outlet"))
        generic = _read(_src("gen", port, "generic", oid=f"{SENTRY}.3", scale=0.001, unit="kW"))
        scalar = _read(_src("sc", port, "generic", oid="1.3.6.1.4.1.99999.1", unit="W"))
        instance = _read(_src("in", port, "generic", oid="1.3.6.1.4.1.99999.1.0", unit="W"))
        ifmib = _read(_src("if", port, "if_mib"))
        v3 = _read(
            _src(
                "v3",
                port,
                "sentry4_cord",
                version="3",
                user="u",
                auth_key="authpass",
                priv_key="privpass",
                community=None,
            )
        )
        v3_bad = _read(
            _src(
                "v3bad",
                port,
                "sentry4_cord",
                version="3",
                user="u",
                auth_key="wrongpass",
                priv_key="privpass",
                community=None,
            )
        )
        values.write_text(json.dumps(_values(750, 124_400, 10_500_000)))
        rar2 = _read(_src("rar", port, "raritan_inlet"))
        if2 = _read(_src("if", port, "if_mib"))

    assert rar.up, rar.errors
    assert _gauge(rar, "1.1") == 500.0  # 5000 / 10^1
    assert _counter(rar, "1.1") == 123_400 * 3600.0
    assert _gauge(rar2, "1.1") == 750.0
    assert _counter(rar2, "1.1") - _counter(rar, "1.1") == 1000 * 3600.0
    assert _gauge(sentry, "1.1") == 500.0
    assert _counter(sentry, "1.1") == 1234 * 360_000.0
    assert _gauge(eaton_in, "0.1") == 500.0
    assert _counter(eaton_in, "0.1") == 123_400 * 3600.0
    eaton_counter = next(s for s in eaton_in.energy if s.kind == "counter")
    assert eaton_counter.counter_width_joules == 2.0**32 * 3600.0
    assert _gauge(eaton_out, "0.3") == 250.0
    assert _gauge(generic, "1.1") == 500.0
    assert _gauge(scalar, "device") == 500.0 and _gauge(instance, "device") == 500.0
    assert ifmib.up and ifmib.traffic_totals[0].target == "2"
    assert ifmib.traffic_totals[0].bytes_total == 10_000_000
    assert ifmib.traffic_totals[0].packets_total == 10_000 + 3 + 1
    assert if2.traffic_totals[0].bytes_total == 10_500_000
    assert v3.up and _gauge(v3, "1.1") == 500.0
    assert not v3_bad.up and v3_bad.errors[0].kind == "auth"
    assert "check user and keys" in v3_bad.errors[0].message


def _record_span(source: SnmpReader) -> dict[str, float]:
    """Wrap the source's fetch to record when it began and when it ended (ended or cancelled)."""
    span: dict[str, float] = {}
    fetch = source.fetch

    async def timed() -> Any:
        span["start"] = time.monotonic()
        try:
            return await fetch()
        finally:
            span["end"] = time.monotonic()

    source.fetch = timed  # type: ignore[method-assign]
    return span


def test_failures_are_per_source_and_bounded(tmp_path: Path) -> None:
    values = tmp_path / "values.json"
    values.write_text(json.dumps(_values(500, 123_400, 1)))
    slow_dir = tmp_path / "slow"
    slow_dir.mkdir()
    delay = slow_dir / "delay"
    fast_dir = tmp_path / "fast"
    fast_dir.mkdir()
    with (
        snmpd(fast_dir, values) as good_port,
        snmpd(slow_dir, values, delay_file=delay) as slow,
        silent_udp_port() as dead,
    ):
        delay.write_text("3")
        sources = [
            SnmpReader(_src("good", good_port, "sentry4_cord")),
            SnmpReader(
                _src(
                    "wrong-community",
                    good_port,
                    "sentry4_cord",
                    community="nope",
                    timeout_seconds=1.5,
                )
            ),
            SnmpReader(_src("dead", dead, "sentry4_cord", timeout_seconds=1.5)),
            SnmpReader(_src("slow", slow, "sentry4_cord", timeout_seconds=5.0)),
        ]
        # deadlines: timeout x (retries + 2) = 4, 3, 3; the slow one's is cut to 1.5 s, below
        # its SNMP timeout, so that the runtime's deadline is what ends it
        sources[-1].policy = replace(sources[-1].policy, deadline_seconds=1.5)
        assert [s.policy.deadline for s in sources] == [4.0, 3.0, 3.0, 1.5]
        # the dead one must end by its own SNMP timeout (whose message names the address), not
        # by the runtime's deadline, even when a loaded machine stretches pysnmp's timers
        sources[2].policy = replace(sources[2].policy, deadline_seconds=60.0)
        spans = [_record_span(s) for s in sources]
        poller = Poller([Runner(s) for s in sources])
        results = {r.source: r for r in asyncio.run(poll_and_close(poller))}
        delay.unlink()
    # concurrent, not one after the other: every fetch began before any of them ended (read
    # serially, each would begin after the previous one's end); ordering, not a time budget
    assert max(s["start"] for s in spans) < min(s["end"] for s in spans), spans
    assert results["good"].up and _gauge(results["good"], "1.1") == 500.0
    for name in ("wrong-community", "dead", "slow"):
        assert not results[name].up
        assert results[name].errors[0].kind == "timeout", results[name].errors
    assert "127.0.0.1" in results["dead"].errors[0].message
    assert "within 1.5s" in results["slow"].errors[0].message
    health = poller.health()
    assert health["good"].up and not health["slow"].up
    assert health["dead"].errors_total == {"timeout": 1}
