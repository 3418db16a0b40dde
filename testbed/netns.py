"""Set up and tear down the namespace chain with pyroute2 (sysctl, ethtool and `ip ioam` by tool).

Setup is idempotent (an existing chain with the same prefix is removed first). Teardown finds
everything by name prefix and by the state file, so it also cleans up after a crash or Ctrl-C:
processes inside the namespaces (`ip netns pids`), recorded root-namespace processes (pid plus
start time, so a reused pid is never killed), namespaces and root-side interfaces.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from pyroute2 import IPRoute, NetNS, netns

from testbed.plan import MGMT_IF, TUN_NAME, Plan
from testbed.settings import TestbedSettings

STATE_DIR = Path(os.environ.get("E2E_ENERGY_TESTBED_STATE", "/run/e2e-energy-testbed"))
IFA_F_NODAD = 0x02
OFFLOADS = ("tso", "gso", "gro", "tx", "rx", "sg")


class TestbedUnsupported(RuntimeError):
    """The machine cannot run the testbed; the message says why (tests SKIP with it)."""


def unsupported_reason() -> str | None:
    """Why the testbed cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, sysctl, TUN devices)"
    for tool in ("ip", "ethtool"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    if not Path("/proc/sys/net/ipv6/ioam6_id").exists():
        return "the kernel lacks IOAM (CONFIG_IPV6_IOAM6: no net.ipv6.ioam6_id)"
    if not Path("/dev/net/tun").exists():
        return "no /dev/net/tun (TUN devices for the GTP-U data plane)"
    return None


def _run(*args: str) -> None:
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")


def _sysctl(ns: str, values: dict[str, int]) -> None:
    pairs = [f"{k}={v}" for k, v in values.items()]
    _run("ip", "netns", "exec", ns, "sysctl", "-qw", *pairs)


def up(tb: TestbedSettings, plan: Plan) -> None:
    """Build the chain: namespaces, veths, TUNs, addresses, routes, IOAM, forwarding."""
    reason = unsupported_reason()
    if reason:
        raise TestbedUnsupported(reason)
    down(plan.prefix)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    write_state(plan.prefix, {"namespaces": list(plan.namespaces.values()), "pids": []})
    for ns in plan.namespaces.values():
        netns.create(ns)
        _sysctl(ns, {"net.ipv6.conf.all.accept_dad": 0, "net.ipv6.conf.default.accept_dad": 0})
    _links(tb, plan)
    _mgmt(plan)
    _tuns(tb, plan)
    for node in tb.nodes:
        _configure_node(tb, plan, node.name)


def _links(tb: TestbedSettings, plan: Plan) -> None:
    with IPRoute() as ipr:
        for link in tb.links:
            a, b = plan.iface(link.a, link.b), plan.iface(link.b, link.a)
            tmp_a, tmp_b = f"{plan.prefix}t{a.if_id}", f"{plan.prefix}t{b.if_id}"
            ipr.link("add", ifname=tmp_a, kind="veth", peer=tmp_b)
            for tmp, ifc in ((tmp_a, a), (tmp_b, b)):
                idx = ipr.link_lookup(ifname=tmp)[0]
                ipr.link("set", index=idx, net_ns_fd=plan.ns(ifc.node))
                with NetNS(plan.ns(ifc.node)) as nsr:
                    i = nsr.link_lookup(ifname=tmp)[0]
                    nsr.link("set", index=i, ifname=ifc.name)
                    nsr.addr("add", index=i, address=ifc.address, prefixlen=64, flags=IFA_F_NODAD)


def _mgmt(plan: Plan) -> None:
    with IPRoute() as ipr:
        for m in plan.mgmt:
            tmp = f"{plan.prefix}m{m.node}"
            ipr.link("add", ifname=m.root_if, kind="veth", peer=tmp)
            root_idx = ipr.link_lookup(ifname=m.root_if)[0]
            ipr.addr("add", index=root_idx, address=m.root_address, prefixlen=64, flags=IFA_F_NODAD)
            ipr.link("set", index=root_idx, state="up")
            idx = ipr.link_lookup(ifname=tmp)[0]
            ipr.link("set", index=idx, net_ns_fd=plan.ns(m.node))
            with NetNS(plan.ns(m.node)) as nsr:
                i = nsr.link_lookup(ifname=tmp)[0]
                nsr.link("set", index=i, ifname=MGMT_IF)
                nsr.addr("add", index=i, address=m.node_address, prefixlen=64, flags=IFA_F_NODAD)
                nsr.link("set", index=i, state="up")


def _tuns(tb: TestbedSettings, plan: Plan) -> None:
    """Persistent TUN devices; the GTP-U processes attach to them later."""
    if plan.gtpu_nodes is None:
        return
    for node in plan.gtpu_nodes:
        _run("ip", "-n", plan.ns(node), "tuntap", "add", "dev", TUN_NAME, "mode", "tun")
        _run("ip", "-n", plan.ns(node), "link", "set", TUN_NAME, "mtu", str(tb.gtpu.tun_mtu))


def _configure_node(tb: TestbedSettings, plan: Plan, name: str) -> None:
    ns = plan.ns(name)
    node = tb.node(name)
    ifaces = [i for i in plan.ifaces if i.node == name]
    values: dict[str, int] = {"net.ipv6.conf.all.forwarding": 1}
    if node.node_id is not None:
        values["net.ipv6.ioam6_id"] = node.node_id
        for ifc in ifaces:
            values[f"net.ipv6.conf.{ifc.name}.ioam6_enabled"] = 1
            values[f"net.ipv6.conf.{ifc.name}.ioam6_id"] = ifc.if_id
        if plan.gtpu_nodes and name in plan.gtpu_nodes:
            tun_id = tb.gtpu.cu_tun_if_id if name == plan.gtpu_nodes[0] else tb.gtpu.upf_tun_if_id
            values[f"net.ipv6.conf.{TUN_NAME}.ioam6_enabled"] = 1
            values[f"net.ipv6.conf.{TUN_NAME}.ioam6_id"] = tun_id
        for app in tb.apps:
            _run("ip", "-n", ns, "ioam", "namespace", "add", str(app.namespace_id))
    _sysctl(ns, values)
    with NetNS(ns) as nsr:
        for ifname in ["lo", *(i.name for i in ifaces)]:
            nsr.link("set", index=nsr.link_lookup(ifname=ifname)[0], state="up")
        if plan.gtpu_nodes and name in plan.gtpu_nodes:
            nsr.link("set", index=nsr.link_lookup(ifname=TUN_NAME)[0], state="up")
        for r in (r for r in plan.routes if r.node == name):
            oif = nsr.link_lookup(ifname=r.dev)[0]
            if r.gateway is None:
                nsr.route("add", dst=r.dst, oif=oif)
            else:
                nsr.route("add", dst=r.dst, gateway=r.gateway, oif=oif)
    for ifc in ifaces:
        _run("ip", "netns", "exec", ns, "ethtool", "-K", ifc.name, *_offload_args())


def _offload_args() -> list[str]:
    return [x for o in OFFLOADS for x in (o, "off")]


# --- state, status and teardown ---------------------------------------------------------------


def state_path(prefix: str) -> Path:
    return STATE_DIR / f"{prefix}.json"


def write_state(prefix: str, state: dict[str, object]) -> None:
    path = state_path(prefix)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    tmp.replace(path)


def record_pid(prefix: str, pid: int) -> None:
    """Remember a root-namespace process so a later teardown (after a crash) can stop it."""
    path = state_path(prefix)
    state = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"pids": []}
    state.setdefault("pids", []).append([pid, _start_time(pid)])
    write_state(prefix, state)


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def existing(prefix: str) -> list[str]:
    return sorted(n for n in netns.listnetns() if n.startswith(f"{prefix}-"))


