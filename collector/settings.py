"""The one typed settings tree (YAML file + environment), shaped like shared/settings-example.yaml.

Unknown keys are rejected with the dotted key and the file named. Only the CLI and services read
files and the environment; everything else receives the parsed tree explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from collector.models import Direction, EnergyBasis, Role, Signal


class SettingsError(ValueError):
    """A settings file could not be used; the message names the file and the key."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def read_secret(inline: str | None, file: Path | None, what: str) -> str | None:
    """Resolve a secret given inline (tests only) or through a `*_file` key (production)."""
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{what}: cannot read {file}: {exc.strerror}") from exc
    return inline


# --- agent ---------------------------------------------------------------------------------


class InterfaceSettings(Strict):
    name: str
    direction: Direction = "uplink"


class StaticTraceRule(Strict):
    """Maps packets to a TraceID by address/port when the carrier is `static`."""

    trace_id: int
    src: str | None = None
    dst: str | None = None
    dst_port: int | None = None
    src_port: int | None = None


class TraceIdCarrier(Strict):
    namespace_id: int = Field(ge=0, le=0xFFFF)
    carrier: Literal["dex_flow_id", "namespace", "flow_label", "static"] = "namespace"
    node_id_field: Literal["short", "wide"] = "short"
    """Where NodeIDs are read: trace-type bit 0 (24 bit, `short`) or bit 8 (56 bit, `wide`)."""
    static: list[StaticTraceRule] = []


class AgentSettings(Strict):
    listen: str = "0.0.0.0:9470"
    interfaces: list[InterfaceSettings] = []
    trace_ids: list[TraceIdCarrier] = []
    max_flows: int = Field(100_000, gt=0)
    """Hard cap on the flow table; the oldest idle entries are evicted past it (counted)."""
    max_trace_ids: int = Field(1000, gt=0)
    """Distinct TraceIDs kept as labels; more go to `other` (bounded cardinality)."""
    idle_timeout_seconds: float = Field(300.0, gt=0)
    workers: int = Field(1, ge=1, le=64)
    sample: int = Field(1, ge=1)
    """Count one packet in N and scale by N (marked by e2e_energy_agent_sampling_ratio)."""
    ring_block_size: int = Field(1 << 20, gt=0)
    ring_block_count: int = Field(64, gt=0)
    snaplen: int = Field(512, ge=128)
    k8s_node: str | None = None
    """Value of the k8s_node label; defaults to $NODE_NAME, else the host name."""
    promiscuous: bool = False


class AgentsKubernetes(Strict):
    namespace: str = "e2e-energy"
    service: str = "e2e-energy-agent"
    port: int = 9470


class AgentsSettings(Strict):
    urls: list[str] = []
    kubernetes: AgentsKubernetes | None = None
    timeout_seconds: float = Field(5.0, gt=0)


# --- sources -------------------------------------------------------------------------------


class SourceBase(Strict):
    name: str
    energy_basis: EnergyBasis = "measured"
    """`measured` (a meter) or `modelled` (an estimate); carried on every NF output."""
    timeout_seconds: float = Field(5.0, gt=0)
    """Whole-read deadline (s); past it the source is down for this poll, others unaffected."""
    interval_seconds: float = Field(5.0, gt=0)
    """How often the poller reads it (s)."""


class HttpAuth(Strict):
    username: str | None = None
    """HTTP Basic user name (with `password` / `password_file`)."""
    password: str | None = None
    """Inline password: tests only; use `password_file` in production."""
    password_file: Path | None = None
    """File holding the Basic password (a mounted Kubernetes Secret)."""
    token: str | None = None
    """Inline bearer token: tests only; use `token_file`."""
    token_file: Path | None = None
    """File holding a bearer token sent as `Authorization: Bearer`."""
    ca_file: Path | None = None
    """PEM bundle to verify the server's TLS certificate against."""
    insecure: bool = False
    """Skip TLS verification: explicit, never the default."""


