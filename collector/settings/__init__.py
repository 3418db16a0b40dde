"""The one typed settings tree (YAML file + environment), one module per stage.

Unknown keys are rejected with the dotted key and the file named. Only the CLI and services read
files and the environment; everything else receives the parsed tree explicitly. The names are
re-exported here, so `from collector.settings import X` works whatever module holds X.
"""

from collector.settings.agent import (
    AgentSettings,
    AgentsKubernetes,
    AgentsSettings,
    InterfaceSettings,
    StaticTraceRule,
    TraceIdCarrier,
)
from collector.settings.base import (
    REVEAL_SECRETS,
    Secret,
    SettingsError,
    Strict,
    format_validation_errors,
    read_secret,
    read_yaml,
)
from collector.settings.carbon import (
    CarbonSettings,
    CsvProvider,
    ElectricityMapsProvider,
    ProviderBase,
    ProviderSettings,
    StaticProvider,
    UkCarbonProvider,
    WattTimeProvider,
    ZoneSettings,
)
from collector.settings.outputs import (
    ApiSettings,
    StoreSettings,
)
from collector.settings.placement import (
    PlacementAppSettings,
    PlacementSettings,
    PlacementTransportSettings,
)
from collector.settings.root import (
    Settings,
    load_settings,
    parse_settings,
)
from collector.settings.sources import (
    DcgmSource,
    HttpAuth,
    HttpJsonSource,
    KeplerSource,
    PrometheusCounterSource,
    RedfishSource,
    ShellySource,
    SnmpSource,
    SourceBase,
    SourceSettings,
    TasmotaSource,
)
from collector.settings.topology import (
    AppSettings,
    AppsKubernetes,
    IdleSettings,
    NfSettings,
    PowerRef,
    RequestsRef,
    ShareSettings,
    TraceRef,
    TrafficTotalRef,
    default_shares,
)
from collector.settings.web import BasicAuthSettings, TlsServerSettings, WebSettings

__all__ = [
    "REVEAL_SECRETS",
    "AgentSettings",
    "AgentsKubernetes",
    "AgentsSettings",
    "ApiSettings",
    "AppSettings",
    "AppsKubernetes",
    "BasicAuthSettings",
    "CarbonSettings",
    "CsvProvider",
    "DcgmSource",
    "ElectricityMapsProvider",
    "HttpAuth",
    "HttpJsonSource",
    "IdleSettings",
    "InterfaceSettings",
    "KeplerSource",
    "NfSettings",
    "PlacementAppSettings",
    "PlacementSettings",
    "PlacementTransportSettings",
    "PowerRef",
    "PrometheusCounterSource",
    "ProviderBase",
    "ProviderSettings",
    "RedfishSource",
    "RequestsRef",
    "Secret",
    "Settings",
    "SettingsError",
    "ShareSettings",
    "ShellySource",
    "SnmpSource",
    "SourceBase",
    "SourceSettings",
    "StaticProvider",
    "StaticTraceRule",
    "StoreSettings",
    "Strict",
    "TasmotaSource",
    "TlsServerSettings",
    "TraceIdCarrier",
    "TraceRef",
    "TrafficTotalRef",
    "UkCarbonProvider",
    "WattTimeProvider",
    "WebSettings",
    "ZoneSettings",
    "default_shares",
    "format_validation_errors",
    "load_settings",
    "parse_settings",
    "read_secret",
    "read_yaml",
]
