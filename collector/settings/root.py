"""The settings file's root: every section, the cross-references between them, and loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar, overload

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from collector.models import ROLES
from collector.settings.agent import AgentSettings, AgentsSettings
from collector.settings.base import SettingsError, format_validation_errors, read_yaml
from collector.settings.carbon import CarbonSettings
from collector.settings.outputs import ApiSettings, StoreSettings
from collector.settings.placement import PlacementSettings
from collector.settings.sources import SourceSettings
from collector.settings.topology import (
    AppSettings,
    AppsKubernetes,
    NfSettings,
    ShareSettings,
    default_shares,
)
from collector.settings.web import WebSettings


class Settings(BaseSettings):
    """The whole file. Environment overrides use E2E_ENERGY_ and `__` between levels."""

    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, env_prefix="E2E_ENERGY_", env_nested_delimiter="__"
    )

    window_seconds: float = Field(15.0, gt=0)
    max_gap_seconds: float = Field(45.0, gt=0)
    agent: AgentSettings = AgentSettings()
    agents: AgentsSettings = AgentsSettings()
    sources: list[SourceSettings] = []
    carbon: CarbonSettings = CarbonSettings()
    nfs: list[NfSettings] = []
    apps: list[AppSettings] = []
    apps_kubernetes: AppsKubernetes | None = None
    shares: dict[str, ShareSettings] = Field(default_factory=default_shares)
    store: StoreSettings = StoreSettings()
    api: ApiSettings = ApiSettings()
    web: WebSettings = WebSettings()
    placement: PlacementSettings | None = None
    """Live placement advice from the store's measurements; off when unset."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _cross_references(self) -> Settings:
        names = [s.name for s in self.sources]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"sources: duplicate name(s) {sorted(dup)}")
        known = set(names) | {"agent"}
        for nf in self.nfs:
            for ref_name, ref in (
                ("power", nf.power),
                ("traffic_total", nf.traffic_total),
                ("requests", nf.requests),
                ("gauge", nf.gauge),
            ):
                if ref is not None and ref.source not in known:
                    raise ValueError(
                        f"nfs[{nf.name}].{ref_name}.source: no source named {ref.source!r}"
                    )
            if nf.zone is not None and self.carbon.zones and nf.zone not in self.carbon.zones:
                raise ValueError(f"nfs[{nf.name}].zone: no carbon zone named {nf.zone!r}")
        nf_names = [n.name for n in self.nfs]
        if len(set(nf_names)) != len(nf_names):
            raise ValueError("nfs: duplicate NF names")
        for role in self.shares:
            if role != "default" and role not in ROLES:
                raise ValueError(f"shares.{role}: not a role ({', '.join(ROLES)}, default)")
        if self.placement is not None:
            _check_placement(self.placement, set(nf_names), set(self.carbon.zones))
        if self.max_gap_seconds < self.window_seconds:
            raise ValueError("max_gap_seconds must be at least window_seconds")
        return self

    def share_for(self, role: str) -> ShareSettings:
        """The role's own entry, else the configured `default`, else the built-in per-role
        default (inference: requests/requests), so configuring one role keeps the others'."""
        return (
            self.shares.get(role)
            or self.shares.get("default")
            or default_shares().get(role)
            or ShareSettings()
        )


def _check_placement(p: PlacementSettings, nfs: set[str], zones: set[str]) -> None:
    """NF and zone names the placement section uses must exist (dataset names are checked when
    the advisor loads the dataset)."""
    for app, spec in p.apps.items():
        for nf in spec.inference_nfs:
            if nf not in nfs:
                raise ValueError(f"placement.apps.{app}.inference_nfs: no NF named {nf!r}")
    if p.transport is not None:
        for nf in p.transport.nfs:
            if nf not in nfs:
                raise ValueError(f"placement.transport.nfs: no NF named {nf!r}")
    for region, zone in p.carbon_zones.items():
        if zone not in zones:
            raise ValueError(f"placement.carbon_zones.{region}: no carbon zone named {zone!r}")


S = TypeVar("S", bound=Settings)


@overload
def parse_settings(data: dict[str, Any], origin: str = ...) -> Settings: ...
@overload
def parse_settings(data: dict[str, Any], origin: str, model: type[S]) -> S: ...
def parse_settings(
    data: dict[str, Any], origin: str = "<settings>", model: type[Settings] = Settings
) -> Settings:
    """Validate a parsed mapping; errors name `origin` (the file) and each dotted key.

    `model` is Settings or a subclass that adds a section of its own (the testbed's file)."""
    try:
        return model(**data)
    except ValidationError as exc:
        raise SettingsError(format_validation_errors(exc, origin)) from None


@overload
def load_settings(path: str | Path) -> Settings: ...
@overload
def load_settings(path: str | Path, model: type[S]) -> S: ...
def load_settings(path: str | Path, model: type[Settings] = Settings) -> Settings:
    """Read and validate a YAML settings file (as `model`: Settings or a subclass)."""
    p = Path(path)
    data = read_yaml(p, "settings file", SettingsError)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SettingsError(f"{p}: the top level must be a mapping, got {type(data).__name__}")
    return parse_settings(data, str(p), model)
