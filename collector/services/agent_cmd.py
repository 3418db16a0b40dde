"""`e2e-energy agent`: count IOAM traffic live on collection interfaces, or replay a capture."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from typing import Any

import click
from prometheus_client import CollectorRegistry, generate_latest, make_wsgi_app

from collector.agent.ebpf import run_ebpf
from collector.agent.engine import Choice, choose
from collector.agent.live import CollectionPoint, run_single, run_workers
from collector.agent.metrics import AgentCollector
from collector.agent.replay import replay
from collector.agent.ring import CaptureError, check_capture
from collector.agent.state import AgentState
from collector.ioam.pcapfile import PcapError
from collector.outputs.web import serve_wsgi
from collector.settings import AgentSettings, SettingsError, WebSettings, load_settings

DIRECTIONS = ("uplink", "downlink")
ENGINES = ("auto", "ebpf", "afpacket")


def parse_point(text: str) -> CollectionPoint:
    """`IF[:DIRECTION]`, direction uplink by default."""
    name, _, direction = text.partition(":")
    direction = direction or "uplink"
    if not name or direction not in DIRECTIONS:
        raise click.BadParameter(f"{text!r}: expected IF or IF:uplink or IF:downlink")
    return CollectionPoint(name, direction)


def parse_listen(text: str) -> tuple[str, int]:
    """`ADDR:PORT` or `[IPv6]:PORT`."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise click.BadParameter(f"{text!r}: expected ADDR:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def k8s_node_name(settings: AgentSettings) -> str:
    return settings.k8s_node or os.environ.get("NODE_NAME") or socket.gethostname()


def _registry(state: AgentState, settings: AgentSettings, interfaces: list[str]) -> Any:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        AgentCollector(state.snapshot, k8s_node=k8s_node_name(settings), interfaces=interfaces)
    )
    return registry


@click.command(name="agent")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="Settings file.")
@click.option(
    "--interface",
    "interfaces",
    multiple=True,
    metavar="IF[:DIRECTION]",
    help="Collection interface (repeatable); replaces agent.interfaces.",
)
@click.option("--listen", metavar="ADDR:PORT", help="Where /metrics is served (default :9470).")
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    help="Capture engine (default agent.engine, auto): ebpf counts in the kernel, afpacket in "
    "Python; auto takes eBPF when it loads and attaches.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="AF_PACKET only: capture processes (PACKET_FANOUT).",
)
@click.option(
    "--sample", type=click.IntRange(1), help="AF_PACKET only: count 1 packet in N and scale by N."
)
@click.option("--pcap", type=click.Path(dir_okay=False), help="Replay this pcap/pcapng file.")
@click.option("--once", is_flag=True, help="With --pcap: count the file, print /metrics, exit.")
@click.option(
    "--every",
    type=click.FloatRange(min=0.01),
    help="With --pcap: serve /metrics and count the file again every EVERY seconds, as if the "
    "capture repeated (a stand-in agent for tests and soaks; needs no capture rights).",
)
@click.option("--direction", type=click.Choice(DIRECTIONS), help="Direction of a --pcap file.")
def agent(
    config: str | None,
    interfaces: tuple[str, ...],
    listen: str | None,
    engine: str | None,
    workers: int | None,
    sample: int | None,
    pcap: str | None,
    once: bool,
    every: float | None,
    direction: str | None,
) -> None:
    """Capture IOAM traffic and count it per application (TraceID) and network node (NodeID).

    The eBPF engine needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (Linux 5.11 or later); the
    AF_PACKET engine needs CAP_NET_RAW (CAP_NET_ADMIN too with agent.promiscuous).
    """
    try:
        loaded = load_settings(config) if config else None
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    settings = loaded.agent if loaded is not None else AgentSettings()
    web = loaded.web if loaded is not None else WebSettings()
    overrides: dict[str, Any] = {}
    if engine is not None:
        overrides["engine"] = engine
    if workers is not None:
        overrides["workers"] = workers
    if sample is not None:
        overrides["sample"] = sample
    if listen is not None:
        parse_listen(listen)
        overrides["listen"] = listen
    settings = settings.model_copy(update=overrides)
    points = [parse_point(i) for i in interfaces] or [
        CollectionPoint(i.name, i.direction) for i in settings.interfaces
    ]
    if once and pcap is None:
        raise click.UsageError("--once needs --pcap FILE")
    if every is not None and (pcap is None or once):
        raise click.UsageError("--every needs --pcap FILE, and replays it without --once")
    if pcap is not None:
        default = points[0].direction if points else "uplink"
        if every is not None:
            _replay_serve(pcap, settings, web, direction or default, every)
        else:
            _replay(pcap, settings, direction or default)
        return
    if not points:
        raise click.UsageError("no collection interface: give --interface or agent.interfaces")
    _live(points, settings, web)


