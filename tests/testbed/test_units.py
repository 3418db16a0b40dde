"""The testbed's pure parts: plan, Hop-by-Hop bytes, GTP-U, framing, power models, SNMP table."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from testbed import gtpu, snmp_pass, wire
from testbed.plan import TUN_NAME, make_plan
from testbed.power_models import Interval, PowerSplit, cpu_power, radio_power, traffic_power
from testbed.powerd import NfMeter, render_kepler
from testbed.settings import CpuModel, Param, RadioModel, TrafficModel, load_topology

ROOT = Path(__file__).resolve().parent.parent.parent
TOPOLOGY = ROOT / "testbed" / "topology.yaml"


def test_plan_routes_through_the_gtpu_tunnel() -> None:
    s = load_topology(TOPOLOGY)
    plan = make_plan(s.testbed, "e2tb99")
    assert plan.ns("cu") == "e2tb99-cu"
    assert plan.gtpu_nodes == ("cu", "upf")
    cu_to_srv = next(r for r in plan.routes if r.node == "cu" and r.dst == "fd00:e2e:5::/64")
    assert (cu_to_srv.dev, cu_to_srv.gateway) == (TUN_NAME, None)
    upf_to_ue = next(r for r in plan.routes if r.node == "upf" and r.dst == "fd00:e2e:1::/64")
    assert upf_to_ue.dev == TUN_NAME
    ue_to_srv = next(r for r in plan.routes if r.node == "ue" and r.dst == "fd00:e2e:5::/64")
    assert (ue_to_srv.dev, ue_to_srv.gateway) == ("ru0", "fd00:e2e:1::2")
    assert plan.address("srv", "upf") == "fd00:e2e:5::2"
    other = make_plan(s.testbed, "e2tb98")
    assert {m.root_address for m in plan.mgmt}.isdisjoint({m.root_address for m in other.mgmt})


def test_hopopts_layout() -> None:
    import socket

    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        length = wire.set_hopopts(sock, 101, 6)
        h = sock.getsockopt(socket.IPPROTO_IPV6, wire.IPV6_HOPOPTS, 256)
    assert length == len(h) == 40
    assert h.hex() == (
        "00"  # next header (kernel fills it)
        "04"  # (4 + 1) * 8 = 40 octets
        "0100"  # PadN, no data: the IOAM option starts at offset 4
        "31"  # option type IOAM, data may change en route
        "22"  # option length 34: 2 + 8 header + 24 data
        "00"  # reserved
        "00"  # IOAM option type: pre-allocated trace
        "0065"  # namespace 101
        "0806"  # NodeLen 1, flags 0, RemainingLen 6
        "800000"  # trace type bit 0: hop limit + 24-bit node id
        "00" + "00" * 24  # reserved  # six empty slots
    )
    with pytest.raises(ValueError, match="even"), socket.socket(socket.AF_INET6) as sock:
        wire.set_hopopts(sock, 101, 5)


def test_gtpu_round_trip_and_rejects() -> None:
    inner = bytes(range(60))
    gpdu = gtpu.encapsulate(inner, 0x100)
    assert gpdu[:8] == bytes.fromhex("30ff003c00000100")
    assert gtpu.decapsulate(gpdu, 0x100) == inner
    assert gtpu.decapsulate(gpdu, 0x200) is None  # another tunnel
    assert gtpu.decapsulate(gpdu[:5], 0x100) is None  # truncated header
    assert gtpu.decapsulate(gpdu[:-1], 0x100) is None  # shorter than its length field
    echo = struct.pack("!BBHI", 0x32, 1, 4, 0) + b"\0\0\0\0"
    assert gtpu.decapsulate(echo, 0) is None  # echo request, not a G-PDU
    # PDU session container extension header (E flag): 4 optional bytes, then one 4-byte header
    ext = struct.pack("!BBHI", 0x34, 0xFF, 4 + 4 + len(inner), 7) + b"\0\0\0\x85"
    ext += bytes([1, 0x10, 0x09, 0]) + inner
    assert gtpu.decapsulate(ext, 7) == inner


def test_wire_chunks_reassemble_out_of_order_and_expire() -> None:
    body = wire.encode_body({"texts": ["a b"]}, b"x" * 3000)
    parts = wire.chunks(wire.KIND_REQUEST, 9, body, 1200)
    assert len(parts) == 3 and all(len(p) <= 1200 for p in parts)
    asm = wire.Assembler(expire_seconds=5)
    assert asm.add("p", parts[2], now=0) is None
    assert asm.add("p", parts[0], now=1) is None
    kind, mid, got = asm.add("p", parts[1], now=2) or (0, 0, b"")
    assert (kind, mid, wire.decode_body(got)) == (1, 9, ({"texts": ["a b"]}, b"x" * 3000))
    asm.add("q", parts[0], now=10)
    asm.add("r", b"junk", now=20)
    asm.add("r", parts[0], now=20)
    assert (asm.expired, asm.malformed) == (1, 1)


def _p(value: float) -> Param:
    return Param(value=value, source="test")


def test_power_models() -> None:
    radio = RadioModel(
        n_trx=_p(2),
        p0_watts=_p(6.8),
        delta_p=_p(4.0),
        p_max_watts=_p(0.13),
        capacity_bits_per_second=_p(8e6),
    )
    idle = radio_power(radio, Interval(1.0))
    assert idle.watts == pytest.approx(13.6)  # EARTH eq. 1: N_TRX x P0 with no load
    half = radio_power(radio, Interval(2.0, bytes=1e6))  # 4 Mbit/s = half load
    assert half.dynamic_watts == pytest.approx(2 * 4.0 * 0.13 * 0.5)
    full = radio_power(radio, Interval(1.0, bytes=1e9))
    assert full.watts == pytest.approx(2 * (6.8 + 4.0 * 0.13))  # clamped at full load
    du = traffic_power(
        TrafficModel(static_watts=_p(15), joules_per_packet=_p(1e-3), joules_per_byte=_p(1e-6)),
        Interval(2.0, packets=100, bytes=1e6),
    )
    assert (du.static_watts, du.dynamic_watts) == (15, pytest.approx((0.1 + 1.0) / 2))
    cu = cpu_power(
        CpuModel(static_watts=_p(5), watts_per_core=_p(12)), Interval(4.0, cpu_seconds=1.0)
    )
    assert cu.watts == pytest.approx(5 + 3)


def test_kepler_rendering_both_generations() -> None:
    s = load_topology(TOPOLOGY)
    meters = {n: NfMeter(n, static_joules=10.0, dynamic_joules=2.5) for n in ("du", "cu")}
    text = render_kepler(s.testbed, meters)
    assert (
        'kepler_pod_cpu_joules_total{pod_id="cu-uid",pod_name="cu-up-0",pod_namespace="ran",'
        'state="running",zone="package"} 12.500000'
    ) in text
    old = render_kepler(
        s.testbed.model_copy(
            update={"power": s.testbed.power.model_copy(update={"kepler_generation": "0.9"})}
        ),
        meters,
    )
    assert 'pod_name="du-0",source="testbed-model",mode="idle"} 10.000000' in old
    assert 'pod_name="du-0",source="testbed-model",mode="dynamic"} 2.500000' in old


def test_kepler_counters_run_on_between_steps() -> None:
    """Scraped 1.5 s after the last step, a 2 W static part adds 3 J; the dynamic part stays
    as of the last step (its watts are only known per interval)."""
    s = load_topology(TOPOLOGY)
    meter = NfMeter("cu", static_joules=10.0, dynamic_joules=2.5, watts=PowerSplit(2.0, 7.0))
    text = render_kepler(s.testbed, {"cu": meter}, since_step=1.5)
    assert 'pod_name="cu-up-0",pod_namespace="ran",state="running",zone="package"} 15.5000' in text
    old_power = s.testbed.power.model_copy(update={"kepler_generation": "0.9"})
    old = render_kepler(s.testbed.model_copy(update={"power": old_power}), {"cu": meter}, 1.5)
    assert 'mode="idle"} 13.000000' in old and 'mode="dynamic"} 2.500000' in old


def test_snmp_pass_table_order(tmp_path: Path) -> None:
    f = tmp_path / "o.json"
    outlets = {
        2: {"name": "b", "watts": 5, "peak_watts": 6, "energy_tenth_kwh": 0},
        1: {"name": "ru1", "watts": 27, "peak_watts": 29, "energy_tenth_kwh": 3},
    }
    f.write_text(json.dumps(snmp_pass.apc_outlet_values(outlets)))
    base = snmp_pass.APC_OUTLET_TABLE
    assert snmp_pass.answer("get", f"{base}.1.7.1", f) == [f"{base}.1.7.1", "integer", "27"]
    assert snmp_pass.answer("getnext", f"{base}.1.3.1", f) == [f"{base}.1.3.2", "string", "b"]
    assert snmp_pass.answer("getnext", f"{base}.1.3.2", f)[0] == f"{base}.1.4.1"
    # numeric order: column 11 comes after 8, not between 1 and 3
    assert snmp_pass.answer("getnext", f"{base}.1.8.2", f) == [f"{base}.1.11.1", "integer", "3"]
    assert snmp_pass.answer("getnext", f"{base}.1.11.2", f) == ["NONE"]
    assert snmp_pass.answer("get", f"{base}.1.7.9", f) == ["NONE"]
    (tmp_path / "o.json").write_text("{broken")
    assert snmp_pass.answer("get", f"{base}.1.7.1", f) == ["NONE"]
