"""The `e2e-energy` command: wiring only. Each subcommand lives in collector/services/ (the
testbed's in the separate `testbed` package) and is imported on first use, so `e2e-energy --help`
stays fast and one stage's heavy imports (torch, scapy) never slow another. The collector never
imports the testbed: its commands are named here as strings only.
"""

from __future__ import annotations

import importlib
import sys

import click

from collector import __version__

# subcommand -> "module:attribute" of a click command or group
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "ioam": (
        "collector.services.ioam_cmd:ioam",
        "Decode IOAM options in pcap/pcapng files.",
    ),
    "agent": (
        "collector.services.agent_cmd:agent",
        "Capture IOAM traffic and count it per app and node.",
    ),
    "sources": (
        "collector.services.sources_cmd:sources",
        "Read power, traffic, request and carbon sources.",
    ),
    "attributor": (
        "collector.services.attributor_cmd:attributor",
        "Run the live attributor: metrics, API, store.",
    ),
    "replay": (
        "collector.services.replay_cmd:replay",
        "Attribute recorded inputs offline (JSON Lines).",
    ),
    "placement": (
        "collector.services.placement_cmd:placement",
        "Advise where inference should run.",
    ),
    "testbed": (
        "testbed.cli:testbed",
        "Set up or tear down the network-namespace testbed.",
    ),
    "demo": (
        "testbed.cli:demo",
        "Run the end-to-end demo on the testbed.",
    ),
}
OPTIONAL_PACKAGES = {
    "testbed": "the `testbed` package (part of a source checkout of e2e-energy: `make venv`)",
}
"""Top-level packages a subcommand may live in that an installation can lack."""
EXTRAS: dict[str, str] = {
    "ioam": "decode",
    "sources": "attributor",
    "attributor": "attributor",
    "replay": "attributor",
    "placement": "placement",
    "testbed": "testbed",
    "demo": "testbed",
}
"""The distribution's extra each subcommand needs beyond the core (the agent needs none): the
agent image has the core only, so there these commands say what to install instead of failing
with a traceback."""
IN_ATTRIBUTOR_IMAGE = ("attributor", "placement", "decode")


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked or listed in detail."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = SUBCOMMANDS.get(cmd_name)
        if spec is None:
            return None
        module_name, attr = spec[0].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if missing == module_name:
                return _unavailable(cmd_name, spec[1], "not available in this build yet")
            top = module_name.split(".")[0]
            if top in OPTIONAL_PACKAGES and (
                missing == top or module_name.startswith(missing + ".")
            ):
                return _unavailable(cmd_name, spec[1], f"needs {OPTIONAL_PACKAGES[top]}")
            if cmd_name in EXTRAS and missing and missing.split(".")[0] not in ("collector", top):
                extra = EXTRAS[cmd_name]
                why = (
                    f"needs the `{extra}` extra (module {missing!r} is missing): "
                    f"pip install 'e2e-energy-collector[{extra}]'"
                )
                if extra in IN_ATTRIBUTOR_IMAGE:
                    why += ", or use the attributor image"
                return _unavailable(cmd_name, spec[1], why)
            if top in OPTIONAL_PACKAGES:
                return _unavailable(
                    cmd_name, spec[1], f"needs the Python package {missing!r}, which is missing"
                )
            raise
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _unavailable(name: str, help_text: str, why: str) -> click.Command:
    @click.command(
        name=name,
        help=f"{help_text} (unavailable: {why})",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    def cmd() -> None:
        raise click.ClickException(f"`{name}` is unavailable here: it {why}")

    return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="e2e-energy")
def main() -> None:
    """End-to-end energy and CO2 of AI inference served over 5G and edge networks.

    The agent counts IOAM-tagged packets per application and network node; the attributor
    splits the power of every RU, DU, CU, UPF and inference server over applications and turns
    it into joules and grams CO2e per application and per request.
    """


if __name__ == "__main__":
    sys.exit(main())
