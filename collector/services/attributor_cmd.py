"""`e2e-energy attributor`: the live attributor (metrics, API and store on one port).

Two processes: this one validates the settings and serves the API, /metrics, TLS and the
placement advisor; a child started by collector.attribution.worker does the ticks (poll, map,
ingest, compute, store writes), so that neither waits on the other's GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from collector.attribution.live import poll_interval
from collector.attribution.records import RecordError
from collector.attribution.replay import load_records_file
from collector.attribution.worker import TickProcess, WorkerArgs, freeze_start_up
from collector.placement.inputs import PlacementInputError
from collector.placement.schedule import Advisor, store_advisor
from collector.settings import Settings, SettingsError, load_settings, read_secret
from collector.store import Store, StoreError

if TYPE_CHECKING:
    import uvicorn

    from collector.outputs.web import ServerTls

STOP_GRACE_SECONDS = 10.0
"""How long the tick process may take to finish its tick and close the store when told to stop."""


def _host_port(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    try:
        return host.strip("[]") or "0.0.0.0", int(port)
    except ValueError:
        raise click.ClickException(f"listen address {listen!r} is not HOST:PORT") from None


def build_advisor(store: Path, settings: Settings, tick: TickProcess) -> Advisor | None:
    """The scheduled placement advisor over the store, fed the carbon service's latest
    intensities (as the tick process last reported them); None without a `placement` section."""
    if settings.placement is None:
        return None
    try:
        return store_advisor(
            store, settings.placement, intensities=lambda: list(tick.latest.intensities)
        )
    except PlacementInputError as exc:
        raise click.ClickException(str(exc)) from None


def _validate(settings: Settings, inputs: Path | None, store: Path, record: Path | None) -> None:
    """Everything the tick process will open, checked here so that a mistake is a clear error
    of this command (the child would only be able to die with it)."""
    if inputs is not None:
        from collector.attribution import topology_from_settings

        try:
            load_records_file(inputs, topology_from_settings(settings))
        except RecordError as exc:
            raise click.ClickException(str(exc)) from None
    try:
        Store(store, writer=True, retention_seconds=settings.store.retention_days * 86_400).close()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    if record is not None:
        try:
            record.open("a", encoding="utf-8").close()
        except OSError as exc:
            raise click.ClickException(f"--record {record}: {exc.strerror}") from None


def build_server(settings: Settings, listen: str, store: Path, tick: TickProcess,
            advisor: Advisor | None) -> tuple[Any, Store, ServerTls | None]:  # fmt: skip
    from collector.outputs.advice_metrics import AdviceCollector
    from collector.outputs.api import create_app
    from collector.outputs.exporter import SnapshotCollector, make_registry
    from collector.outputs.web import Authenticator, AuthMiddleware, ServerTls

    try:
        tls = ServerTls(settings.web.tls) if settings.web.tls is not None else None
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    token = read_secret(settings.api.token, settings.api.token_file, "api.token_file")
    reader = Store(store)
    advice = AdviceCollector(advisor) if advisor is not None else None
    app = create_app(
        reader,
        token=token,
        max_range_seconds=settings.api.max_range_seconds,
        page_size=settings.api.page_size,
        ready=lambda: tick.ready,
        # build_info (a collector with nothing published) and the advice, then the families
        # the tick process rendered itself
        metrics=make_registry(SnapshotCollector(), *([advice] if advice is not None else [])),
        metrics_version=lambda: (tick.reports, advice.version() if advice else None),
        metrics_tail=lambda: tick.latest.exposition,
        advisor=advisor,
    )
    host, port = _host_port(listen)
    auth = Authenticator(settings.web)
    import uvicorn

    server = _server_class()(
        uvicorn.Config(
            AuthMiddleware(app, auth) if auth.enabled else app,
            host=host,
            port=port,
            log_level="warning",
            ssl_context_factory=None if tls is None else (lambda _c, _d: tls.context),
        )
    )
    return server, reader, tls


def _server_class() -> type[uvicorn.Server]:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, except that the signal that stopped it is re-raised by the command
        once the tick process has closed the store, not as soon as the server is down."""

        captured: list[int]

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            self.captured = []
            handled = (signal.SIGINT, signal.SIGTERM)
            originals = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in originals.items():
                    signal.signal(sig, handler)

        def handle_exit(self, sig: int, frame: Any) -> None:
            self.captured.append(sig)
            super().handle_exit(sig, frame)

    return Server


