"""Turns per-member counters (containers, pod uids) into one monotonic counter per target.

Kepler exports one series per container (<=0.9) or per pod uid and state (>=0.10). When a
member vanishes (a container restarts, a terminated pod is evicted), summing only the series
still present would drop and look like a reset. The accumulator keeps the last value of a
vanished member as a retired base, so the target's counter stays monotonic; a real reset
(a live member's value decreasing, e.g. Kepler restarted) clears the base so downstream sees
an honest reset instead of over-counting.

Targets unseen for `forget_after_reads` reads are forgotten (bounded state with short-lived
pods); should one come back, its counter restarts from its live members, which downstream
reads as a reset: the energy since it came back is still counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FORGET_AFTER_READS = 720
"""One hour of reads at Kepler's 5 s interval."""


@dataclass(slots=True)
class _TargetState:
    retired_joules: float = 0.0
    live: dict[str, float] = field(default_factory=dict)
    last_read: int = 0


class MemberAccumulator:
    """Per (target, part) state; `update` returns the monotonic total for every target seen."""

    def __init__(self, forget_after_reads: int = FORGET_AFTER_READS) -> None:
        self._state: dict[tuple[str, str], _TargetState] = {}
        self._reads: dict[str, int] = {}
        self._forget_after = forget_after_reads

    def update(self, part: str, members: dict[str, dict[str, float]]) -> dict[str, float]:
        """`members` maps target -> {member id: counter value in joules}."""
        reads = self._reads[part] = self._reads.get(part, 0) + 1
        out: dict[str, float] = {}
        for target, current in members.items():
            st = self._state.setdefault((target, part), _TargetState())
            if any(current.get(m, v) < v for m, v in st.live.items()):
                st.retired_joules = 0.0
            else:
                st.retired_joules += sum(v for m, v in st.live.items() if m not in current)
            st.live = dict(current)
            st.last_read = reads
            out[target] = st.retired_joules + sum(current.values())
        stale = [
            k
            for k, st in self._state.items()
            if k[1] == part and reads - st.last_read > self._forget_after
        ]
        for k in stale:
            del self._state[k]
        return out

    def __len__(self) -> int:
        return len(self._state)