def _replay(path: str, settings: AgentSettings, direction: str) -> None:
    try:
        state, stats = replay(path, settings, direction)
    except (PcapError, OSError) as exc:
        raise click.ClickException(f"cannot replay {path}: {exc}") from None
    sys.stdout.write(generate_latest(_registry(state, settings, [])).decode())
    click.echo(
        f"{path}: {stats.frames} frames, {stats.filtered_out} filtered out, "
        f"{stats.outgoing} outgoing skipped, {stats.unsupported_linktype} of unknown link type",
        err=True,
    )


def _replay_serve(
    path: str, settings: AgentSettings, web: WebSettings, direction: str, every: float
) -> None:
    """Count the capture every `every` seconds into one state while serving /metrics."""
    state = AgentState(settings)
    state.set_engine("pcap", f"replaying {path} every {every:g} s")
    try:
        replay(path, settings, direction, state)
        host, port = parse_listen(settings.listen)
        server, _thread = serve_wsgi(make_wsgi_app(_registry(state, settings, [])), host, port, web)
    except (PcapError, OSError, SettingsError) as exc:
        raise click.ClickException(f"cannot replay {path}: {exc}") from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    scheme = "https" if web.tls is not None else "http"
    bound = f"{server.server_address[0]!s}:{server.server_address[1]}"
    click.echo(f"e2e-energy agent: listening on {scheme}://{bound}/metrics, replaying {path}",
               err=True)  # fmt: skip
    try:
        while not stop.wait(every):
            replay(path, settings, direction, state)
    finally:
        server.shutdown()
        server.server_close()


def _live(points: list[CollectionPoint], settings: AgentSettings, web: WebSettings) -> None:
    logging.basicConfig(format="e2e-energy agent: %(message)s", level=logging.INFO)
    choice = _choose_engine(points, settings)
    if choice.ebpf is not None:
        settings = settings.model_copy(update={"sample": 1, "workers": 1})
    state = AgentState(settings)
    state.set_engine(choice.engine, choice.reason)
    host, port = parse_listen(settings.listen)
    try:
        metrics = make_wsgi_app(_registry(state, settings, [p.interface for p in points]))
        server, _thread = serve_wsgi(metrics, host, port, web)
    except (OSError, SettingsError) as exc:
        if choice.ebpf is not None:
            choice.ebpf.close()
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise click.ClickException(f"cannot listen on {settings.listen}: {why}") from None
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    scheme = "https" if web.tls is not None else "http"
    names = ", ".join(f"{p.interface}:{p.direction}" for p in points)
    how = (
        "the eBPF engine"
        if choice.ebpf is not None
        else f"the AF_PACKET engine, {settings.workers} worker(s)"
    )

    def announce() -> None:
        click.echo(
            f"e2e-energy agent: listening on {scheme}://{bound_host}:{bound_port}/metrics, "
            f"capturing on {names} with {how}",
            err=True,
        )
        click.echo(f"e2e-energy agent: engine {choice.engine} ({choice.detail})", err=True)

    try:
        if choice.ebpf is not None:
            run_ebpf(choice.ebpf, state, stop.is_set, announce)
        else:
            run = run_single if settings.workers == 1 else run_workers
            run(points, settings, state, stop.is_set, announce)
    except CaptureError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        server.shutdown()
        server.server_close()
    click.echo("e2e-energy agent: stopped", err=True)


def _choose_engine(points: list[CollectionPoint], settings: AgentSettings) -> Choice:
    """The engine, started; a clear error when the asked-for engine cannot run."""
    try:
        choice = choose(settings.engine, [(p.interface, p.direction) for p in points], settings)
        if choice.ebpf is None:
            for point in points:
                check_capture(point.interface)
    except CaptureError as exc:
        raise click.ClickException(str(exc)) from None
    if choice.ebpf is not None and (settings.sample > 1 or settings.workers > 1):
        logging.warning("--sample and --workers apply to the AF_PACKET engine only: ignored")
    return choice
