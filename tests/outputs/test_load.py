"""A short, bounded version of bench/load.py: the real attributor under concurrent load from a
real load generator (`hey`, 10 clients for 3 s on the loopback) while windows close. Asserts what
does not depend on the machine's speed: no 5xx, every request answered 200, and every window that
fell due during the load computed exactly once. The figures (p50/p99, lateness) are the bench's.
"""

from __future__ import annotations

from bench.load import run
from tests.conftest import need_binary


def test_api_and_metrics_under_load_answer_and_windows_close() -> None:
    need_binary("hey")
    result = run(clients=10, seconds=3.0, nfs=3, apps=5)
    assert result["all"]["requests"] > 0
    assert result["all"]["five_xx"] == 0
    assert set(result["all"]["status"]) == {"200"}, result["all"]["status"]
    assert result["metrics"]["requests"] > 0 and result["api"]["requests"] > 0
    assert result["windows_due"] >= 1
    assert result["windows_missing"] == [] and result["windows_twice"] == []
