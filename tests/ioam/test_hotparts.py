"""The hot path's read plans and its DEX/POT/E2E judge (collector/ioam/hotparts.py), through
hot_parse on hand-built frames: which node ids each trace type yields, where node data starts,
the overflow flag, and option lengths at their boundaries. Written against the mutants the
other tests let through (scripts/mutation.toml); every expectation is worked out by hand."""

from __future__ import annotations

import struct

import pytest

from collector.ioam import build, fastparse
from collector.ioam.fastparse import RESULT_MALFORMED, RESULT_PARSED, HotResult, hot_parse

WIDE = 1 << 40


@pytest.fixture(autouse=True)
def cold_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from empty plan caches, so each plan is made by the code under test."""
    monkeypatch.setattr(fastparse, "_PLANS", {})
    monkeypatch.setattr(fastparse, "_WIDE_PLANS", {})


def nodes(*ids: int) -> list[dict[str, int]]:
    """Nodes with narrow id i, wide id 2**40 + i, interfaces 0x10000 + i (non-zero words)."""
    return [
        {"node_id": i, "node_id_wide": WIDE + i, "ingress_if_id": 0x100 + i, "egress_if_id": i}
        for i in ids
    ]


def parse(option: bytes, *, wide: bool = False) -> HotResult:
    """The option alone in a hop-by-hop header of Ethernet / IPv6 / UDP; namespace 5 is wide."""
    frame = build.ethernet(build.ipv6(hop_by_hop=[option], upper=build.udp(1, 2)))
    return hot_parse(frame, wide_namespaces=frozenset({5}) if wide else frozenset())


def raw(hbh: bytes) -> HotResult:
    """Raw IPv6 ending with the hop-by-hop header `hbh` (next header 59): its last option ends
    where the frame ends."""
    return hot_parse(struct.pack("!IHBB", 6 << 28, len(hbh), 0, 64) + bytes(32) + hbh, 101)


def malformed(ipv6_len: int) -> HotResult:
    z = bytes(16)
    return HotResult(RESULT_MALFORMED, 0, 0, (), False, ipv6_len, 0, 0, None, z, z, 0, 0, 0)


# --- where node data starts -------------------------------------------------------------------


def test_pre_allocated_free_space_is_skipped_and_incremental_has_none() -> None:
    """Pre-allocated, RemainingLen 3 (12 free bytes) before nodes 7 and 8: ids (7, 8). An
    incremental trace (namespace 5 < 256, so its namespace's high byte is 0) announcing
    RemainingLen 2 has no free space: all three nodes are read."""
    pre = build.trace_option(namespace_id=6, trace_type=0x800000, nodes=nodes(7, 8), free_nodes=3)
    assert pre[7] & 0x7F == 3
    assert parse(pre).node_ids == (7, 8)
    inc = build.trace_option(
        namespace_id=5, trace_type=0x800000, nodes=nodes(1, 2, 3), free_nodes=2, incremental=True
    )
    assert inc[7] & 0x7F == 2
    assert parse(inc).node_ids == (1, 2, 3)


# --- which node ids each trace type carries ----------------------------------------------------


@pytest.mark.parametrize(
    ("trace_type", "wide", "expected"),
    [
        (0x800000, True, (1, 2)),  # a wide namespace, but only narrow ids on the wire
        (0x800001, True, (1, 2)),  # the reserved bit 23 adds nothing
        (0x008001, False, (WIDE + 1, WIDE + 2)),  # only wide ids: read whatever the namespace
        (0x00C000, False, (WIDE + 1, WIDE + 2)),  # wide ids then 8-byte wide interfaces
        (0x400000, False, ()),  # interfaces only: no node id
        (0x400001, False, ()),
        (0x600000, True, ()),  # interfaces and seconds, 8 bytes a node
    ],
)
def test_node_ids_of_each_trace_type(trace_type: int, wide: bool, expected: tuple[int]) -> None:
    option = build.trace_option(
        namespace_id=5 if wide else 6, trace_type=trace_type, nodes=nodes(1, 2)
    )
    r = parse(option, wide=wide)
    assert (r.status, r.trace_type, r.node_ids) == (RESULT_PARSED, trace_type, expected)


def test_a_trace_type_with_no_data_bits_is_malformed() -> None:
    """Trace type 0x000001 (only the reserved bit) and 0: no data, NodeLen 0: malformed."""
    for trace_type in (0x000001, 0x000000):
        option = build.trace_option(namespace_id=6, trace_type=trace_type, nodes=[])
        assert parse(option).status == RESULT_MALFORMED, hex(trace_type)


def test_opaque_state_nodes_with_wide_ids() -> None:
    """0x808002: narrow id word, wide id, then each node's opaque state snapshot (a 4-byte
    header and 4 bytes of data). In a wide namespace the wide ids at byte 4 of each node."""
    oss = {"schema_id": 3, "data": "01020304"}
    listed = [{**n, "opaque_state": oss} for n in nodes(1, 2)]
    option = build.trace_option(namespace_id=5, trace_type=0x808002, nodes=listed)
    assert parse(option, wide=True).node_ids == (WIDE + 1, WIDE + 2)
    assert parse(option).node_ids == (1, 2)


def test_a_node_cut_before_its_opaque_state_header_is_malformed() -> None:
    """Trace type 0x800002, one node's id word (4 bytes) and no opaque state header; the option
    ends where the frame ends: malformed with the IPv6 length 40 + 24, nothing read past it."""
    option = bytes([0x31, 14, 0, 1, 0, 6, 1 << 3, 0, 0x80, 0x00, 0x02, 0x00]) + bytes(
        [0x3E, 0, 0, 5]
    )
    hbh = bytes([59, 2, 1, 4, 0, 0, 0, 0]) + option  # PadN(4): the option at 4n, 24 bytes
    assert raw(hbh) == malformed(64)


# --- the overflow flag --------------------------------------------------------------------------


@pytest.mark.parametrize(("flags", "overflow"), [(8, True), (0, False), (2, False), (1, False)])
def test_overflow_is_the_first_of_the_four_flag_bits(flags: int, overflow: bool) -> None:
    """RFC 9197: the O flag is the most significant of the 4 flag bits (value 8)."""
    option = build.trace_option(namespace_id=6, trace_type=0x800000, nodes=nodes(1), flags=flags)
    r = parse(option)
    assert (r.status, r.overflow, r.node_ids) == (RESULT_PARSED, overflow, (1,))


def test_dex_pot_and_e2e_never_overflow() -> None:
    for option in (
        build.dex_option(namespace_id=7, flow_id=5),
        build.dex_option(namespace_id=7, flow_id=5, sequence_number=6, linux_form=True),
        build.pot_option(namespace_id=7),
        build.e2e_option(namespace_id=7),
    ):
        r = parse(option)
        assert (r.status, r.namespace_id, r.overflow) == (RESULT_PARSED, 7, False)


# --- DEX, POT and E2E lengths -----------------------------------------------------------------


def test_a_bare_dex_option_of_twelve_bytes_is_counted() -> None:
    dex = build.dex_option(namespace_id=7, trace_type=0x800000)
    assert len(dex) == 12
    r = parse(dex)
    assert (r.status, r.namespace_id, r.trace_type, r.dex_flow_id) == (
        RESULT_PARSED,
        7,
        0x800000,
        None,
    )


def test_a_dex_flag_without_a_field_reads_no_flow_id() -> None:
    """Extension-Flags 0x01 (no optional field announced), 12 bytes, then a POT option: the
    DEX is counted without a flow id, not with the POT's first word as one."""
    dex = bytearray(build.dex_option(namespace_id=7))
    dex[7] = 0x01
    r = parse(bytes(dex) + build.pot_option(namespace_id=1))
    assert (r.status, r.namespace_id, r.dex_flow_id) == (RESULT_PARSED, 7, None)


def test_dex_and_pot_options_too_short_at_the_end_of_the_frame() -> None:
    """A DEX option of 8 bytes (needs 12) and a POT option of 4 (needs 8), each ending where the
    frame ends: malformed with the IPv6 length, not read past the frame."""
    short_dex = bytes([0x31, 6, 0, 4, 0, 7, 0, 0])
    assert raw(bytes([59, 1, 1, 4, 0, 0, 0, 0]) + short_dex) == malformed(56)  # at 4n
    short_pot = bytes([0x31, 2, 0, 2])
    assert raw(bytes([59, 0, 1, 0]) + short_pot) == malformed(48)