async def _loop(server: Any, tick: TickProcess, advisor: Advisor | None, interval: float,
                tls: ServerTls | None) -> None:  # fmt: skip
    """Announce the address, reload the certificate when it changes, start the advisor's runs
    when due, and stop the server when the tick process ends."""
    loop = asyncio.get_running_loop()

    def ended() -> None:
        with contextlib.suppress(RuntimeError):  # the loop is over: the command is stopping
            loop.call_soon_threadsafe(setattr, server, "should_exit", True)

    tick.start(on_end=ended)
    announced = False
    scheme = "http" if tls is None else "https"
    while not server.should_exit:
        if not announced and server.started:
            sock = server.servers[0].sockets[0].getsockname()
            click.echo(f"attributor listening on {scheme}://{sock[0]}:{sock[1]}", err=True)
            announced = True
        if tls is not None and tls.maybe_reload():
            click.echo("web.tls: certificate reloaded", err=True)
        if advisor is not None:
            advisor.poll()
        await asyncio.sleep(min(interval, 0.5) if not announced else interval)


async def serve(server: Any, tick: TickProcess, advisor: Advisor | None, interval: float,
                 tls: ServerTls | None) -> None:  # fmt: skip
    loop_task = asyncio.create_task(_loop(server, tick, advisor, interval, tls))
    try:
        await server.serve()
    finally:
        loop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop_task


@click.command()
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--record",
    "record",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append every input record (replay format, JSON Lines) to this file.",
)
@click.option(
    "--inputs",
    "inputs",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also feed records from a JSON Lines file, each once the clock reaches its t.",
)
@click.option("--listen", default=None, help="HOST:PORT for /metrics and the API (api.listen).")
@click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite file (store.path).",
)
@click.option(
    "--settle-seconds",
    type=float,
    default=5.0,
    show_default=True,
    help="How long after a window's end to wait for late samples.",
)
def attributor(config: Path, record: Path | None, inputs: Path | None, listen: str | None,
               store_path: Path | None, settle_seconds: float) -> None:  # fmt: skip
    """Run the live attributor: scrape agents and sources, compute windows, serve metrics/API.

    Runs as two processes: this one serves /metrics, the API and the placement advisor; a child
    polls the inputs, computes the windows and writes the store, so that a busy API never
    delays a window and a tick never stalls the API. The child ends with this process; if it
    dies on its own, this one exits non-zero. SIGTERM or Ctrl-C stops both, the store closed.
    """
    try:
        settings = load_settings(config)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    path = store_path or settings.store.path
    _validate(settings, inputs, path, record)
    from collector.outputs.exporter import render_tick_process

    tick = TickProcess(WorkerArgs(config, path, settle_seconds, record, inputs,
                                  render=render_tick_process))  # fmt: skip
    advisor = build_advisor(path, settings, tick)
    server, reader, tls = build_server(settings, listen or settings.api.listen, path, tick, advisor)
    freeze_start_up()  # the serving process's full collections then pause requests less
    try:
        asyncio.run(serve(server, tick, advisor, poll_interval(settings), tls))
    finally:
        died = tick.ended.is_set()  # before it was told to stop
        reader.close()  # first: the writer, closing last, checkpoints and removes the WAL
        tick.stop(STOP_GRACE_SECONDS)
    if died and not server.captured:
        click.echo(f"attributor: the tick process ended ({tick.exit_reason()}); exiting", err=True)
        sys.exit(1)
    for sig in reversed(server.captured):
        signal.raise_signal(sig)  # exit as the signal asks (uvicorn's behaviour)
    sys.exit(0)
