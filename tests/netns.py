"""Network-namespace helpers for the agent tests: create, enter (per thread), tear down.

Namespaces are named with the agent's prefix plus the pid so parallel runs never collide.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
from collections.abc import Iterator

PREFIX = "e2ag"
CLONE_NEWNET = 0x40000000


def ns_name(tag: str) -> str:
    return f"{PREFIX}{os.getpid()}{tag}"


def sh(*args: str, ns: str | None = None, check: bool = True) -> str:
    cmd = ["ip", "netns", "exec", ns, *args] if ns else list(args)
    out = subprocess.run(cmd, capture_output=True, text=True)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()}")
    return out.stdout


@contextlib.contextmanager
def namespaces(*tags: str) -> Iterator[list[str]]:
    names = [ns_name(t) for t in tags]
    try:
        for n in names:
            sh("ip", "netns", "add", n)
            sh("ip", "link", "set", "lo", "up", ns=n)
        yield names
    finally:
        for n in names:
            sh("ip", "netns", "del", n, check=False)


@contextlib.contextmanager
def inside(ns: str) -> Iterator[None]:
    """Run the body with this thread in `ns`; sockets opened there stay in `ns`."""
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {ns}")
        try:
            yield
        finally:
            libc.setns(own, CLONE_NEWNET)
    finally:
        os.close(own)
        os.close(target)


def veth(a_ns: str, a: str, b_ns: str, b: str) -> None:
    """A veth pair with offloads off (no merged segments) and no IPv6 DAD delay."""
    tmp = f"t{os.getpid()}"
    sh("ip", "link", "add", f"{tmp}a", "type", "veth", "peer", "name", f"{tmp}b")
    sh("ip", "link", "set", f"{tmp}a", "netns", a_ns)
    sh("ip", "link", "set", f"{tmp}b", "netns", b_ns)
    sh("ip", "link", "set", "dev", f"{tmp}a", "name", a, ns=a_ns)
    sh("ip", "link", "set", "dev", f"{tmp}b", "name", b, ns=b_ns)
    for ns, dev in ((a_ns, a), (b_ns, b)):
        sh("sysctl", "-qw", f"net.ipv6.conf.{dev}.accept_dad=0", ns=ns)
        sh("ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", ns=ns, check=False)
        sh("ip", "link", "set", "dev", dev, "up", ns=ns)
