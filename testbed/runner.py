"""Bring the whole testbed to life: chain, GTP-U data plane, model server, power daemon, snmpd.

`Testbed` is a context manager: on exit (also on an exception or Ctrl-C) it stops every process
it started, by pid, and removes the chain. Root-namespace pids are recorded in the state file, so
`e2e-energy testbed down` cleans up after a crash as well.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from collector.settings import REVEAL_SECRETS
from testbed import netns
from testbed.plan import Plan, make_plan
from testbed.settings import TestbedApp, TestbedFile

HERE = Path(__file__).resolve().parent
SERVER_METRICS_PORT = 8000
AGENT_PORT = 9470


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, timeout_seconds: float, proc: subprocess.Popen[bytes] | None = None) -> str:
    deadline = time.monotonic() + timeout_seconds
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the process serving it exited ({proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                text: str = r.read().decode()
                return text
        except OSError as exc:
            last = str(exc)
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout_seconds:.0f} s: {last}")


class Testbed:
    def __init__(self, settings: TestbedFile, run_dir: Path, prefix: str | None = None) -> None:
        self.settings = settings
        self.tb = settings.testbed
        self.plan: Plan = make_plan(self.tb, prefix)
        self.run_dir = run_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.pids: dict[str, list[int]] = {}
        self.kepler_port = 0
        self.snmp_port = 0
        self.api_port = 0
        self.env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", MIBS="")
        self.env["MIBDIRS"] = "/nonexistent"

    # --- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> Testbed:
        self.start()
        return self

    def start(self, *, wait_for_server: bool = True) -> None:
        """Build the chain and start the long-running processes (stops all again on failure).
        The model server loads its models meanwhile; without `wait_for_server` the caller
        calls wait_for_server() itself once it has started what else it needs."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            netns.up(self.tb, self.plan)
            self._start_gtpu()
            self._start_server()
            self._start_power()
            if wait_for_server:
                self.wait_for_server()
        except BaseException:
            self.close()
            raise

    def wait_for_server(self) -> None:
        """Until the model server answers on /metrics (it has loaded its models)."""
        try:
            wait_http(self.server_metrics_url, 180, self.procs["server"])
        except BaseException:
            self.close()
            raise

    def endpoints(self) -> dict[str, str]:
        return {
            "kepler": f"http://127.0.0.1:{self.kepler_port}/metrics",
            "snmp": f"udp:127.0.0.1:{self.snmp_port} community {self.tb.power.snmp_community}",
            "requests": self.server_metrics_url,
            "inference_server": f"[{self.server_address}] ports "
            + ", ".join(f"{a.app}:{a.port}" for a in self.tb.apps),
        }

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 5
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        netns.down(self.plan.prefix)

    # --- processes -----------------------------------------------------------------------------

    def spawn(self, name: str, args: list[str], node: str | None = None) -> subprocess.Popen[bytes]:
        """Start a process (in `node`s namespace when given); output to run_dir/name.log."""
        cmd = ["ip", "netns", "exec", self.plan.ns(node), *args] if node else args
        log = open(self.run_dir / f"{name}.log", "wb")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.run_dir,
            start_new_session=True,
        )
        log.close()
        self.procs[name] = proc
        if node is None:
            netns.record_pid(self.plan.prefix, proc.pid)
        return proc

    def _py(self, module: str, *args: str) -> list[str]:
        return [sys.executable, "-m", module, *args]

    def _start_gtpu(self) -> None:
        if self.plan.gtpu_nodes is None:
            return
        cu, upf = self.plan.gtpu_nodes
        g = self.tb.gtpu
        for node, peer, tx, rx in (
            (cu, upf, g.uplink_teid, g.downlink_teid),
            (upf, cu, g.downlink_teid, g.uplink_teid),
        ):
            proc = self.spawn(
                f"gtpu-{node}",
                self._py(
                    "testbed.gtpu",
                    "--local",
                    self.plan.address(node, peer),
                    "--peer",
                    self.plan.address(peer, node),
                    "--port",
                    str(g.port),
                    "--tx-teid",
                    str(tx),
                    "--rx-teid",
                    str(rx),
                    "--stats",
                    str(self.run_dir / f"gtpu-{node}.json"),
                ),
                node,
            )
            self.pids[node] = [proc.pid]

    @property
    def server_node(self) -> str:
        return next(n.name for n in self.tb.nodes if n.role == "inference")

    @property
    def ue_node(self) -> str:
        return self.tb.nodes[0].name

    @property
    def server_address(self) -> str:
        return self.plan.iface(self.server_node, self.tb.nodes[-2].name).address

    @property
    def server_metrics_url(self) -> str:
        return f"http://[{self.plan.mgmt_address(self.server_node)}]:{SERVER_METRICS_PORT}/metrics"

    def _start_server(self) -> None:
        node = self.server_node
        args = [f"{a.app}:{a.port}:{a.namespace_id}" for a in self.tb.apps]
        models = self.tb.models
        proc = self.spawn(
            "server",
            self._py(
                "testbed.server",
                *[x for a in args for x in ("--app", a)],
                "--model",
                models.large,
                "--model",
                models.small,
                "--workers",
                str(models.workers),
                "--metrics",
                f"[{self.plan.mgmt_address(node)}]:{SERVER_METRICS_PORT}",
                "--slots",
                str(self.tb.trace_slots),
                "--datagram-bytes",
                str(self.tb.datagram_bytes),
                "--stats",
                str(self.run_dir / "server.json"),
            ),
            node,
        )
        self.pids[node] = [proc.pid]

    def _start_power(self) -> None:
        self.write_settings()
        (self.run_dir / "pids.json").write_text(json.dumps(self.pids), encoding="utf-8")
        snmp_json = self.run_dir / "outlets.json"
        port_file = self.run_dir / "kepler.port"
        port_file.unlink(missing_ok=True)
        proc = self.spawn(
            "powerd",
            self._py(
                "testbed.powerd",
                "--config",
                str(self.run_dir / "topology.yaml"),
                "--prefix",
                self.plan.prefix,
                "--snmp-json",
                str(snmp_json),
                "--pids-file",
                str(self.run_dir / "pids.json"),
                "--port-file",
                str(port_file),
            ),
        )
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"power daemon failed: see {self.run_dir / 'powerd.log'}")
            time.sleep(0.1)
        self.kepler_port = int(port_file.read_text())
        self._start_snmpd(snmp_json)
        self.write_settings()

    def _start_snmpd(self, snmp_json: Path) -> None:
        self.snmp_port = free_port(socket.SOCK_DGRAM)
        conf = self.run_dir / "snmpd.conf"
        helper = HERE / "snmp_pass.py"
        conf.write_text(
            f"agentAddress udp:127.0.0.1:{self.snmp_port}\n"
            f"rocommunity {self.tb.power.snmp_community} 127.0.0.1\n"
            f"pass_persist .1.3.6.1.4.1.318.1.1.26.9.4.3 {sys.executable} {helper} {snmp_json}\n",
            encoding="utf-8",
        )
        persist = self.run_dir / "snmp-persist"
        persist.mkdir(exist_ok=True)
        self.env["SNMP_PERSISTENT_DIR"] = str(persist)
        self.spawn(
            "snmpd",
            [
                "snmpd",
                "-f",
                "-C",
                "-c",
                str(conf),
                "-Lf",
                str(self.run_dir / "snmpd-own.log"),
                "-p",
                str(self.run_dir / "snmpd.pid"),
            ],
        )

    # --- derived settings ----------------------------------------------------------------------

    def runtime_settings(self) -> dict[str, Any]:
        """The topology with this run's addresses and ports filled in."""
        data: dict[str, Any] = self.settings.model_dump(
            mode="json", exclude_none=True, context={REVEAL_SECRETS: True}
        )
        for src in data["sources"]:
            if src["kind"] == "kepler":
                src["url"] = f"http://127.0.0.1:{self.kepler_port}/metrics"
            elif src["kind"] == "snmp":
                src["address"] = f"127.0.0.1:{self.snmp_port}"
            elif src["kind"] == "prometheus_counter":
                src["url"] = self.server_metrics_url
        data["agents"]["urls"] = [self.agent_url(n) for n in self.tb.agent_nodes]
        data["testbed"]["prefix"] = self.plan.prefix
        data["store"]["path"] = str(self.run_dir / "store.sqlite")
        if self.api_port:
            data["api"]["listen"] = f"127.0.0.1:{self.api_port}"
        return data

    def collector_settings(self) -> dict[str, Any]:
        """The runtime settings without the `testbed:` section: what agents and attributor read."""
        data = self.runtime_settings()
        del data["testbed"]
        return data

    def agent_url(self, node: str) -> str:
        return f"http://[{self.plan.mgmt_address(node)}]:{AGENT_PORT}/metrics"

    def agent_settings(self, node: str) -> dict[str, Any]:
        """Settings for the agent capturing in `node`: only that node's collection points."""
        data = self.collector_settings()
        names = {i.name for i in self.plan.ifaces if i.node == node}
        data["agent"]["interfaces"] = [i for i in data["agent"]["interfaces"] if i["name"] in names]
        data["agent"]["listen"] = f"[{self.plan.mgmt_address(node)}]:{AGENT_PORT}"
        data["agent"]["k8s_node"] = node
        return data

    def write_settings(self) -> Path:
        """run_dir/topology.yaml (the whole file, for the power daemon and the report) and
        run_dir/collector.yaml (for the attributor); returns the latter."""
        for name, data in (
            ("topology.yaml", self.runtime_settings()),
            ("collector.yaml", self.collector_settings()),
        ):
            text = yaml.safe_dump(data, sort_keys=False)
            (self.run_dir / name).write_text(text, encoding="utf-8")
        return self.run_dir / "collector.yaml"

    # --- traffic -------------------------------------------------------------------------------

    def start_app(
        self,
        app: TestbedApp,
        duration: float,
        *,
        rate: float | None = None,
        payload_bytes: int | None = None,
        texts: int | None = None,
        words: int | None = None,
        model: str | None = None,
        start_at: float | None = None,
        stop_at: float | None = None,
    ) -> subprocess.Popen[bytes]:
        """The app sends for `duration` s (from `start_at`, a Unix time, when given), then waits
        for late answers (at most until `stop_at` when given)."""
        return self.spawn(
            f"app-{app.app}",
            self._py(
                "testbed.apps",
                "--app",
                app.app,
                "--server",
                self.server_address,
                "--port",
                str(app.port),
                "--namespace-id",
                str(app.namespace_id),
                "--rate",
                str(rate or app.rate_per_second),
                "--duration",
                str(duration),
                "--payload-bytes",
                str(app.payload_bytes if payload_bytes is None else payload_bytes),
                "--words",
                str(words or app.prompt_words),
                "--texts",
                str(texts or app.texts),
                "--model",
                model or self.tb.models.large,
                "--start-at",
                str(start_at or 0.0),
                "--stop-at",
                str(stop_at or 0.0),
                "--slots",
                str(self.tb.trace_slots),
                "--datagram-bytes",
                str(self.tb.datagram_bytes),
                "--stats",
                str(self.run_dir / f"app-{app.app}.json"),
            ),
            self.ue_node,
        )

    def start_capture(self, name: str, node: str, iface: str) -> Path:
        """dumpcap on `iface` inside `node`; returns the pcap path once capturing has begun."""
        path = self.run_dir / f"{name}.pcap"
        path.unlink(missing_ok=True)
        proc = self.spawn(f"capture-{name}", ["dumpcap", "-q", "-i", iface, "-w", str(path)], node)
        deadline = time.monotonic() + 20
        while not (path.exists() and path.stat().st_size > 0):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dumpcap on {node}/{iface} did not start; see capture log")
            time.sleep(0.1)
        time.sleep(0.5)
        return path

    def stop(self, name: str) -> None:
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def app_stats(self, app: str) -> dict[str, Any]:
        stats: dict[str, Any] = json.loads((self.run_dir / f"app-{app}.json").read_text())
        return stats
