"""Fixtures of the live agent tests: a veth pair in its own namespace, and the engine under test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import need_root
from tests.netns import namespaces, sh, veth

ENGINES = ["ebpf", "afpacket"]


@pytest.fixture(scope="module")
def veth_ns() -> Iterator[str]:
    """va and vb, IPv6 off (no MLD or neighbour discovery of their own): frames go va -> vb."""
    need_root()
    with namespaces("live") as (ns,):
        veth(ns, "va", ns, "vb")
        sh("sysctl", "-qw", "net.ipv6.conf.va.disable_ipv6=1", ns=ns)
        sh("sysctl", "-qw", "net.ipv6.conf.vb.disable_ipv6=1", ns=ns)
        yield ns


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)
