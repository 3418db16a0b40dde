"""The two images, built as `make images` builds them (podman, offline, on a Debian base made by
mmdebstrap) and run the way the Helm chart runs them: every flag below is read off the chart's
rendered DaemonSet and Deployment (user, capabilities, read-only root, no privilege escalation,
host networking, the settings files from its ConfigMap, the store volume).

"Host networking" here is the host network of a node made of a network namespace: podman runs
inside the namespace (`nsenter --net`) with `--network host`, so the container shares it as a
DaemonSet pod shares its node's. No Kubernetes runs here; the image, its flags and its settings
are what a kubelet would be given.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import livestack as ls
from tests.agent import test_kernel_ioam as chain
from tests.agentproc import Agent, Background
from tests.conftest import need_binary
from tests.http_fixture import request
from tests.helmchart import containers, documents, one, settings_of
from tests.netns import inside, namespaces

pytestmark = [pytest.mark.netns, pytest.mark.slow]
PODMAN = ["podman", "--runtime", "runc"]
ULIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]
HEAVY = ("numpy", "pandas", "scipy", "fastapi", "pysnmp", "kubernetes", "matplotlib", "scapy")


SECCOMP = Path("/usr/share/containers/seccomp.json")


def runtime_default_seccomp(where: Path) -> Path:
    """podman's default seccomp profile as current RuntimeDefault profiles have it (moby's and
    containerd's): `bpf` allowed with CAP_BPF and `perf_event_open` with CAP_PERFMON, not only
    with CAP_SYS_ADMIN as in Debian 12's containers-common 0.50."""
    profile = json.loads(SECCOMP.read_text())
    own = {"bpf": "CAP_BPF", "perf_event_open": "CAP_PERFMON"}
    rules = []
    for rule in profile["syscalls"]:
        names = [n for n in rule["names"] if n not in own]
        if len(names) < len(rule["names"]) and rule.get("includes", {}).get("caps") == [
            "CAP_SYS_ADMIN"
        ]:
            for name, cap in own.items():
                rules.append({**rule, "names": [name]})
                rules.append({**rule, "names": [name], "includes": {"caps": [cap]}})
        elif len(names) < len(rule["names"]) and rule.get("excludes", {}).get("caps") == [
            "CAP_SYS_ADMIN"
        ]:
            for name, cap in own.items():
                rules.append(
                    {**rule, "names": [name], "excludes": {"caps": ["CAP_SYS_ADMIN", cap]}}
                )
        if names:
            rules.append({**rule, "names": names})
    profile["syscalls"] = rules
    path = where / "seccomp-runtime-default.json"
    path.write_text(json.dumps(profile))
    return path


def chart_flags(doc: dict[str, Any], files: dict[str, Path], volume: str = "") -> list[str]:
    """podman flags for the workload's pod as the chart renders it."""
    pod = doc["spec"]["template"]["spec"]
    (c,) = containers(doc)
    sc, psc = c["securityContext"], pod.get("securityContext", {})
    user = sc.get("runAsUser", psc.get("runAsUser"))
    group = sc.get("runAsGroup", psc.get("runAsGroup", user))
    flags = ["--user", f"{user}:{group}"]
    flags += [f"--cap-drop={cap}" for cap in sc["capabilities"]["drop"]]
    flags += [f"--cap-add={cap}" for cap in sc["capabilities"].get("add", [])]
    if sc.get("readOnlyRootFilesystem"):
        flags += ["--read-only", "--read-only-tmpfs=false"]  # only what the pod mounts
    if sc.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
    assert seccomp == "RuntimeDefault"
    flags += ["--security-opt", f"seccomp={runtime_default_seccomp(files_dir(files))}"]
    assert pod.get("hostNetwork") or doc["kind"] == "Deployment"
    flags += ["--network", "host"]  # the attributor too: the namespace is its pod network
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in c["volumeMounts"]:
        source = volumes[mount["name"]]
        if "emptyDir" in source:
            flags += ["--tmpfs", mount["mountPath"]]
        elif "configMap" in source:
            flags += ["-v", f"{files[mount['subPath']]}:{mount['mountPath']}:ro"]
        elif "persistentVolumeClaim" in source:
            flags += ["-v", f"{volume}:{mount['mountPath']}"]
    for env in c.get("env", []):
        flags += ["--env", f"{env['name']}={env.get('value', 'node-1')}"]
    return flags


def files_dir(files: dict[str, Path]) -> Path:
    return next(iter(files.values())).parent


class Container(Background):
    """`podman run` of one image inside network namespace `ns`, removed when stopped."""

    def __init__(self, ns: str, image: str, flags: list[str], args: list[str]) -> None:
        self.name = f"e2e-test-{uuid.uuid4().hex[:10]}"
        super().__init__(
            ["nsenter", f"--net=/run/netns/{ns}", *PODMAN, "run", "--rm", "--name", self.name,
             *ULIMITS, *flags, image, *args]
        )  # fmt: skip

    def stop(self, timeout: float = 15.0) -> int:
        subprocess.run([*PODMAN, "stop", "-t", "10", self.name], capture_output=True)
        # `podman run` returns the container's status once it has seen it stop
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)
        rc = super().stop(timeout)
        subprocess.run([*PODMAN, "rm", "-f", self.name], capture_output=True)
        return rc


