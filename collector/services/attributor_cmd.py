"""`e2e-energy attributor`: the live attributor process (metrics, API and store on one port)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from collector.attribution import Snapshot
from collector.attribution.live import LiveAttributor, poll_interval
from collector.attribution.records import Record, RecordError
from collector.attribution.replay import load_records_file
from collector.outputs.exporter import SnapshotCollector
from collector.placement.inputs import PlacementInputError
from collector.placement.schedule import Advisor, store_advisor
from collector.settings import Settings, SettingsError, load_settings, read_secret
from collector.store import Store, StoreError

if TYPE_CHECKING:
    from collector.outputs.web import ServerTls


def _host_port(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    try:
        return host.strip("[]") or "0.0.0.0", int(port)
    except ValueError:
        raise click.ClickException(f"listen address {listen!r} is not HOST:PORT") from None


def build_advisor(live: LiveAttributor, settings: Settings) -> Advisor | None:
    """The scheduled placement advisor over the live store, fed the carbon service's latest
    intensities; None without a `placement` section."""
    if settings.placement is None:
        return None
    try:
        return store_advisor(
            live.store.path,
            settings.placement,
            clock=live.clock,
            intensities=lambda: list(live.carbon.latest.values()),
        )
    except PlacementInputError as exc:
        raise click.ClickException(str(exc)) from None


async def step(live: LiveAttributor, advisor: Advisor | None) -> list[Snapshot]:
    """One turn of the loop: poll and compute the due windows, then let the advisor start a run
    on its own thread when one is due (it never runs inside this turn)."""
    snaps = await live.tick()
    if advisor is not None:
        advisor.poll()
    return snaps


async def _serve(
    live: LiveAttributor,
    exporter: SnapshotCollector,
    settings: Settings,
    listen: str,
    advisor: Advisor | None,
) -> None:
    import uvicorn

    from collector.outputs.advice_metrics import AdviceCollector
    from collector.outputs.api import create_app
    from collector.outputs.exporter import make_registry
    from collector.outputs.web import Authenticator, AuthMiddleware, ServerTls

    token = read_secret(settings.api.token, settings.api.token_file, "api.token_file")
    reader = Store(live.store.path)
    advice = AdviceCollector(advisor) if advisor is not None else None
    app = create_app(
        reader,
        token=token,
        max_range_seconds=settings.api.max_range_seconds,
        page_size=settings.api.page_size,
        clock=live.clock,
        ready=lambda: live.ready,
        metrics=make_registry(exporter, *([advice] if advice is not None else [])),
        metrics_version=lambda: (exporter.version(), advice.version() if advice else None),
        advisor=advisor,
    )
    host, port = _host_port(listen)
    try:
        tls = ServerTls(settings.web.tls) if settings.web.tls is not None else None
    except SettingsError as exc:
        reader.close()
        raise click.ClickException(str(exc)) from None
    auth = Authenticator(settings.web)
    server = uvicorn.Server(
        uvicorn.Config(
            AuthMiddleware(app, auth) if auth.enabled else app,
            host=host,
            port=port,
            log_level="warning",
            ssl_context_factory=None if tls is None else (lambda _c, _d: tls.context),
        )
    )
    loop_task = asyncio.create_task(_loop(live, advisor, server, poll_interval(settings), tls))
    try:
        await server.serve()
    finally:
        loop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop_task
        reader.close()
        await live.aclose()


async def _loop(
    live: LiveAttributor,
    advisor: Advisor | None,
    server: object,
    interval: float,
    tls: ServerTls | None,
) -> None:
    announced = False
    scheme = "http" if tls is None else "https"
    while not getattr(server, "should_exit", False):
        if not announced and getattr(server, "started", False):
            sock = server.servers[0].sockets[0].getsockname()  # type: ignore[attr-defined]
            click.echo(f"attributor listening on {scheme}://{sock[0]}:{sock[1]}", err=True)
            announced = True
        if tls is not None and tls.maybe_reload():
            click.echo("web.tls: certificate reloaded", err=True)
        try:
            for snap in await step(live, advisor):
                click.echo(f"window {snap.window_start:.0f} computed", err=True)
        except Exception as exc:  # one bad tick must not end the process
            click.echo(f"tick failed: {type(exc).__name__}: {exc}", err=True)
        await asyncio.sleep(interval)


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
    """Run the live attributor: scrape agents and sources, compute windows, serve metrics/API."""
    try:
        settings = load_settings(config)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    replay_inputs: list[Record] = []
    if inputs is not None:
        from collector.attribution import topology_from_settings

        try:
            replay_inputs = load_records_file(inputs, topology_from_settings(settings))
        except RecordError as exc:
            raise click.ClickException(str(exc)) from None
    path = store_path or settings.store.path
    try:
        store = Store(path, writer=True, retention_seconds=settings.store.retention_days * 86_400)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    recording = None if record is None else record.open("a", encoding="utf-8")
    exporter = SnapshotCollector()
    live = LiveAttributor(settings, store, settle_seconds=settle_seconds, record=recording,
                          replay_inputs=replay_inputs, publish=exporter.publish,
                          max_pending_windows=settings.store.max_pending_windows,
                          log=lambda m: click.echo(m, err=True))  # fmt: skip
    exporter.store_health = live.writer.health
    try:
        advisor = build_advisor(live, settings)
        asyncio.run(_serve(live, exporter, settings, listen or settings.api.listen, advisor))
    finally:
        store.close()
        if recording is not None:
            recording.close()
    sys.exit(0)
