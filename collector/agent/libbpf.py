"""A ctypes binding to libbpf (Debian's libbpf1, `libbpf.so.1`): only the calls the eBPF engine
makes, so the package needs no compiler and no BCC at run time.

libbpf 1.x returns a negative errno from every call (NULL plus errno for constructors); each
failure becomes a `BpfError` naming the call, the errno and libbpf's last log lines, which hold
the verifier's log when the kernel rejects the program.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import errno
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

LIBRARY: Final = "libbpf.so.1"
BPF_ANY: Final = 0
BPF_NOEXIST: Final = 1
_LOG_LINES = 200_000
_PRINT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)


class BpfError(RuntimeError):
    """A libbpf call failed; `errno` is the error number, the message says what and why."""

    def __init__(self, message: str, code: int = 0, log: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.errno = code
        self.log = log
        """Everything libbpf said since the call began (the verifier's whole log, for one)."""


class _TestRunOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("data_in", ctypes.c_void_p),
        ("data_out", ctypes.c_void_p),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("ctx_in", ctypes.c_void_p),
        ("ctx_out", ctypes.c_void_p),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("repeat", ctypes.c_int),
        ("duration", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    ]


class _BatchOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("elem_flags", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),
    ]


_P = ctypes.c_void_p
_I = ctypes.c_int
_U32 = ctypes.c_uint32
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "libbpf_set_print": (_P, [_P]),
    "libbpf_num_possible_cpus": (_I, []),
    "bpf_object__open_file": (_P, [ctypes.c_char_p, _P]),
    "bpf_object__load": (_I, [_P]),
    "bpf_object__close": (None, [_P]),
    "bpf_object__find_map_by_name": (_P, [_P, ctypes.c_char_p]),
    "bpf_object__find_program_by_name": (_P, [_P, ctypes.c_char_p]),
    "bpf_map__set_max_entries": (_I, [_P, _U32]),
    "bpf_map__inner_map": (_P, [_P]),
    "bpf_map__fd": (_I, [_P]),
    "bpf_program__fd": (_I, [_P]),
    "bpf_map_update_elem": (_I, [_I, _P, _P, ctypes.c_uint64]),
    "bpf_map_lookup_elem": (_I, [_I, _P, _P]),
    "bpf_map_lookup_and_delete_batch": (_I, [_I, _P, _P, _P, _P, _P, _P]),
    "bpf_prog_test_run_opts": (_I, [_I, _P]),
    "bpf_prog_get_fd_by_id": (_I, [_U32]),
    "bpf_obj_get_info_by_fd": (_I, [_I, _P, _P]),
    "bpf_tc_hook_create": (_I, [_P]),
    "bpf_tc_hook_destroy": (_I, [_P]),
    "bpf_tc_attach": (_I, [_P, _P]),
    "bpf_tc_detach": (_I, [_P, _P]),
    "bpf_tc_query": (_I, [_P, _P]),
    "bpf_enable_stats": (_I, [_I]),
}


class _Library:
    """libbpf and libc, opened once; libbpf's messages go to a bounded log instead of stderr."""

    def __init__(self) -> None:
        try:
            self.lib = ctypes.CDLL(LIBRARY, use_errno=True)
        except OSError as exc:
            raise BpfError(
                f"{LIBRARY} cannot be loaded ({exc}); install libbpf1 (Debian/Ubuntu) or libbpf",
                errno.ENOENT,
            ) from None
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(self.lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self._vsnprintf = libc.vsnprintf
        self._vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, _P]
        self.log: collections.deque[str] = collections.deque(maxlen=_LOG_LINES)
        self._printer = _PRINT_FN(self._print)  # kept alive as long as the library
        self.lib.libbpf_set_print(ctypes.cast(self._printer, _P))

    def _print(self, level: int, fmt: bytes, args: int | None) -> int:
        if level > 1:  # LIBBPF_DEBUG
            return 0
        buf = ctypes.create_string_buffer(1 << 18)  # a verifier log comes as one message
        self._vsnprintf(buf, len(buf), fmt, args)
        self.log.extend(buf.value.decode(errors="replace").splitlines())
        return 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.lib, name)

    def fail(self, call: str, rc: int, what: str = "") -> BpfError:
        code = -rc if rc < 0 else ctypes.get_errno()
        lines = tuple(self.log)
        self.log.clear()
        tail = "\n".join(lines[-40:])
        text = f"{call}{' ' + what if what else ''}: {os.strerror(code)} (errno {code})"
        return BpfError(f"{text}\n{tail}" if tail else text, code, lines)


_LIB: _Library | None = None


def library() -> _Library:
    """libbpf, loaded on first use; BpfError when it is not installed."""
    global _LIB
    if _LIB is None:
        _LIB = _Library()
    return _LIB


def possible_cpus() -> int:
    n = int(library().libbpf_num_possible_cpus())
    if n <= 0:
        raise library().fail("libbpf_num_possible_cpus", n)
    return n