class KeplerSource(SourceBase, HttpAuth):
    kind: Literal["kepler"]
    url: str
    """Kepler's /metrics URL (port 9102 up to 0.9, 28282 from 0.10)."""
    generation: Literal["auto", "0.9", "0.10"] = "auto"
    """Metric generation; `auto` detects it from the names in the response."""
    zone: str = "package"
    """Kepler >= 0.10 RAPL zone to read; zones overlap and are never summed."""
    include_gpu: bool = False
    """Also emit GPU energy per pod (samples labelled component=gpu)."""
    namespaces: list[str] = []
    """Only pods in these namespaces (empty = all)."""
    pods: list[str] = []
    """Only pods whose name matches one of these globs (empty = all)."""
    pod_labels: dict[str, str] = {}
    """Only pods carrying all these labels, looked up through the Kubernetes API."""


class DcgmSource(SourceBase, HttpAuth):
    kind: Literal["dcgm"]
    url: str
    """dcgm-exporter's /metrics URL (pod mapping on gives per-pod targets)."""


class SnmpSource(SourceBase):
    kind: Literal["snmp"]
    address: str
    """host:port of the agent (UDP; port 161 when omitted)."""
    version: Literal["2c", "3"] = "2c"
    community: str | None = None
    """v2c community inline (tests only); use `community_file`."""
    community_file: Path | None = None
    user: str | None = None
    """v3 USM user (authPriv)."""
    auth_protocol: Literal["SHA", "SHA256", "SHA512", "MD5"] = "SHA"
    auth_key: str | None = None
    auth_key_file: Path | None = None
    priv_protocol: Literal["AES", "AES192", "AES256", "DES"] = "AES"
    priv_key: str | None = None
    priv_key_file: Path | None = None
    profile: Literal[
        "apc_rpdu2_device",
        "apc_rpdu2_phase",
        "apc_rpdu2_outlet",
        "apc_ident",
        "raritan_inlet",
        "raritan_outlet",
        "sentry4_cord",
        "eaton_input",
        "eaton_outlet",
        "if_mib",
        "generic",
    ]
    timeout_seconds: float = Field(2.0, gt=0)
    """Per SNMP request try (s); the whole read may take (retries + 2) x this."""
    retries: int = Field(1, ge=0)
    oid: str | None = None
    """generic profile: the OID (a table column or a scalar)."""
    scale: float = 1.0
    """generic profile: multiply the raw value by this first."""
    unit: str | None = None
    """generic profile: the unit after scaling, e.g. W or kWh."""
    counter_width: float | None = None
    """generic profile: the counter's wrap width in raw units (e.g. 4294967296)."""
    link_header_bytes: int = Field(14, ge=0)
    """if_mib: link-layer header bytes per packet in ifHCInOctets (14 for Ethernet)."""

    @model_validator(mode="after")
    def _v3_needs_user(self) -> SnmpSource:
        if self.version == "3" and not self.user:
            raise ValueError("SNMP version 3 needs `user` (and auth/priv keys)")
        return self

    @model_validator(mode="after")
    def _generic_needs_oid(self) -> SnmpSource:
        if self.profile == "generic" and (self.oid is None or self.unit is None):
            raise ValueError("profile generic needs `oid` and `unit`")
        return self


class RedfishSource(SourceBase, HttpAuth):
    kind: Literal["redfish"]
    url: str
    """Base URL of the service, e.g. https://pdu.example (the /redfish/v1 root is appended)."""
    pdu: str | None = None
    """RackPDUs member Id; default: the first one listed."""
    follow_sensors: bool = True
    """Read each reading's DataSourceUri sensor (authoritative); the excerpt is the fallback."""


class ShellySource(SourceBase, HttpAuth):
    kind: Literal["shelly"]
    url: str
    switch_id: int = Field(0, ge=0)
    """Shelly Gen2 switch channel (`Switch.GetStatus?id=`)."""
    target: str = "0"
    """Target string on the samples (what an NF's power.target names)."""


class TasmotaSource(SourceBase, HttpAuth):
    kind: Literal["tasmota"]
    url: str
    target: str = "0"


