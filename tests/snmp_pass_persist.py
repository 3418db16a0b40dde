"""A net-snmp pass_persist helper for tests: serves {"oid": ["type", value]} from a JSON file,
re-read on every request so a test can change values between reads.

Usage (from snmpd.conf): pass_persist BASE python snmp_pass_persist.py VALUES.json [DELAY_FILE]
When DELAY_FILE exists, its content (seconds) delays every answer: a slow agent.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _key(oid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in oid.strip(".").split("."))


def _load(path: Path) -> dict[tuple[int, ...], tuple[str, str]]:
    raw = json.loads(path.read_text())
    return {_key(k): (str(v[0]), str(v[1])) for k, v in raw.items()}


def main() -> None:
    values_path = Path(sys.argv[1])
    delay_path = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    out = sys.stdout
    for line in sys.stdin:
        cmd = line.strip().lower()
        if cmd == "ping":
            out.write("PONG\n")
        elif cmd in ("get", "getnext"):
            oid = _key(sys.stdin.readline().strip())
            if delay_path is not None and delay_path.exists():
                time.sleep(float(delay_path.read_text() or 0))
            values = _load(values_path)
            if cmd == "get":
                hit = oid if oid in values else None
            else:
                hit = next((k for k in sorted(values) if k > oid), None)
            if hit is None:
                out.write("NONE\n")
            else:
                typ, val = values[hit]
                out.write("." + ".".join(map(str, hit)) + f"\n{typ}\n{val}\n")
        elif cmd == "set":
            sys.stdin.readline()
            sys.stdin.readline()
            out.write("not-writable\n")
        else:
            break
        out.flush()


if __name__ == "__main__":
    main()