class BpfObject:
    """An ELF object opened, sized and loaded into the kernel; `close()` frees it all."""

    def __init__(self, path: str, max_entries: dict[str, int] | None = None) -> None:
        lib = library()
        lib.log.clear()
        obj = lib.bpf_object__open_file(path.encode(), None)
        if not obj:
            raise lib.fail("bpf_object__open_file", 0, path)
        self._obj: int | None = obj
        try:
            for name, entries in (max_entries or {}).items():
                self._size(name, entries)
            rc = lib.bpf_object__load(obj)
            if rc:
                raise lib.fail("bpf_object__load", rc, path)
        except BaseException:
            self.close()
            raise

    def _size(self, name: str, entries: int) -> None:
        lib = library()
        bpf_map = self._map(name)
        inner = lib.bpf_map__inner_map(bpf_map)
        target = inner if inner else bpf_map
        rc = lib.bpf_map__set_max_entries(target, entries)
        if rc:
            raise lib.fail("bpf_map__set_max_entries", rc, name)

    def _map(self, name: str) -> int:
        found = library().bpf_object__find_map_by_name(self._obj, name.encode())
        if not found:
            raise BpfError(f"map {name!r} is not in the object")
        return int(found)

    def map_fd(self, name: str) -> int:
        return int(library().bpf_map__fd(self._map(name)))

    def prog_fd(self, name: str) -> int:
        prog = library().bpf_object__find_program_by_name(self._obj, name.encode())
        if not prog:
            raise BpfError(f"program {name!r} is not in the object")
        return int(library().bpf_program__fd(prog))

    def close(self) -> None:
        if self._obj is not None:
            library().bpf_object__close(self._obj)
            self._obj = None


def map_update(fd: int, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
    rc = library().bpf_map_update_elem(fd, key, value, flags)
    if rc:
        raise library().fail("bpf_map_update_elem", rc)


def map_lookup(fd: int, key: bytes, value_size: int) -> bytes | None:
    out = ctypes.create_string_buffer(value_size)
    rc = library().bpf_map_lookup_elem(fd, key, out)
    if rc == -errno.ENOENT:
        return None
    if rc:
        raise library().fail("bpf_map_lookup_elem", rc)
    return out.raw


def drain(
    fd: int, key_size: int, value_size: int, chunk: int = 1024
) -> Iterator[tuple[bytes, bytes]]:
    """Look up and delete every entry of a hash map in batches; value_size covers all CPUs."""
    lib = library()
    keys = ctypes.create_string_buffer(key_size * chunk)
    values = ctypes.create_string_buffer(value_size * chunk)
    token = ctypes.create_string_buffer(max(key_size, 8))
    opts = _BatchOpts(ctypes.sizeof(_BatchOpts), 0, 0)
    first = True
    while True:
        count = _U32(chunk)
        rc = lib.bpf_map_lookup_and_delete_batch(
            fd,
            None if first else token,
            token,
            keys,
            values,
            ctypes.byref(count),
            ctypes.byref(opts),
        )
        first = False
        if rc and rc != -errno.ENOENT:
            raise lib.fail("bpf_map_lookup_and_delete_batch", rc)
        raw_keys, raw_values = keys.raw, values.raw
        for i in range(count.value):
            yield (
                raw_keys[i * key_size : (i + 1) * key_size],
                raw_values[i * value_size : (i + 1) * value_size],
            )
        if rc == -errno.ENOENT:  # the last batch
            return


class ProgRun:
    """BPF_PROG_TEST_RUN on one buffer: the kernel runs the program on it (no interface needed).
    `buffer` may be edited in place between calls, which keeps loops of runs cheap."""

    def __init__(self, prog_fd: int, data: bytes) -> None:
        self.prog_fd = prog_fd
        self.buffer = ctypes.create_string_buffer(data, len(data))
        self._opts = _TestRunOpts(sz=ctypes.sizeof(_TestRunOpts), repeat=1)
        self._opts.data_in = ctypes.cast(self.buffer, _P)
        self._opts.data_size_in = len(data)
        self._ref = ctypes.byref(self._opts)
        self._run = library().bpf_prog_test_run_opts

    def __call__(self, repeat: int = 1) -> tuple[int, int]:
        """(the program's return value, mean ns per run as the kernel measured it)."""
        self._opts.repeat = repeat
        rc = self._run(self.prog_fd, self._ref)
        if rc:
            raise library().fail("bpf_prog_test_run_opts", rc)
        return ctypes.c_int32(self._opts.retval).value, int(self._opts.duration)


def prog_run(prog_fd: int, data: bytes, repeat: int = 1) -> tuple[int, int]:
    """Run the program once (or `repeat` times) on `data`: (return value, ns per run)."""
    return ProgRun(prog_fd, data)(repeat)


@dataclass(frozen=True, slots=True)
class ProgInfo:
    id: int
    name: str
    run_time_ns: int
    run_count: int
    verified_insns: int


_INFO = struct.Struct("=4xI56x16s112xQQ8xI12x")


def prog_info(fd: int) -> ProgInfo:
    """Id, name and the kernel's run-time accounting (kernel.bpf_stats_enabled) of a program."""
    buf = ctypes.create_string_buffer(_INFO.size)
    size = _U32(_INFO.size)
    rc = library().bpf_obj_get_info_by_fd(fd, buf, ctypes.byref(size))
    if rc:
        raise library().fail("bpf_obj_get_info_by_fd", rc)
    prog_id, name, run_ns, run_cnt, verified = _INFO.unpack(buf.raw)
    return ProgInfo(prog_id, name.rstrip(b"\0").decode(), run_ns, run_cnt, verified)


def enable_stats() -> int:
    """BPF_ENABLE_STATS (run time): the kernel accounts every program's run time and count
    while the returned fd is open, as kernel.bpf_stats_enabled=1 does. Needs CAP_SYS_ADMIN."""
    fd = int(library().bpf_enable_stats(0))  # BPF_STATS_RUN_TIME
    if fd < 0:
        raise library().fail("bpf_enable_stats", fd)
    return fd


def prog_fd_by_id(prog_id: int) -> int:
    fd = int(library().bpf_prog_get_fd_by_id(prog_id))
    if fd < 0:
        raise library().fail("bpf_prog_get_fd_by_id", fd, str(prog_id))
    return fd
