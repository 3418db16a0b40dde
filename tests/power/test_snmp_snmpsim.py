"""PDU profiles against snmpsim serving the real APC recordings from snmpsim-data."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from collector.models import EnergySample, ReadResult
from collector.power.pdu_snmp import SnmpReader
from collector.settings import SnmpSource
from tests.snmp_agents import read_once, snmpsim


def _read(port: int, community: str, profile: str, **kw: object) -> ReadResult:
    s = SnmpSource(
        name=f"{community}-{profile}",
        kind="snmp",
        address=f"127.0.0.1:{port}",
        community=community,
        profile=profile,
        timeout_seconds=kw.pop("timeout_seconds", 3.0),
        retries=0,
        **kw,
    )
    return asyncio.run(read_once(SnmpReader(s)))


def _by(samples: tuple[EnergySample, ...], kind: str) -> dict[str, EnergySample]:
    return {s.target: s for s in samples if s.kind == kind}


def test_apc_recordings(tmp_path: Path) -> None:
    with snmpsim(tmp_path, ("apc-8641", "apc-8932", "apc-7902b")) as port:
        outlets = _read(port, "apc-8641", "apc_rpdu2_outlet")
        device = _read(port, "apc-8641", "apc_rpdu2_device")
        phase = _read(port, "apc-8932", "apc_rpdu2_phase")
        ident = _read(port, "apc-7902b", "apc_ident")
        unsupported = _read(port, "apc-7902b", "apc_rpdu2_device")
        wrong = _read(port, "no-such-community", "apc_ident", timeout_seconds=1.0)

    assert outlets.up, outlets.errors
    watts = _by(outlets.energy, "gauge")
    assert len(watts) == 24  # AP8641: 24 metered outlets
    assert watts["1"].watts == 163 and watts["2"].watts == 4 and watts["8"].watts == 0
    energy = _by(outlets.energy, "counter")
    assert set(energy) == set(watts)
    assert energy["1"].resolution_joules == 360_000.0  # 0.1 kWh per step
    assert all(e.joules % 360_000.0 == 0 for e in energy.values())

    dev = _by(device.energy, "gauge")["device"]
    assert dev.watts == 1210.0  # 121 hundredths of a kW
    assert _by(device.energy, "counter")["device"].joules == 19516 * 360_000.0
    assert _by(phase.energy, "gauge")["1"].watts == 160.0  # AP8932 phase 1: 16 x 0.01 kW
    assert _by(ident.energy, "gauge")["device"].watts == 192.0  # AP7902B legacy ident

    # AP7902B answers -1 for rPDU2 device power and energy: unsupported, never 0 W.
    assert not unsupported.up
    assert unsupported.energy and all(s.unsupported for s in unsupported.energy)
    assert all(math.isnan(s.value) for s in unsupported.energy)
    assert [e.kind for e in unsupported.errors] == ["unsupported"]

    assert not wrong.up
    assert wrong.errors[0].kind == "timeout"
    assert "wrong community" in wrong.errors[0].message
