"""Which capture engine counts: eBPF where the kernel and the capabilities allow it, else AF_PACKET.

`auto` tries the eBPF engine for real (capabilities, libbpf, the verifier, the attachment) and
falls back to AF_PACKET with the reason; `ebpf` turns any of those failures into an error that
names the cause; `afpacket` never touches eBPF.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from collector.agent.ebpf import EbpfEngine, EbpfError
from collector.settings import AgentSettings

CAPABILITIES: Final = {"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_SYS_ADMIN": 21,
                       "CAP_PERFMON": 38, "CAP_BPF": 39}  # fmt: skip
REASONS: Final = {
    "configured": "chosen with engine: ebpf or afpacket",
    "auto": "engine: auto, and the eBPF program loaded and attached",
    "missing_capability": "engine: auto, and a capability the eBPF engine needs is missing",
    "no_libbpf": "engine: auto, and libbpf.so.1 is not installed",
    "load_failed": "engine: auto, and the kernel refused the eBPF program",
    "attach_failed": "engine: auto, and the program could not be attached",
    "unsupported_settings": "engine: auto, and the settings do not fit the eBPF maps",
    "replay": "counted from a capture file (--pcap), with the AF_PACKET engine's rules",
}
"""The values of e2e_energy_agent_info's `reason` label."""


@dataclass(frozen=True, slots=True)
class Choice:
    engine: str  # "ebpf" or "afpacket"
    reason: str  # a key of REASONS
    detail: str  # what happened, in words, for the log
    ebpf: EbpfEngine | None = None


def effective_capabilities(status: Path = Path("/proc/self/status")) -> set[str]:
    """Names of the capabilities this process holds (CapEff); empty when unreadable."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("CapEff:"):
                bits = int(line.split()[1], 16)
                return {name for name, bit in CAPABILITIES.items() if bits >> bit & 1}
    except (OSError, ValueError):
        pass
    return set()


def missing_for_ebpf(held: set[str]) -> list[str]:
    """What the eBPF engine lacks: CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN covers both on
    kernels before 5.8) and CAP_NET_ADMIN for the TC attachment."""
    missing = [] if "CAP_NET_ADMIN" in held else ["CAP_NET_ADMIN"]
    if "CAP_SYS_ADMIN" not in held:
        missing += [cap for cap in ("CAP_BPF", "CAP_PERFMON") if cap not in held]
    return missing


def choose(
    mode: str,
    points: Sequence[tuple[str, str]],
    settings: AgentSettings,
    held: set[str] | None = None,
) -> Choice:
    """Start the eBPF engine when `mode` allows it; raises EbpfError only for mode `ebpf`."""
    if mode == "afpacket":
        return Choice("afpacket", "configured", "AF_PACKET engine as configured")
    missing = missing_for_ebpf(effective_capabilities() if held is None else held)
    try:
        if missing:
            raise EbpfError(
                f"the eBPF engine needs {', '.join(missing)} (missing from this process)",
                "missing_capability",
            )
        engine = EbpfEngine(points, settings)
    except EbpfError as exc:
        if mode == "ebpf":
            raise
        return Choice("afpacket", exc.reason, f"falling back to AF_PACKET: {exc}")
    if mode == "ebpf":
        return Choice("ebpf", "configured", "eBPF engine as configured", engine)
    return Choice("ebpf", "auto", "eBPF engine (auto)", engine)