class HttpJsonSource(SourceBase, HttpAuth):
    kind: Literal["http_json"]
    url: str
    power_path: str | None = None
    """Dotted path to a power reading, list indices as numbers (`data.readings.0.kw`)."""
    power_unit: str = "W"
    """W, kW, mW (collector.units)."""
    energy_path: str | None = None
    """Dotted path to a cumulative energy reading."""
    energy_unit: str = "Wh"
    """J, Wh, kWh, mJ ... (collector.units)."""
    target: str = "0"


class PrometheusCounterSource(SourceBase, HttpAuth):
    kind: Literal["prometheus_counter"]
    url: str
    metric: str
    """Counter name, e.g. vllm:request_success_total, tgi_request_success."""
    label: str
    """The label naming the model (vLLM model_name, Triton model)."""
    app_map: dict[str, str] = {}
    """label value -> app; unmapped values go to app `unknown`."""


SourceSettings = Annotated[
    KeplerSource
    | DcgmSource
    | SnmpSource
    | RedfishSource
    | ShellySource
    | TasmotaSource
    | HttpJsonSource
    | PrometheusCounterSource,
    Field(discriminator="kind"),
]


# --- carbon --------------------------------------------------------------------------------


class ProviderBase(Strict):
    ttl_seconds: float = Field(300.0, gt=0)
    """A fetched value is reused this long (s) before the provider is asked again."""
    max_age_seconds: float = Field(3600.0, gt=0)
    """A value older than this (s, by its own timestamp) is not used; the chain moves on."""
    timeout_seconds: float = Field(10.0, gt=0)
    backoff_seconds: float = Field(60.0, ge=0)
    """After a failure (429, 5xx, timeout) the provider is skipped this long (s), doubling
    on each further failure up to 16x; Retry-After wins when the server sends it."""


class StaticProvider(ProviderBase):
    kind: Literal["static"]
    grams_per_kwh: float = Field(ge=0)
    """Fixed intensity (gCO2e/kWh)."""
    signal: Signal = "average"


class ElectricityMapsProvider(ProviderBase):
    kind: Literal["electricitymaps"]
    zone: str
    """Electricity Maps zone code (DE, FR, US-CAL-CISO ...)."""
    token: str | None = None
    token_file: Path | None = None
    """File holding the API key, sent as the `auth-token` header."""
    url: str = "https://api.electricitymap.org"
    endpoint: Literal["latest", "history"] = "latest"
    """`history` reads the last 24 h and keeps every point (the window mean uses them)."""

    @property
    def signal(self) -> Signal:
        return "average"


class WattTimeProvider(ProviderBase):
    kind: Literal["watttime"]
    region: str
    """WattTime balancing-authority region (CAISO_NORTH ...)."""
    username: str | None = None
    password: str | None = None
    password_file: Path | None = None
    """File holding the WattTime password (HTTP Basic on /login)."""
    url: str = "https://api.watttime.org"
    endpoint: Literal["forecast", "historical"] = "forecast"
    """Where marginal grams come from (lbs_co2_per_mwh, converted in collector.units)."""
    signal_index: bool = False
    """Also read /v3/signal-index (a 0-100 percentile, exposed as an index, never grams)."""
    token_refresh_seconds: float = Field(1500.0, gt=0)
    """Log in again after this long (s); WattTime tokens expire after ~30 min."""

    @property
    def signal(self) -> Signal:
        return "marginal"


class UkCarbonProvider(ProviderBase):
    kind: Literal["uk"]
    url: str = "https://api.carbonintensity.org.uk"
    """GB national /intensity; `actual` when published, else `forecast`."""

    @property
    def signal(self) -> Signal:
        return "average"


class CsvProvider(ProviderBase):
    kind: Literal["csv"]
    path: Path
    """Rows `timestamp,grams_per_kwh` (unix seconds or ISO 8601), in time order."""
    signal: Signal = "average"
    max_age_seconds: float = Field(3600.0, gt=0)


ProviderSettings = Annotated[
    StaticProvider | ElectricityMapsProvider | WattTimeProvider | UkCarbonProvider | CsvProvider,
    Field(discriminator="kind"),
]


