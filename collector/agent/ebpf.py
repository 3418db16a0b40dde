"""The eBPF capture engine: the committed TC program counts IOAM in the kernel at each collection
interface's ingress; user space reads its counters every flush into the same AgentState.

Reading swaps the counter map the program writes (slot 0 of the `active` map-of-maps; the update
returns only after running programs finished) and drains the other one with batch look-ups, so
no increment is lost or read twice. Attachments use a fixed TC handle and priority: a filter
found there at start is a leftover of an agent killed with SIGKILL and is replaced in one step,
so two programs never count the same packets.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from collector.agent import libbpf, libbpf_tc
from collector.agent.ebpf_config import (
    ConfigError,
    KernelConfig,
    kernel_config,
    link_of,
    point_entries,
)
from collector.agent.ebpf_reader import KEY, MAX_POINTS, STAT_ROW, VALUE, CounterReader
from collector.agent.ring import CaptureError
from collector.agent.state import AgentState
from collector.agent.tally import Delta
from collector.settings import AgentSettings, TraceIdCarrier

log = logging.getLogger(__name__)
OBJECT: Final = Path(__file__).resolve().parent / "bpf" / "ioam_tc.bpf.o"
PROGRAM: Final = "ioam_count"
COUNTER_MAPS: Final = ("counts_a", "counts_b")
TC_HANDLE: Final = 0xE2E0
TC_PRIORITY: Final = 0xE2E
FLUSH_SECONDS = 0.25
EXPIRE_SECONDS = 10.0
Stop = Callable[[], bool]


class EbpfError(CaptureError):
    """The eBPF engine could not start; the message names the cause (capability, verifier).

    `reason` is the short code e2e_energy_agent_info reports when `auto` falls back.
    """

    def __init__(self, message: str, reason: str = "load_failed") -> None:
        super().__init__(message)
        self.reason = reason


class KernelCounters:
    """The program loaded with its maps filled from the settings, not attached anywhere."""

    def __init__(
        self,
        trace_ids: Sequence[TraceIdCarrier],
        map_entries: int,
        object_path: Path = OBJECT,
    ) -> None:
        try:
            self.config: KernelConfig = kernel_config(trace_ids)
        except ConfigError as exc:
            raise EbpfError(str(exc), "unsupported_settings") from None
        try:
            libbpf.library()
        except libbpf.BpfError as exc:
            raise EbpfError(str(exc), "no_libbpf") from None
        try:
            self.obj = libbpf.BpfObject(str(object_path), dict.fromkeys(COUNTER_MAPS, map_entries))
        except libbpf.BpfError as exc:
            raise EbpfError(_explain(exc)) from None
        try:
            self.cpus = libbpf.possible_cpus()
            self.prog_fd = self.obj.prog_fd(PROGRAM)
            self._fds = [self.obj.map_fd(name) for name in COUNTER_MAPS]
            self._active_fd = self.obj.map_fd("active")
            self._stats_fd = self.obj.map_fd("stats")
            self._fill(self.config)
        except BaseException:
            self.obj.close()
            raise
        self.active = 0
        self.points = 0

    def _fill(self, config: KernelConfig) -> None:
        for name, entries in config.entries.items():
            fd = self.obj.map_fd(name)
            for key, value in entries:
                libbpf.map_update(fd, key, value)

    def set_points(self, ifindexes: Sequence[int], links: Sequence[int], snaplen: int) -> None:
        """Collection point i is ifindexes[i]; the program ignores every other interface."""
        if len(ifindexes) > MAX_POINTS:
            raise EbpfError(
                f"the eBPF engine takes at most {MAX_POINTS} collection interfaces",
                "unsupported_settings",
            )
        points = KernelConfig()
        point_entries(points, ifindexes, links, snaplen)
        self._fill(points)
        self.points = len(ifindexes)

    def drain(self, *, swap: bool = True) -> list[tuple[bytes, bytes]]:
        """Point the program at the other counter map, then empty the one it wrote until now.

        swap=False empties the active map in place: only for BPF_PROG_TEST_RUN, where nothing
        runs the program concurrently (the swap waits for an RCU grace period each time).
        """
        full = self.active
        if not swap:
            return list(libbpf.drain(self._fds[full], KEY.size, VALUE.size * self.cpus))
        self.active = 1 - full
        libbpf.map_update(
            self._active_fd, b"\0\0\0\0", self._fds[self.active].to_bytes(4, "little")
        )
        return list(libbpf.drain(self._fds[full], KEY.size, VALUE.size * self.cpus))

    def stat_rows(self) -> list[bytes]:
        size = STAT_ROW.size * self.cpus
        return [
            libbpf.map_lookup(self._stats_fd, point.to_bytes(4, "little"), size) or bytes(size)
            for point in range(self.points)
        ]

    def info(self) -> libbpf.ProgInfo:
        return libbpf.prog_info(self.prog_fd)

    def close(self) -> None:
        self.obj.close()


def _explain(exc: libbpf.BpfError) -> str:
    """A libbpf failure in operator terms; the verifier's last lines stay in the message."""
    if exc.errno == 1:  # EPERM
        return (
            "the kernel refused to load the eBPF program (EPERM): the agent needs CAP_BPF "
            "(or CAP_SYS_ADMIN), CAP_NET_ADMIN and CAP_PERFMON\n" + str(exc)
        )
    if exc.errno == 13:  # EACCES: the verifier said no
        return "the kernel's verifier rejected the eBPF program ioam_count\n" + str(exc)
    return f"the eBPF program could not be loaded: {exc}"


