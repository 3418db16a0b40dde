"""How an NF's `power.target` setting names the target string sources put on samples."""

from __future__ import annotations


def target_key(spec: str | dict[str, str]) -> str:
    """ "1" stays "1"; {namespace: ai, pod: vlm-0} becomes "ai/vlm-0" (Kepler and DCGM pods)."""
    if isinstance(spec, str):
        return spec
    unknown = set(spec) - {"namespace", "pod"}
    if unknown or "pod" not in spec:
        raise ValueError(
            f"power target {spec!r}: expected a string or {{namespace, pod}}"
            + (f" (unknown keys: {sorted(unknown)})" if unknown else "")
        )
    return f"{spec.get('namespace', 'default')}/{spec['pod']}"