def run_once(
    image: str, *args: str, entrypoint: str | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = [*PODMAN, "run", "--rm", *ULIMITS, "--network", "none", "--read-only"]
    if entrypoint:
        cmd += ["--entrypoint", entrypoint]
    return subprocess.run([*cmd, image, *args], capture_output=True, text=True, timeout=120)


def test_agent_image_holds_the_core_only(built_images: dict[str, str]) -> None:
    agent = built_images["agent"]
    probe = (
        "import importlib.util as u, os; "
        f"print(os.getuid(), [m for m in {HEAVY!r} if u.find_spec(m)])"
    )
    out = run_once(agent, "-c", probe, entrypoint="/opt/e2e-energy/bin/python")
    assert out.stdout.split(maxsplit=1) == ["65532", "[]\n"], out.stderr
    refused = run_once(agent, "replay", "--inputs", "x", "--config", "y")
    assert refused.returncode == 1 and "needs the `attributor` extra" in refused.stderr
    attributor = run_once(
        built_images["attributor"], "-c", probe, entrypoint="/opt/e2e-energy/bin/python"
    )
    assert attributor.stdout.startswith("65532 ['numpy', 'pandas', 'fastapi', 'pysnmp'")


def agent_values(port: int, namespaces_: list[int], engine: str = "auto") -> dict[str, Any]:
    return {
        "agent": {
            "engine": engine,
            "interfaces": [{"name": "up0", "direction": "uplink"}],
            "traceIds": [{"namespace_id": n, "carrier": "namespace"} for n in namespaces_],
            "port": port,
            "bindAddress": "127.0.0.1",
        }
    }


def scrape(ns: str, url: str) -> str:
    with inside(ns), urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


@pytest.mark.parametrize("engine", ["ebpf", "afpacket"])
def test_agent_image_counts_the_kernel_chain_as_the_checkout(
    engine: str, built_images: dict[str, str], tmp_path: Path
) -> None:
    """The image's agent with the chart's capabilities for `engine` (and nothing else), then the
    checkout's AF_PACKET agent, each counting the same traffic sent through the kernel chain."""
    need_binary("ethtool")
    docs = documents(agent_values(9471, list(chain.APPS), engine))
    settings = tmp_path / "agent.yaml"
    settings.write_text(yaml.safe_dump(settings_of(docs, "agent.yaml")))
    daemonset = one(docs, "DaemonSet")
    flags = chart_flags(daemonset, {"agent.yaml": settings})
    added = [f for f in flags if f.startswith("--cap-add=")]
    assert added and "--user" in flags
    args = containers(daemonset)[0]["args"]
    tags = ["snd", "r1", "r2", "r3", "rcv"]
    counted: dict[str, str] = {}
    with namespaces(*tags) as ns_list:
        names = dict(zip(tags, ns_list, strict=True))
        chain.build_chain(names)
        rcv = names["rcv"]
        # without the capabilities the chart adds, the engine cannot start (the flags matter)
        bare = [f for f in flags if f not in added]
        denied = Container(rcv, built_images["agent"], bare, args)
        assert denied.proc.wait(60) == 1, "".join(denied.err)
        denied.stop()
        image = Container(rcv, built_images["agent"], flags, args)
        try:
            image.wait_for(r"listening on http://127\.0\.0\.1:9471/metrics", timeout=60)
            sent = chain.send(names["snd"], {100: 700, 200: 300, 300: 400})
            time.sleep(1.0)  # blocks retire after 50 ms, tallies flush every 250 ms
            counted["image"] = scrape(rcv, "http://127.0.0.1:9471/metrics")
        finally:
            assert image.stop() == 0, "".join(image.err)
        checkout = Agent(rcv, "--config", str(settings), "--engine", "afpacket")
        try:
            again = chain.send(names["snd"], {100: 700, 200: 300, 300: 400})
            time.sleep(1.0)
            counted["checkout"] = checkout.scrape()
        finally:
            checkout.stop()
    assert again == sent  # the same traffic twice
    expected: Counter[tuple[int, int, str]] = Counter()
    for app, nodes in ((100, (11, 12, 13)), (200, (11, 12)), (300, (11, 12, 13))):
        for node in nodes:
            expected[(app, node, "packets")] = sent[app][0]
            expected[(app, node, "bytes")] = sent[app][1]
    assert chain.agent_counts(counted["image"]) == expected
    assert chain.agent_counts(counted["checkout"]) == expected
    assert chain.results(counted["image"]) == chain.results(counted["checkout"])
    assert f'e2e_energy_agent_info{{engine="{engine}"' in counted["image"]
    assert 'k8s_node="node-1"' in counted["image"]  # NODE_NAME from the pod's fieldRef


def http(ns: str, url: str, data: bytes | None = None) -> tuple[int, bytes]:
    with inside(ns):
        return request(url, data)


def total(text: str, metric: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(metric + "{")
    )


@contextmanager
def volume() -> Iterator[str]:
    name = f"e2e-test-store-{uuid.uuid4().hex[:10]}"
    subprocess.run([*PODMAN, "volume", "create", name], check=True, capture_output=True)
    try:
        yield name
    finally:
        subprocess.run([*PODMAN, "volume", "rm", "-f", name], capture_output=True)


def wait_for_metric(ns: str, url: str, metric: str, proc: Background, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.proc.poll() is None, f"exited {proc.proc.returncode}: {''.join(proc.err)}"
        try:
            status, body = http(ns, url)
            if status == 200 and total(body.decode(), metric) > 0:
                return body.decode()
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{metric} not > 0 at {url} within {timeout} s: {''.join(proc.err)}")


def test_attributor_image_serves_and_resumes_from_its_volume(
    built_images: dict[str, str], tmp_path: Path
) -> None:
    """Agent and attributor images together on the live stack of tests/livestack.py; the
    attributor as UID 65532 with a read-only root and its store on a volume. Removed and started
    again on the same volume, its totals carry on from the store."""
    need_binary("ethtool")
    agent_file, attributor_file = ls.chart_settings(tmp_path)
    values = yaml.safe_load(agent_file.read_text())  # the stack's agent settings, for the flags
    docs = documents(agent_values(ls.PORTS["agent"], list(ls.APPS.values())))
    deployment = one(documents({"attributor": {"port": ls.PORTS["attributor"]}}), "Deployment")
    settings = yaml.safe_load(attributor_file.read_text())
    settings["store"]["path"] = "/var/lib/e2e-energy/store.sqlite"  # the chart's, on the volume
    # the stack's placement dataset, mounted read-only as an operator mounts one (values.yaml:
    # `config.placement.config` must exist in the container)
    dataset = Path(settings["placement"]["config"])
    settings["placement"]["config"] = "/etc/e2e-energy/placement/placement.yaml"
    attributor_file.write_text(yaml.safe_dump(settings))
    assert values["agent"]["listen"].endswith(f":{ls.PORTS['agent']}")
    base = f"http://127.0.0.1:{ls.PORTS['attributor']}"
    tags = ["snd", *[r for r, _, _ in ls.ROUTERS], "rcv"]
    procs: list[Background] = []
    with namespaces(*tags) as ns_list, volume() as store:
        names = dict(zip(tags, ns_list, strict=True))
        rcv = names["rcv"]
        ls.build_chain(names)
        sources = ls.Sources()
        server = ls.Sources.serve(sources, rcv)
        daemonset = one(docs, "DaemonSet")
        a_flags = chart_flags(daemonset, {"agent.yaml": agent_file})
        t_flags = chart_flags(deployment, {"attributor.yaml": attributor_file}, store)
        t_flags += ["-v", f"{dataset}:{settings['placement']['config']}:ro"]
        t_args = containers(deployment)[0]["args"]
        assert "--user" in t_flags and t_flags[t_flags.index("--user") + 1] == "65532:65532"
        try:
            procs.append(
                Container(rcv, built_images["agent"], a_flags, containers(daemonset)[0]["args"])
            )
            procs[-1].wait_for(r"listening on", timeout=60)
            procs.append(Container(rcv, built_images["attributor"], t_flags, t_args))
            with ls.traffic(names["snd"], sources):
                wait_for_metric(rcv, f"{base}/metrics", "e2e_energy_app_joules_total", procs[-1])
                time.sleep(10)  # several windows of 2 s into the store
                assert http(rcv, f"{base}/healthz")[0] == 200
                assert http(rcv, f"{base}/readyz")[0] == 200
                status, apps = http(rcv, f"{base}/v1/apps")
                assert status == 200
                assert {a["app"] for a in json.loads(apps)["items"]} >= set(ls.APPS)
                status, dataset = http(rcv, f"{base}/v1/placement/dataset")
                assert status == 200 and len(json.loads(dataset)["regions"]) >= 8
                status, solved = http(rcv, f"{base}/v1/placement/solve", data=b"")
                assert status == 200 and json.loads(solved)["classes"]
                before = http(rcv, f"{base}/metrics")[1].decode()
                assert procs[-1].stop() in (0, 143), "".join(procs[-1].err)
                again = Container(rcv, built_images["attributor"], t_flags, t_args)
                procs.append(again)
                after = wait_for_metric(rcv, f"{base}/metrics", "e2e_energy_nf_joules_total", again)
        finally:
            for p in reversed(procs):
                p.stop()
            server.shutdown()
            server.server_close()
        owner = subprocess.run(
            [*PODMAN, "volume", "inspect", "--format", "{{.Mountpoint}}", store],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert Path(owner, "store.sqlite").stat().st_uid == 65532
    for metric in ("e2e_energy_nf_joules_total", "e2e_energy_app_joules_total"):
        first, resumed = total(before, metric), total(after, metric)
        # a fresh store would start near zero: 10 s of windows lie behind `first`
        assert first > 0 and resumed >= first, (metric, first, resumed)