class TcAttachment:
    """The program at ingress of one interface; `detach()` undoes only what was done here."""

    def __init__(self, interface: str, prog_fd: int) -> None:
        self.interface = interface
        try:
            self.ifindex = socket.if_nametoindex(interface)
        except OSError:
            raise EbpfError(
                f"interface {interface!r} does not exist on this host", "attach_failed"
            ) from None
        try:
            self.created_qdisc = libbpf_tc.tc_hook_create(self.ifindex)
            stale = libbpf_tc.tc_query(self.ifindex, TC_HANDLE, TC_PRIORITY)
            if stale is not None:
                log.warning(
                    "%s: replacing the e2e-energy filter already there (program id %d): left by "
                    "an agent that did not stop cleanly, or one this agent takes over from",
                    interface,
                    stale,
                )
            self.prog_id = libbpf_tc.tc_attach(
                self.ifindex, prog_fd, TC_HANDLE, TC_PRIORITY, replace=stale is not None
            )
        except libbpf.BpfError as exc:
            raise EbpfError(
                f"cannot attach the eBPF program at {interface} ingress: {exc}", "attach_failed"
            ) from None

    def detach(self) -> None:
        """Remove our filter if it is still ours, and the clsact qdisc if we added it."""
        try:
            if libbpf_tc.tc_query(self.ifindex, TC_HANDLE, TC_PRIORITY) == self.prog_id:
                libbpf_tc.tc_detach(self.ifindex, TC_HANDLE, TC_PRIORITY)
            if self.created_qdisc:
                libbpf_tc.tc_hook_destroy(self.ifindex)
        except libbpf.BpfError as exc:  # the interface may be gone: nothing left to undo
            log.warning("%s: detaching the eBPF program: %s", self.interface, exc)


def device_type(interface: str) -> int:
    try:
        return int(Path(f"/sys/class/net/{interface}/type").read_text())
    except (OSError, ValueError):
        return 1


class EbpfEngine:
    """Loaded and attached at every collection point; `flush()` gives the counts since the last."""

    def __init__(self, points: Sequence[tuple[str, str]], settings: AgentSettings) -> None:
        self.kernel = KernelCounters(settings.trace_ids, settings.ebpf_map_entries)
        self.attachments: list[TcAttachment] = []
        try:
            ifindexes = []
            for interface, _direction in points:
                try:
                    ifindexes.append(socket.if_nametoindex(interface))
                except OSError:
                    raise EbpfError(
                        f"interface {interface!r} does not exist on this host", "attach_failed"
                    ) from None
            links = [link_of(device_type(i)) for i, _ in points]
            self.kernel.set_points(ifindexes, links, settings.snaplen)
            for interface, _direction in points:
                self.attachments.append(TcAttachment(interface, self.kernel.prog_fd))
        except BaseException:
            self.close()
            raise
        self.reader = CounterReader(points, self.kernel.config.rule_ids, self.kernel.cpus)

    def flush(self, now: float) -> Delta:
        return self.reader.delta(self.kernel.drain(), self.kernel.stat_rows(), now)

    def detach(self) -> None:
        for attachment in self.attachments:
            attachment.detach()
        self.attachments = []

    def close(self) -> None:
        self.detach()
        self.kernel.close()


def run_ebpf(
    engine: EbpfEngine,
    state: AgentState,
    stop: Stop,
    on_ready: Callable[[], None] = lambda: None,
    *,
    clock: Callable[[], float] = time.time,
) -> None:
    """Read the kernel's counters into `state` every FLUSH_SECONDS until `stop()`, then detach
    and read what was counted until the detachment."""
    on_ready()
    last_expire = time.monotonic()
    try:
        while True:
            stopping = stop()
            if stopping:
                engine.detach()
            state.merge(engine.flush(clock()))
            info = engine.kernel.info()
            state.set_bpf_stats(info.run_time_ns / 1e9, info.run_count)
            if time.monotonic() - last_expire >= EXPIRE_SECONDS:
                state.expire(clock())
                last_expire = time.monotonic()
            if stopping:
                return
            time.sleep(FLUSH_SECONDS)
    finally:
        engine.close()