def _root_ifaces(prefix: str) -> list[tuple[int, str]]:
    with IPRoute() as ipr:
        out = []
        for link in ipr.get_links():
            name = link.get_attr("IFLA_IFNAME")
            if name.startswith(f"{prefix}-") or name.startswith(f"{prefix}t"):
                out.append((link["index"], name))
        return out


def _ns_pids(ns: str) -> list[int]:
    proc = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
    return [int(p) for p in proc.stdout.split()]


def _stop(pids: list[int], grace_seconds: float = 3.0) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if Path(f"/proc/{p}").exists() and not _zombie(p)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def down(prefix: str) -> list[str]:
    """Remove everything of the run `prefix`; returns what was removed (empty when clean)."""
    removed: list[str] = []
    path = state_path(prefix)
    if path.exists():
        state = json.loads(path.read_text(encoding="utf-8"))
        recorded = [int(p) for p, st in state.get("pids", []) if st and _start_time(p) == st]
        _stop(recorded)
        removed += [f"process {p}" for p in recorded]
    namespaces = existing(prefix)
    inside = [p for ns in namespaces for p in _ns_pids(ns)]
    _stop(inside)
    removed += [f"process {p}" for p in inside]
    for ns in namespaces:
        netns.remove(ns)
        removed.append(f"netns {ns}")
    with IPRoute() as ipr:
        for index, name in _root_ifaces(prefix):
            with contextlib.suppress(Exception):
                ipr.link("del", index=index)
                removed.append(f"link {name}")
    path.unlink(missing_ok=True)
    return removed


def status(prefix: str) -> dict[str, object]:
    namespaces = existing(prefix)
    return {
        "prefix": prefix,
        "namespaces": namespaces,
        "root_interfaces": [n for _, n in _root_ifaces(prefix)],
        "processes": {ns: _ns_pids(ns) for ns in namespaces},
        "state_file": str(state_path(prefix)) if state_path(prefix).exists() else None,
    }
