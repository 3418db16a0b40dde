"""The live testbed in network namespaces: kernel stamps, real model, snmpd, Kepler endpoint.

One chain for the module (the model takes a while to load); it is torn down at the end and the
last test checks nothing is left behind.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.settings import load_topology
from tests.conftest import need, need_binary, need_root

pytestmark = [pytest.mark.netns, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent.parent
PREFIX = f"e2tb{os.getpid() % 100000}"
SEND_SECONDS = 4.0


def _tshark_traces(pcap: Path) -> list[tuple[int, tuple[int, ...]]]:
    out = subprocess.run(
        [
            "tshark",
            "-r",
            str(pcap),
            "-T",
            "fields",
            "-E",
            "aggregator=;",
            "-e",
            "ipv6.opt.ioam.trace.ns",
            "-e",
            "ipv6.opt.ioam.trace.node.id",
            "-Y",
            "udp.port != 2152 or gtp",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    traces = []
    for line in out.splitlines():
        ns, _, ids = line.partition("\t")
        if ns and ids:
            traces.append((int(ns.split(";")[0]), tuple(int(x, 16) for x in ids.split(";"))))
    return traces


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    need_root()
    for tool in ("ip", "ethtool", "snmpd", "snmpget", "tshark", "dumpcap"):
        need_binary(tool)
    from testbed import netns
    from testbed.runner import Testbed

    need(netns.unsupported_reason() is None, str(netns.unsupported_reason()))
    settings = load_topology(ROOT / "testbed" / "topology.yaml")
    run = tmp_path_factory.mktemp("bed")
    with Testbed(settings, run, prefix=PREFIX) as tb:
        tb.uplink_pcap = tb.start_capture("uplink", "srv", "upf0")  # type: ignore[attr-defined]
        tb.n3_pcap = tb.start_capture("n3", "upf", "cu0")  # type: ignore[attr-defined]
        apps = [tb.start_app(a, SEND_SECONDS) for a in tb.tb.apps]
        for proc in apps:
            assert proc.wait(90) == 0
        tb.stop("capture-uplink")
        tb.stop("capture-n3")
        yield tb


def test_kernel_stamps_every_node_id(bed: object) -> None:
    from testbed.runner import Testbed

    assert isinstance(bed, Testbed)
    traces = _tshark_traces(bed.uplink_pcap)  # type: ignore[attr-defined]
    expected = tuple(
        n.node_id for n in reversed(bed.tb.nodes) if n.node_id is not None
    )  # most recent hop first: UPF, CU, DU, RU
    by_ns: dict[int, int] = {}
    for ns, ids in traces:
        assert ids == expected, (ns, ids)
        by_ns[ns] = by_ns.get(ns, 0) + 1
    for app in bed.tb.apps:
        assert by_ns.get(app.namespace_id) == bed.app_stats(app.app)["packets_sent"]


def test_gtpu_link_carries_the_same_inner_traces(bed: object) -> None:
    from testbed.runner import Testbed

    assert isinstance(bed, Testbed)
    inner = [t for t in _tshark_traces(bed.n3_pcap) if len(t[1]) == 3]  # type: ignore[attr-defined]
    assert inner and all(ids == (31, 21, 11) for _, ids in inner)  # CU, DU, RU inside GTP-U
    sent = sum(bed.app_stats(a.app)["packets_sent"] for a in bed.tb.apps)
    assert len(inner) == sent


def test_apps_get_answers_from_the_real_model(bed: object) -> None:
    from testbed.runner import Testbed

    assert isinstance(bed, Testbed)
    counters = urllib.request.urlopen(bed.server_metrics_url).read().decode()
    for app in bed.tb.apps:
        stats = bed.app_stats(app.app)
        assert stats["requests_sent"] >= app.rate_per_second * SEND_SECONDS - 1
        assert stats["answers"] == stats["requests_sent"], stats
        large = bed.tb.models.large  # apps ask for the baseline's model unless told otherwise
        assert stats["model"] == f"{large} (sentence-embedding model)"
        line = f'testbed_inference_requests_total{{model="{large}",task="{app.app}"}}'
        assert f"{line} {float(stats['answers'])}" in counters


def test_snmpd_serves_the_ru_watts(bed: object) -> None:
    from testbed.runner import Testbed

    assert isinstance(bed, Testbed)
    oid = ".1.3.6.1.4.1.318.1.1.26.9.4.3.1"
    out = subprocess.run(
        [
            "snmpget",
            "-v2c",
            "-c",
            bed.tb.power.snmp_community,
            "-On",
            "-Oqv",
            f"127.0.0.1:{bed.snmp_port}",
            f"{oid}.3.1",
            f"{oid}.7.1",
            f"{oid}.8.1",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"MIBS": "", "MIBDIRS": "/nonexistent"},
    ).stdout.split()
    radio = bed.tb.power.radio["ru"]
    n_trx, p0, dp, pmax = (
        p.value for p in (radio.n_trx, radio.p0_watts, radio.delta_p, radio.p_max_watts)
    )
    idle, full = n_trx * p0, n_trx * (p0 + dp * pmax)  # EARTH eq. 1: no load, full load
    assert out[0].strip('"') == "ru1"
    assert round(idle) <= int(out[1]) <= round(full)
    assert round(idle) <= int(out[1]) <= int(out[2]) <= round(full)  # peak holds the maximum


def test_kepler_endpoint_serves_modelled_energy(bed: object) -> None:
    from testbed.runner import Testbed

    assert isinstance(bed, Testbed)
    text = urllib.request.urlopen(f"http://127.0.0.1:{bed.kepler_port}/metrics").read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("kepler_pod_cpu_joules_total{"):
            labels, value = line.rsplit(" ", 1)
            values[labels.split('pod_name="')[1].split('"')[0]] = float(value)
    assert set(values) == {"du-0", "cu-up-0", "upf-0", "embedder-0"}
    assert values["embedder-0"] > 0  # the model's measured CPU time, times watts per core
    assert values["cu-up-0"] > 0
    assert "modelled" in text


def test_teardown_leaves_nothing(bed: object) -> None:
    from testbed import netns
    from testbed.runner import Testbed

    assert isinstance(bed, Testbed)
    pids = [p.pid for p in bed.procs.values()]
    bed.close()
    assert netns.status(PREFIX)["namespaces"] == []
    assert netns.status(PREFIX)["root_interfaces"] == []
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
