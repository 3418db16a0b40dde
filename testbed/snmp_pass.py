"""net-snmp pass_persist helper: serves an APC rPDU2 outlet metered status table from a JSON file.

snmpd runs it once and talks over stdin/stdout (PING/get/getnext). Every request re-reads the JSON
file, which the testbed's power daemon rewrites each second, so the watts change live.
Table: .1.3.6.1.4.1.318.1.1.26.9.4.3.1.<col>.<outlet> (PowerNet-MIB rPDU2OutletMeteredStatusTable):
1 index, 3 name, 4 number, 7 power (W), 8 peak power (W), 11 energy (tenths of kWh).
Standard library only (snmpd starts it with the interpreter and this file's path).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BASE = ".1.3.6.1.4.1.318.1.1.26.9.4.3"
COLUMNS = {1: "integer", 3: "string", 4: "integer", 7: "integer", 8: "integer", 11: "integer"}
FIELDS = {1: "index", 3: "name", 4: "index", 7: "watts", 8: "peak_watts", 11: "energy_tenth_kwh"}


def table(path: Path) -> list[tuple[tuple[int, ...], str, str]]:
    """(oid as ints, type, value) in lexicographic OID order."""
    try:
        outlets = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    rows = []
    base = tuple(int(x) for x in BASE.strip(".").split("."))
    for col in sorted(COLUMNS):
        for key in sorted(outlets, key=int):
            outlet = dict(outlets[key], index=int(key))
            rows.append(((*base, 1, col, int(key)), COLUMNS[col], str(outlet[FIELDS[col]])))
    return rows


def _oid(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.strip().strip(".").split(".") if x)


def answer(command: str, oid_text: str, path: Path) -> list[str]:
    oid = _oid(oid_text)
    rows = table(path)
    if command == "get":
        hit = [r for r in rows if r[0] == oid]
    else:
        hit = [r for r in rows if r[0] > oid][:1]
    if not hit:
        return ["NONE"]
    found, kind, value = hit[0]
    return ["." + ".".join(map(str, found)), kind, value]


def main() -> None:
    path = Path(sys.argv[1])
    for line in sys.stdin:
        command = line.strip()
        if command == "PING":
            out = ["PONG"]
        elif command in ("get", "getnext"):
            out = answer(command, sys.stdin.readline(), path)
        elif command == "set":
            sys.stdin.readline()
            sys.stdin.readline()
            out = ["not-writable"]
        elif not command:
            break
        else:
            out = ["NONE"]
        sys.stdout.write("\n".join(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
