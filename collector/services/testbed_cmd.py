"""`e2e-energy testbed up|down|status`: the network-namespace testbed by hand.

The testbed code lives in the top-level `testbed/` folder of a source checkout (it is a lab, not
part of the installed collector); this wiring finds it next to the `collector` package.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from collector.settings import Settings, SettingsError, load_settings

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "testbed" / "topology.yaml"


def use_testbed_package() -> None:
    """Make `import testbed` work from a source checkout (make demo installs in editable mode)."""
    if not (REPO / "testbed" / "__init__.py").exists():
        raise click.ClickException(
            f"no testbed/ folder next to the collector package ({REPO}): "
            "run from a source checkout of e2e-energy"
        )
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


def load_testbed_settings(config: Path) -> Settings:
    try:
        settings = load_settings(config)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    if settings.testbed is None:
        raise click.ClickException(f"{config}: testbed: missing (the topology section)")
    return settings


config_option = click.option(
    "--config",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="Topology file (settings format with a testbed: section).",
)
prefix_option = click.option("--prefix", default=None, help="Name prefix (default: the file's).")


@click.group()
def testbed() -> None:
    """Set up, inspect or tear down the namespace chain UE-RU-DU-CU=GTP-U=UPF-server."""


@testbed.command()
@config_option
@prefix_option
@click.option("--network-only", is_flag=True, help="Only the chain: no processes.")
@click.option("--run-dir", type=click.Path(path_type=Path), default=None)
def up(config: Path, prefix: str | None, network_only: bool, run_dir: Path | None) -> None:
    """Build the chain (idempotent) and start the data plane, model server and power sources."""
    settings = load_testbed_settings(config)
    use_testbed_package()
    from testbed import netns
    from testbed.plan import make_plan
    from testbed.runner import Testbed

    assert settings.testbed is not None
    reason = netns.unsupported_reason()
    if reason:
        raise click.ClickException(f"testbed unavailable: {reason}")
    plan = make_plan(settings.testbed, prefix)
    if network_only:
        netns.up(settings.testbed, plan)
        click.echo(f"testbed {plan.prefix}: {len(plan.namespaces)} namespaces up")
        return
    bed = Testbed(settings, run_dir or Path(f"/tmp/e2e-energy-testbed/{plan.prefix}"), prefix)
    bed.start()
    click.echo(json.dumps(bed.endpoints(), indent=2))
    click.echo(f"settings for the attributor: {bed.run_dir / 'topology.yaml'}")
    click.echo(f"stop with: e2e-energy testbed down --prefix {plan.prefix}")


@testbed.command()
@config_option
@prefix_option
def down(config: Path, prefix: str | None) -> None:
    """Stop the testbed's processes and remove its namespaces (also after a crash)."""
    settings = load_testbed_settings(config)
    use_testbed_package()
    from testbed import netns

    assert settings.testbed is not None
    removed = netns.down(prefix or settings.testbed.prefix)
    click.echo("\n".join(removed) if removed else "nothing to remove")


@testbed.command()
@config_option
@prefix_option
def status(config: Path, prefix: str | None) -> None:
    """Show the namespaces, root-side links and processes of the testbed."""
    settings = load_testbed_settings(config)
    use_testbed_package()
    from testbed import netns

    assert settings.testbed is not None
    click.echo(json.dumps(netns.status(prefix or settings.testbed.prefix), indent=2))
