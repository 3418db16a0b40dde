"""Turns per-member counters (containers, pod uids) into one monotonic counter per target.

Kepler exports one series per container (<=0.9) or per pod uid and state (>=0.10). When a
member vanishes (a container restarts, a terminated pod is evicted), summing only the series
still present would drop and look like a reset. The accumulator keeps the last value of a
vanished member as a retired base, so the target's counter stays monotonic; a real reset
(a live member's value decreasing, e.g. Kepler restarted) clears the base so downstream sees
an honest reset instead of over-counting.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class _TargetState:
    retired_joules: float = 0.0
    live: dict[str, float] = field(default_factory=dict)


class MemberAccumulator:
    """Per (target, part) state; `update` returns the monotonic total for every target seen."""

    def __init__(self) -> None:
        self._state: dict[tuple[str, str], _TargetState] = {}

    def update(self, part: str, members: dict[str, dict[str, float]]) -> dict[str, float]:
        """`members` maps target -> {member id: counter value in joules}."""
        out: dict[str, float] = {}
        for target, current in members.items():
            st = self._state.setdefault((target, part), _TargetState())
            if any(current.get(m, v) < v for m, v in st.live.items()):
                st.retired_joules = 0.0
            else:
                st.retired_joules += sum(v for m, v in st.live.items() if m not in current)
            st.live = dict(current)
            out[target] = st.retired_joules + sum(current.values())
        return out