class ZoneSettings(Strict):
    providers: list[ProviderSettings] = Field(min_length=1)
    market_grams_per_kwh: float | None = Field(None, ge=0)
    """Market-based factor (renewable contracts), reported as carbon_basis="market"."""

    @model_validator(mode="after")
    def _one_signal(self) -> ZoneSettings:
        signals = {p.signal for p in self.providers}
        if len(signals) > 1:
            raise ValueError(
                "providers mix average and marginal signals; a zone's chain must be of one signal"
            )
        return self

    @property
    def signal(self) -> Signal:
        return self.providers[0].signal


class CarbonSettings(Strict):
    zones: dict[str, ZoneSettings] = {}


# --- topology ------------------------------------------------------------------------------


class PowerRef(Strict):
    source: str
    target: str | dict[str, str] = ""

    @field_validator("target", mode="before")
    @classmethod
    def _number_target(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v


class TrafficTotalRef(Strict):
    source: str
    target: str | None = None
    interfaces: list[str] = []
    link_header_bytes: int = Field(14, ge=0)

    @field_validator("target", mode="before")
    @classmethod
    def _number_target(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v


class RequestsRef(Strict):
    source: str


class IdleSettings(Strict):
    policy: Literal["fixed", "source", "rolling_min", "none"] = "none"
    """How static (idle) power is found: calibrated `watts`, Kepler <=0.9's mode=idle part,
    the lowest window mean over `horizon_seconds`, or none (Kepler >=0.10 pods: active only)."""
    watts: float | None = Field(None, ge=0)
    """fixed policy: the calibrated idle power (W)."""
    horizon_seconds: float = Field(86_400.0, gt=0)
    """rolling_min policy: how far back the lowest per-window mean power is looked for (s)."""

    @model_validator(mode="after")
    def _fixed_needs_watts(self) -> IdleSettings:
        if self.policy == "fixed" and self.watts is None:
            raise ValueError("idle policy fixed needs `watts`")
        return self


class NfSettings(Strict):
    name: str
    """The NF's name: the `nf` label and the key of replay records."""
    role: Role
    """ru | du | cu | upf | inference: picks the share keys and is the `role` label."""
    node_id: int | None = Field(None, ge=0)
    """The IOAM NodeID this NF stamps; omit for NFs that stamp nothing (e.g. inference)."""
    zone: str | None = None
    """Carbon zone (a key of carbon.zones); without one the NF's CO2 is always missing."""
    power: PowerRef | None = None
    """Where its energy comes from: a source name and that source's target."""
    traffic_total: TrafficTotalRef | None = None
    """Ingress totals (untagged traffic); without it the NF's denominator is tagged_only."""
    requests: RequestsRef | None = None
    """A requests source counting this NF's requests per app (else the app-level ones)."""
    idle: IdleSettings = IdleSettings()
    embodied_grams_per_hour: float = Field(0.0, ge=0)
    """Embodied emissions (g CO2e per hour) for SCI, shared like static energy."""
    counter_resolution_joules: float | None = None
    """One step of the energy counter (J) when the source does not declare it (APC: 360000)."""
    gauge: PowerRef | None = None
    """Optional power gauge used instead of a coarse energy counter (coarse-counter rule)."""


class TraceRef(Strict):
    namespace_id: int = Field(ge=0, le=0xFFFF)
    """IOAM Namespace-ID of the trace."""
    trace_id: int = Field(ge=0)
    """TraceID within that namespace (as the agent's carrier reads it)."""


class AppSettings(Strict):
    name: str
    """The `app` label; unknown TraceIDs go to app `unknown`."""
    traces: list[TraceRef] = []
    """The (namespace_id, trace_id) pairs of this application."""


class AppsKubernetes(Strict):
    annotation: str = "e2e-energy.io/trace-id"
    """Pod annotation `<namespace_id>:<trace_id>` (or a bare trace id); app = the pod's `app`
    label, else its name. Re-listed every 30 s; settings `apps` win."""
    namespace: str | None = None
    """Only pods in this namespace (default: all)."""


ShareKey = Literal["packets", "bytes", "requests", "equal"]


class ShareSettings(Strict):
    static: ShareKey = "packets"
    """Key that splits static (idle) energy."""
    dynamic: ShareKey = "bytes"
    """Key that splits dynamic energy; its per-direction amounts split directions."""


def _default_shares() -> dict[str, ShareSettings]:
    return {
        "default": ShareSettings(),
        "inference": ShareSettings(static="requests", dynamic="requests"),
    }


class StoreSettings(Strict):
    path: Path = Path("/var/lib/e2e-energy/store.sqlite")
    """SQLite file (WAL); one writer, so the attributor runs as one replica."""
    retention_days: float = Field(30.0, gt=0)
    """Per-window rows older than this are deleted; cumulative totals are kept."""


class ApiSettings(Strict):
    listen: str = "0.0.0.0:8080"
    """HOST:PORT of the query API and /metrics."""
    token: str | None = None
    """Bearer token inline (tests only); use token_file in production."""
    token_file: Path | None = None
    """File holding the bearer token for /v1; unset = no auth (the API is read-only)."""
    max_range_seconds: float = Field(31 * 86_400.0, gt=0)
    """Longest range one request may ask for (s); longer ranges get a 400."""
    page_size: int = Field(100, gt=0, le=10_000)
    """Largest (and default) `limit` of list endpoints."""


# --- testbed (the network-namespace 5G-like chain; testbed/topology.yaml) ------------------


class TestbedNode(Strict):
    """One network namespace of the chain, in chain order (UE first, inference server last)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9]{0,5}$")
    role: Literal["ue", "ru", "du", "cu", "upf", "inference"]
    nf: str | None = None
    """The NF (nfs[].name) this namespace is; None for the UE."""
    node_id: int | None = Field(None, ge=1, lt=1 << 24)
    """net.ipv6.ioam6_id of the namespace: the NodeID the kernel stamps (None: stamps nothing)."""


class TestbedLink(Strict):
    """A veth between two adjacent nodes; interfaces are named after the peer (`<peer>0`)."""

    a: str
    b: str
    subnet: str
    """An IPv6 ULA /64 (fd00::/8): a gets ::1, b gets ::2. Nothing is routed off the machine."""
    a_if_id: int = Field(ge=0, lt=1 << 16)
    b_if_id: int = Field(ge=0, lt=1 << 16)
    gtpu: bool = False
    """N3: user packets cross this link inside GTP-U (UDP 2152), by user-space processes."""


class TestbedGtpu(Strict):
    uplink_teid: int = Field(0x100, ge=0, lt=1 << 32)
    downlink_teid: int = Field(0x200, ge=0, lt=1 << 32)
    port: int = 2152
    tun_mtu: int = Field(1400, ge=1280)
    cu_tun_if_id: int = Field(31, ge=0, lt=1 << 16)
    upf_tun_if_id: int = Field(41, ge=0, lt=1 << 16)


class TestbedApp(Strict):
    """A UE application: its own IOAM namespace (the TraceID carrier) and server port."""

    app: str
    """apps[].name this traffic belongs to."""
    namespace_id: int = Field(ge=1, le=0xFFFE)
    port: int = Field(ge=1024, le=65535)
    rate_per_second: float = Field(gt=0)
    payload_bytes: int = Field(ge=0)
    """Opaque bytes sent with each request (stands in for an image)."""
    prompt_words: int = Field(ge=1)
    texts: int = Field(1, ge=1)
    """Sentences per request embedded by the model (more = heavier)."""


class RadioModel(Strict):
    """EARTH linear model (Auer et al. 2011): P = N_trx (P0 + delta_p P_out); no sleep mode."""

    n_trx: int = Field(4, ge=1)
    p0_watts: float = Field(6.8, ge=0)
    delta_p: float = Field(4.0, ge=0)
    p_max_watts: float = Field(0.13, gt=0)
    capacity_bits_per_second: float = Field(20e6, gt=0)
    """Throughput at full load (P_out = P_max)."""
    source: str = ""


class TrafficModel(Strict):
    """Kernel-forwarding NF: P = static + J/packet x pkt/s + J/byte x byte/s (Vishwanath et al.)."""

    static_watts: float = Field(ge=0)
    joules_per_packet: float = Field(ge=0)
    joules_per_byte: float = Field(ge=0)
    source: str = ""


class CpuModel(Strict):
    """User-space NF: P = static + watts_per_core x (CPU seconds per second of its processes)."""

    static_watts: float = Field(ge=0)
    watts_per_core: float = Field(gt=0)
    source: str = ""


class TestbedPower(Strict):
    radio: dict[str, RadioModel] = {}
    """node name -> model, served as an APC rPDU2 outlet by snmpd."""
    traffic: dict[str, TrafficModel] = {}
    cpu: dict[str, CpuModel] = {}
    """node name -> model; served in Kepler format (modelled)."""
    kepler_generation: Literal["0.9", "0.10"] = "0.10"
    pods: dict[str, str] = {}
    """node name -> "namespace/pod" in the Kepler output."""
    snmp_community: str = "testbed"
    outlets: dict[str, int] = {}
    """node name -> APC outlet index."""


class TestbedSettings(Strict):
    prefix: str = Field("e2tb", pattern=r"^[a-z][a-z0-9]{0,9}$")
    """Every namespace and root-side interface name starts with this (teardown scans for it)."""
    trace_slots: int = Field(6, ge=2, le=60)
    """Pre-allocated NodeID slots per packet (even: the Hop-by-Hop header is 8-octet aligned)."""
    datagram_bytes: int = Field(1200, ge=64, le=1300)
    nodes: list[TestbedNode] = Field(min_length=2)
    links: list[TestbedLink] = []
    gtpu: TestbedGtpu = TestbedGtpu()
    apps: list[TestbedApp] = []
    power: TestbedPower = TestbedPower()
    agent_nodes: dict[str, Direction] = {}
    """node name -> direction: where an agent captures (the node's interface towards the UE side
    for uplink at the server, towards the core for downlink at the UE)."""
    verify_capture: bool = True
    """Capture the CU-UPF (GTP-U) link for verification; never fed to the attributor."""

    @model_validator(mode="after")
    def _consistent(self) -> TestbedSettings:
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ValueError("testbed.nodes: duplicate names")
        for i, link in enumerate(self.links):
            if [link.a, link.b] != names[i : i + 2]:
                raise ValueError(f"testbed.links[{i}]: must join nodes {names[i : i + 2]} in order")
        if self.trace_slots % 2:
            raise ValueError("testbed.trace_slots must be even")
        ids = [a.namespace_id for a in self.apps]
        if len(set(ids)) != len(ids):
            raise ValueError("testbed.apps: each app needs its own namespace_id")
        return self

    def node(self, name: str) -> TestbedNode:
        return next(n for n in self.nodes if n.name == name)


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
    shares: dict[str, ShareSettings] = Field(default_factory=_default_shares)
    store: StoreSettings = StoreSettings()
    api: ApiSettings = ApiSettings()
    testbed: TestbedSettings | None = None

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
            if role != "default" and role not in ("ru", "du", "cu", "upf", "inference"):
                raise ValueError(f"shares.{role}: not a role (ru, du, cu, upf, inference, default)")
        if self.max_gap_seconds < self.window_seconds:
            raise ValueError("max_gap_seconds must be at least window_seconds")
        return self

    def share_for(self, role: str) -> ShareSettings:
        """The role's own entry, else the configured `default`, else the built-in per-role
        default (inference: requests/requests), so configuring one role keeps the others'."""
        return (
            self.shares.get(role)
            or self.shares.get("default")
            or _default_shares().get(role)
            or ShareSettings()
        )


def format_validation_errors(exc: ValidationError, origin: str) -> str:
    """One line per error: `origin: dotted.key: message` (`unknown key` for extra keys)."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{origin}: {key}: {msg}")
    return "\n".join(lines)


def parse_settings(data: dict[str, Any], origin: str = "<settings>") -> Settings:
    """Validate a parsed mapping; errors name `origin` (the file) and each dotted key."""
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise SettingsError(format_validation_errors(exc, origin)) from None


def load_settings(path: str | Path) -> Settings:
    """Read and validate a YAML settings file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"{p}: cannot read settings file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError(f"{p}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SettingsError(f"{p}: the top level must be a mapping, got {type(data).__name__}")
    return parse_settings(data, str(p))
