"""net-snmp pass_persist helper: serves the OIDs of a JSON file, re-read on every request.

The file maps OIDs to `[type, value]` ({".1.3.6...": ["integer", 27]}), so whoever writes it
(the testbed's power daemon each second, or a test between reads) changes the answers live.
snmpd starts it once (snmpd.conf: `pass_persist BASE python snmp_pass.py VALUES.json [DELAY]`)
and talks over stdin/stdout (PING/get/getnext/set). When the DELAY file exists, its content
(seconds) delays every answer: a slow agent for tests.

`apc_outlet_values` writes the APC rPDU2 outlet metered status table the testbed serves for the
RU: .1.3.6.1.4.1.318.1.1.26.9.4.3.1.<col>.<outlet> (PowerNet-MIB rPDU2OutletMeteredStatusTable):
1 index, 3 name, 4 number, 7 power (W), 8 peak power (W), 11 energy (tenths of kWh).
Standard library only (snmpd starts it with the interpreter and this file's path).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

APC_OUTLET_TABLE = ".1.3.6.1.4.1.318.1.1.26.9.4.3"
APC_COLUMNS = {
    1: ("integer", "index"),
    3: ("string", "name"),
    4: ("integer", "index"),
    7: ("integer", "watts"),
    8: ("integer", "peak_watts"),
    11: ("integer", "energy_tenth_kwh"),
}


def apc_outlet_values(outlets: dict[int, dict[str, Any]]) -> dict[str, list[Any]]:
    """outlet index -> {name, watts, peak_watts, energy_tenth_kwh}: the table's OIDs."""
    out: dict[str, list[Any]] = {}
    for col, (kind, field) in APC_COLUMNS.items():
        for index, outlet in outlets.items():
            value = index if field == "index" else outlet[field]
            out[f"{APC_OUTLET_TABLE}.1.{col}.{index}"] = [kind, value]
    return out


def _oid(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.strip().strip(".").split(".") if x)


def load(path: Path) -> dict[tuple[int, ...], tuple[str, str]]:
    """The file's OIDs (numeric, so they sort in SNMP order); an unreadable file serves none."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {_oid(k): (str(v[0]), str(v[1])) for k, v in raw.items()}


def answer(command: str, oid_text: str, path: Path) -> list[str]:
    """The reply lines to `get` or `getnext` of one OID."""
    oid = _oid(oid_text)
    values = load(path)
    if command == "get":
        hit = oid if oid in values else None
    else:
        hit = next((k for k in sorted(values) if k > oid), None)
    if hit is None:
        return ["NONE"]
    kind, value = values[hit]
    return ["." + ".".join(map(str, hit)), kind, value]


def main() -> None:
    path = Path(sys.argv[1])
    delay = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    for line in sys.stdin:
        command = line.strip().lower()
        if command == "ping":
            out = ["PONG"]
        elif command in ("get", "getnext"):
            oid = sys.stdin.readline()
            if delay is not None and delay.exists():
                time.sleep(float(delay.read_text() or 0))
            out = answer(command, oid, path)
        elif command == "set":
            sys.stdin.readline()
            sys.stdin.readline()
            out = ["not-writable"]
        else:
            break
        sys.stdout.write("\n".join(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
