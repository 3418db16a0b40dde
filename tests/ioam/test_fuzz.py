"""Mutation fuzzing: >= 100k mutated frames through the hot path and the full decode.

A plain seeded mutation loop over seed frames covering every option type and carrier (fast
enough for CI on 2 cores, and reproducible: a failure prints the frame). A slice is also run
through the scapy engine, which must print the same records.
"""

from __future__ import annotations

import json
import random

from collector.ioam import build
from collector.ioam.fastparse import decode_frame, hot_parse
from collector.ioam.scapy_engine import scapy_decode_frame
from tests.ioam.test_malformed import assert_consistent

MUTATIONS = 100_000
SCAPY_SLICE = 1_500


def seed_frames() -> list[tuple[bytes, int]]:
    nodes = [{"hop_limit": 60 + i, "node_id": 100 + i, "ingress_if_id": i} for i in range(3)]
    trace = build.trace_option(namespace_id=7, trace_type=0xC00000, nodes=nodes, free_nodes=2)
    oss = build.trace_option(
        namespace_id=8,
        trace_type=0x808002,
        nodes=[{"node_id": 1, "opaque_state": {"schema_id": 3, "data": "01020304"}}],
    )
    incremental = build.trace_option(
        namespace_id=9, trace_type=0xF00000, nodes=nodes[:2], incremental=True, option_code=0x11
    )
    dex = build.dex_option(namespace_id=7, flow_id=5, sequence_number=6, linux_form=True)
    pot = build.pot_option(namespace_id=1, data=bytes(16))
    e2e = build.e2e_option(namespace_id=1, e2e_type=0xC000, data=bytes(8))
    udp = build.udp(1000, 2000, b"payload")
    inner = build.ipv6(hop_by_hop=[trace, dex], upper=udp)
    gtp = build.gtpu(inner, extensions=[(0x85, b"\x10\x09")])
    return [
        (build.ethernet(build.ipv6(hop_by_hop=[trace, dex], upper=udp)), 1),
        (build.ethernet(build.ipv6(destination=[oss, pot, e2e], upper=udp), vlan=5), 1),
        (
            build.linux_sll(build.ipv6(hop_by_hop=[incremental], destination=[trace], upper=udp)),
            113,
        ),
        (build.linux_sll2(build.ipv6(hop_by_hop=[dex], upper=build.tcp(1, 2))), 276),
        (build.ethernet(build.ipv4(upper=build.udp(2152, 2152, gtp)), ethertype=0x0800), 1),
        (build.ipv6(upper=build.udp(2152, 2152, gtp)), 101),
    ]


def mutate(rnd: random.Random, frame: bytes) -> bytes:
    data = bytearray(frame)
    for _ in range(rnd.randint(1, 4)):
        choice = rnd.random()
        where = rnd.randrange(len(data)) if data else 0
        if choice < 0.5 and data:
            data[where] = rnd.randrange(256)
        elif choice < 0.65 and data:
            data[where] = rnd.choice((0x00, 0x01, 0x11, 0x31, 0x7F, 0x80, 0xFF))
        elif choice < 0.8:
            del data[where:]
        elif choice < 0.9:
            data[where:where] = rnd.randbytes(rnd.randint(1, 8))
        elif data:
            del data[where : where + rnd.randint(1, 8)]
    return bytes(data)


def test_mutated_frames_never_crash_and_engines_agree() -> None:
    rnd = random.Random(20261121)
    seeds = seed_frames()
    for index in range(MUTATIONS):
        seed, linktype = seeds[index % len(seeds)]
        frame = mutate(rnd, seed)
        hot = hot_parse(frame, linktype)
        records = decode_frame(frame, linktype)
        assert_consistent(frame, linktype, hot, records)
        if index < SCAPY_SLICE:
            assert json.dumps(records) == json.dumps(scapy_decode_frame(frame, linktype)), (
                frame.hex()
            )
