"""SNMP answers of the wrong type from a real net-snmp snmpd (pass_persist serving what a broken
PDU sends): each is a named `wrong_type` (or `invalid_value`) error of that source, never a
sample, and the next good answer reads as usual.

Before issue 14 a value of the wrong type was skipped silently, so the read ended as `empty`
(`no rows under profile ...`), which named the symptom, not the cause; a negative reading was
already `invalid_value` (the test proves it holds).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from collector.models import ReadResult
from collector.power.pdu_snmp import SnmpReader
from collector.settings import SnmpSource
from tests.snmp_agents import read_once, snmpd

OID = ".1.3.6.1.4.1.99999.7.1.0"


def _read(port: int, **kw: Any) -> ReadResult:
    s = SnmpSource(
        name="pdu",
        kind="snmp",
        address=f"127.0.0.1:{port}",
        profile="generic",
        community="public",
        oid=OID,
        unit="J",
        timeout_seconds=2.0,
        retries=0,
        **kw,
    )
    return asyncio.run(read_once(SnmpReader(s)))


def test_wrong_types_and_negative_readings_are_named(tmp_path: Path) -> None:
    values = tmp_path / "values.json"
    values.write_text(json.dumps({OID: ["counter", "1000"]}))
    with snmpd(tmp_path, values, bases=(".1.3.6.1.4.1.99999",)) as port:
        good = _read(port)
        assert good.up and good.energy[0].value == 1000.0
        for answer, kind in (
            (["string", "garbage"], "wrong_type"),
            (["octet", "ff00"], "wrong_type"),
            (["objectid", ".1.3.6.1"], "wrong_type"),
            (["ipaddress", "10.0.0.1"], "wrong_type"),
            (["integer", "-5"], "invalid_value"),
        ):
            values.write_text(json.dumps({OID: answer}))
            result = _read(port)
            assert not result.up and not result.energy, answer
            assert result.errors[0].kind == kind, (answer, result.errors)
            assert OID.strip(".") in result.errors[0].message
        values.write_text(json.dumps({OID: ["counter", "1500"]}))
        assert _read(port).energy[0].value == 1500.0
