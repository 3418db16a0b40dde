"""libbpf's TC calls (`bpf_tc_*`): the clsact qdisc and a direct-action filter at ingress, at a
fixed handle and priority. Part of the ctypes binding in libbpf.py."""

from __future__ import annotations

import ctypes
import errno
from typing import Final

from collector.agent.libbpf import library

BPF_TC_INGRESS: Final = 1
BPF_TC_EGRESS: Final = 2
BPF_TC_F_REPLACE: Final = 1


class _TcHook(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("ifindex", ctypes.c_int),
        ("attach_point", ctypes.c_int),
        ("parent", ctypes.c_uint32),
        ("_end", ctypes.c_size_t * 0),
    ]


class _TcOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("prog_fd", ctypes.c_int),
        ("flags", ctypes.c_uint32),
        ("prog_id", ctypes.c_uint32),
        ("handle", ctypes.c_uint32),
        ("priority", ctypes.c_uint32),
        ("_end", ctypes.c_size_t * 0),
    ]


def _hook(ifindex: int) -> _TcHook:
    return _TcHook(sz=ctypes.sizeof(_TcHook), ifindex=ifindex, attach_point=BPF_TC_INGRESS)


def _opts(handle: int, priority: int, prog_fd: int = 0, flags: int = 0) -> _TcOpts:
    return _TcOpts(
        sz=ctypes.sizeof(_TcOpts), prog_fd=prog_fd, flags=flags, handle=handle, priority=priority
    )


def tc_hook_create(ifindex: int) -> bool:
    """Add the clsact qdisc; False when one was there already (then it is not ours to remove)."""
    rc = library().bpf_tc_hook_create(ctypes.byref(_hook(ifindex)))
    if rc == -errno.EEXIST:
        return False
    if rc:
        raise library().fail("bpf_tc_hook_create", rc, f"(ifindex {ifindex})")
    return True


def tc_hook_destroy(ifindex: int) -> None:
    hook = _hook(ifindex)
    hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS  # both: removes the clsact qdisc
    rc = library().bpf_tc_hook_destroy(ctypes.byref(hook))
    if rc and rc != -errno.ENOENT and rc != -errno.EINVAL:
        raise library().fail("bpf_tc_hook_destroy", rc, f"(ifindex {ifindex})")


def tc_attach(ifindex: int, prog_fd: int, handle: int, priority: int, replace: bool) -> int:
    """Attach at ingress with a fixed handle and priority; returns the program id."""
    opts = _opts(handle, priority, prog_fd, BPF_TC_F_REPLACE if replace else 0)
    rc = library().bpf_tc_attach(ctypes.byref(_hook(ifindex)), ctypes.byref(opts))
    if rc:
        raise library().fail("bpf_tc_attach", rc, f"(ifindex {ifindex})")
    return int(opts.prog_id)


def tc_query(ifindex: int, handle: int, priority: int) -> int | None:
    """The id of the program attached at (handle, priority) on ingress, None when none is."""
    opts = _opts(handle, priority)
    rc = library().bpf_tc_query(ctypes.byref(_hook(ifindex)), ctypes.byref(opts))
    if rc in (-errno.ENOENT, -errno.EINVAL):
        return None
    if rc:
        raise library().fail("bpf_tc_query", rc, f"(ifindex {ifindex})")
    return int(opts.prog_id)


def tc_detach(ifindex: int, handle: int, priority: int) -> None:
    rc = library().bpf_tc_detach(
        ctypes.byref(_hook(ifindex)), ctypes.byref(_opts(handle, priority))
    )
    if rc and rc != -errno.ENOENT:
        raise library().fail("bpf_tc_detach", rc, f"(ifindex {ifindex})")
