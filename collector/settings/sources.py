"""Power, traffic-total and request sources (`sources:`), one class per `kind`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from collector.models import EnergyBasis
from collector.settings.base import Secret, Strict
from collector.snmp_tables import SnmpProfile


class SourceBase(Strict):
    name: str
    energy_basis: EnergyBasis = "measured"
    """`measured` (a meter) or `modelled` (an estimate); carried on every NF output."""
    timeout_seconds: float = Field(5.0, gt=0)
    """One attempt's limit (s); the read's deadline is this x (retries + 1), past which the
    source is down for this poll, others unaffected."""
    retries: int = Field(0, ge=0)
    """Attempts after a timeout, a refused connection or an HTTP 5xx, within one read."""
    interval_seconds: float = Field(5.0, gt=0)
    """How often the poller reads it (s)."""
    max_response_bytes: int = Field(16 << 20, gt=0)
    """Largest answer accepted (bytes, after decompression); a larger or endless one is refused
    as `too_large` while it streams in, so a broken endpoint cannot exhaust memory."""


class HttpAuth(Strict):
    username: str | None = None
    """HTTP Basic user name (with `password` / `password_file`)."""
    password: Secret | None = None
    """Inline password: tests only; use `password_file` in production."""
    password_file: Path | None = None
    """File holding the Basic password (a mounted Kubernetes Secret)."""
    token: Secret | None = None
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
    community: Secret | None = None
    """v2c community inline (tests only); use `community_file`."""
    community_file: Path | None = None
    user: str | None = None
    """v3 USM user (authPriv)."""
    auth_protocol: Literal["SHA", "SHA256", "SHA512", "MD5"] = "SHA"
    auth_key: Secret | None = None
    auth_key_file: Path | None = None
    priv_protocol: Literal["AES", "AES192", "AES256", "DES"] = "AES"
    priv_key: Secret | None = None
    priv_key_file: Path | None = None
    profile: SnmpProfile
    """A name from collector/snmp_tables.py: a vendor table, `if_mib` or `generic`."""
    timeout_seconds: float = Field(2.0, gt=0)
    """Per SNMP request try (s); the whole read may take (retries + 2) x this."""
    retries: int = Field(1, ge=0)
    """SNMP retransmissions of each request (UDP), by the SNMP engine."""
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
